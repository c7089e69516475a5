"""Properties of every plan, on random clusters (hypothesis): the safety invariants are in the plan's structure.

- no plan frees a node (out-of-service taint, force delete) or moves a pet off it unless gated on that
  node's own Fence step, which comes first;
- no plan deletes a claim whose PV is not set to Retain earlier in the same plan;
- every cross-zone target is a healthy zone, not the evacuated one, with a schedulable node;
- a claim let go can bind to one PV only, this move's: every other PV an earlier run left pre-bound to it is
  released first, and a snapshot an earlier run already restored into the target zone is not restored again;
- every pet of the zone is either planned or skipped with a reason, never both; step ids are unique;
- replaying a plan's steps through the executor performs nothing the second time.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.modes import Mode
from ferry.domain.rehoming.inventory import ClusterInventory, InstanceState
from ferry.domain.rehoming.planner import healthy_zones, plan_evacuation, schedulable_nodes
from ferry.domain.rehoming.plans import (
    FREEING_KINDS,
    ActionKind,
    Condition,
    CreatePersistentVolume,
    CreateVolume,
    DeleteClaim,
    Fence,
    Plan,
    ReleasePersistentVolume,
)
from ferry.domain.rehoming.policies import RehomePolicy
from ferry.executor.plans import PlanExecutor
from tests.unit.picking import VARIANTS, Picker
from tests.unit.rehoming_builders import NOW, ZONES, ClusterBuilder, request
from tests.unit.test_rehoming_executor import CountingEffects, MemoryAudit, MemoryJournal

POLICIES = ("snapshot", "snapshot", "fresh", "stay", None, "teleport")
STATUSES = (ZoneStatus.HEALTHY,) * 4 + tuple(ZoneStatus)  # mostly healthy: moves happen
VERSIONS = ((1, 27), (1, 28), (1, 31))
SNAPSHOT_AGES = (None, timedelta(minutes=3), timedelta(hours=3))


@st.composite
def clusters(draw: st.DrawFn) -> ClusterInventory:
    """A random cluster: one draw per zone, node, StatefulSet and pet (tests.unit.picking)."""
    pick = Picker(draw(VARIANTS))
    builder = ClusterBuilder(version=pick.one_of(VERSIONS))
    for zone in ZONES:
        shape = Picker(draw(VARIANTS))
        builder.zones[zone] = shape.one_of(STATUSES)
        for index in range(shape(4)):
            node = Picker(draw(VARIANTS))
            builder.node(
                f"{zone[-1]}-w{index}",
                zone,
                ready=node(4) > 0,
                state=node.one_of(list(InstanceState)),
                control_plane=node(5) == 0 and index == 0,
                instance="auto" if node(10) else None,
            )
    for name in ("db", "kv"):
        shape = Picker(draw(VARIANTS))
        builder.statefulset(name, rehome=shape.one_of(POLICIES), deleting=shape(10) == 0)
        for ordinal in range(shape(5)):
            pet = Picker(draw(VARIANTS))
            node = pet.one_of([*sorted(builder.nodes), None])
            ebs, bound = pet(10) > 0, pet(10) > 0
            builder.pet(
                ordinal,
                node,
                statefulset=name,
                zone=pet.one_of(ZONES),
                ebs=ebs,
                bound=bound,
                snapshot_age=pet.one_of(SNAPSHOT_AGES),
                described=pet(10) > 0,
                reclaim=pet.one_of(("Delete", "Retain")),
            )
            # What earlier runs of a move left (held by a budget, stopped half-way): PVs pre-bound to the claim.
            for run in range(pet(3) if ebs and bound else 0):
                builder.leftover(
                    ordinal,
                    pet.one_of(ZONES),
                    statefulset=name,
                    snapshot=pet.one_of((None, "snap-other")),
                    run=f"earlier-{run}",
                    state=pet.one_of(("available", "available", "in-use")),
                    described=pet(10) > 0,
                )
    return builder.build()


def evacuate(inventory: ClusterInventory, zone: str) -> Plan:
    return plan_evacuation(zone, [inventory], request(max_fences_per_run=4))


COMMON = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(inventory=clusters(), zone=st.sampled_from(ZONES))
def test_nothing_is_forced_off_a_node_before_its_fence_is_confirmed(inventory: ClusterInventory, zone: str) -> None:
    plan = evacuate(inventory, zone)
    for actions in [n.actions for n in plan.nodes] + [p.actions for p in plan.pets]:
        fences = {a.step_id: a for a in actions if isinstance(a, Fence)}
        for index, action in enumerate(actions):
            if action.kind in FREEING_KINDS:
                assert action.when is Condition.FENCED
            if action.when is not Condition.ALWAYS:
                fence = fences[action.gate or ""]
                assert actions.index(fence) < index
                node = getattr(action, "node", None)
                if node is not None:
                    assert node == fence.node


@COMMON
@given(inventory=clusters(), zone=st.sampled_from(ZONES))
def test_pets_on_a_fenced_node_move_only_once_it_is_fenced(inventory: ClusterInventory, zone: str) -> None:
    plan = evacuate(inventory, zone)
    for pet in plan.pets:
        if pet.node:  # it runs (or ran) somewhere: that node's fence gates every step of the pet
            fence = pet.actions[0]
            assert isinstance(fence, Fence) and fence.node == pet.node
            assert all(
                a.gate == fence.step_id for a in pet.actions if a.kind not in (ActionKind.FENCE, ActionKind.CORDON)
            )


@COMMON
@given(inventory=clusters(), zone=st.sampled_from(ZONES))
def test_no_claim_is_deleted_before_its_volume_is_retained(inventory: ClusterInventory, zone: str) -> None:
    plan = evacuate(inventory, zone)
    for pet in plan.pets:
        retained: set[str] = set()
        for action in pet.actions:
            if action.kind is ActionKind.RETAIN_PERSISTENT_VOLUME:
                retained.add(action.name)  # type: ignore[attr-defined]
            if action.kind is ActionKind.DELETE_CLAIM:
                assert action.volume_name in retained  # type: ignore[attr-defined]


@COMMON
@given(inventory=clusters(), zone=st.sampled_from(ZONES))
def test_a_repeated_move_leaves_each_claim_at_most_one_pv_to_bind_and_restores_a_snapshot_once(
    inventory: ClusterInventory, zone: str
) -> None:
    plan = evacuate(inventory, zone)
    for pet in plan.pets:
        released = {a.name for a in pet.actions if isinstance(a, ReleasePersistentVolume)}
        deleted = [a for a in pet.actions if isinstance(a, DeleteClaim)]
        for claim in deleted:
            leftovers = inventory.leftovers(pet.namespace, claim.name)
            made = {a.name for a in pet.actions if isinstance(a, CreatePersistentVolume) and a.claim_name == claim.name}
            bindable = ({v.name for v in leftovers} - released) | made
            # The claim's next incarnation binds to this move's PV or (fresh) is provisioned: nothing else.
            assert len(bindable) == (1 if pet.policy is RehomePolicy.SNAPSHOT else 0)
            releases = [a for a in pet.actions if isinstance(a, ReleasePersistentVolume)]
            assert all(pet.actions.index(a) < pet.actions.index(claim) for a in releases)
            create = next((a for a in pet.actions if isinstance(a, CreateVolume) and a.claim == claim.name), None)
            same = [
                v
                for v in leftovers
                if create is not None
                and v.zone == create.zone
                and (found := inventory.ebs_volumes.get(v.volume_id or "")) is not None
                and found.state == "available"
                and found.tags.get("ferry:restored-from") == create.snapshot_id
            ]
            # A snapshot already restored into the target zone for this pet is not restored a second time.
            assert create is None or create.reuse_volume_id == (same[0].volume_id if same else None)


@COMMON
@given(inventory=clusters(), zone=st.sampled_from(ZONES))
def test_targets_are_healthy_zones_with_capacity(inventory: ClusterInventory, zone: str) -> None:
    plan = evacuate(inventory, zone)
    capacity = schedulable_nodes(inventory)
    for pet in plan.pets:
        if pet.crosses_zones:
            assert pet.target_zone != zone
            assert pet.target_zone in healthy_zones(inventory)
            assert inventory.zone_status(pet.target_zone or "") is ZoneStatus.HEALTHY
            assert capacity[pet.target_zone or ""] > 0


@COMMON
@given(inventory=clusters(), zone=st.sampled_from(ZONES))
def test_every_pet_of_the_zone_is_planned_or_skipped_and_steps_are_unique(
    inventory: ClusterInventory, zone: str
) -> None:
    plan = evacuate(inventory, zone)
    planned = {p.subject for p in plan.pets}
    skipped = {s.subject for s in plan.skipped}
    assert not planned & skipped
    ids = [a.step_id for a in plan.steps()]
    assert len(ids) == len(set(ids))
    for pet in plan.pets:
        assert len({a.step_id for a in pet.actions}) == len(pet.actions)
    assert len(plan.nodes) <= 4


@settings(max_examples=60, deadline=None)
@given(inventory=clusters(), zone=st.sampled_from(ZONES), fenced=st.booleans())
def test_replaying_a_plan_performs_nothing_twice(inventory: ClusterInventory, zone: str, fenced: bool) -> None:
    plan = evacuate(inventory, zone)
    journal, effects = MemoryJournal(), CountingEffects(fenced=fenced)
    executor = PlanExecutor(
        Mode.ACT, journal=journal, audit=MemoryAudit(), owner="t", clock=lambda: NOW, sleep=lambda _: None
    )
    for actions in [n.actions for n in plan.nodes] + [p.actions for p in plan.pets]:
        executor.execute("run", actions, effects, dry_run=False, why="test")
    first = list(effects.performed)
    for actions in [n.actions for n in plan.nodes] + [p.actions for p in plan.pets]:
        executor.execute("run", actions, effects, dry_run=False, why="test")

    replayed = effects.performed[len(first) :]
    # Only a fence EC2 did not confirm is tried again (and, unconfirmed, it frees nothing).
    assert all(step.split("/")[1] in ("fence", "quarantine") for step in replayed)
    assert len(set(first)) == len(first) if fenced else True
    if fenced:
        assert replayed == []
