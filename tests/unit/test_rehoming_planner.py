"""The re-homing planner, rule by rule: what moves where, in which order, and what is left alone and why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.rehoming.inventory import InstanceState, ZoneSpread
from ferry.domain.rehoming.planner import plan_evacuation, plan_node, plan_rehome
from ferry.domain.rehoming.plans import (
    ActionKind,
    BindClaim,
    Condition,
    CreatePersistentVolume,
    CreateVolume,
    NodePlan,
    PetPlan,
    Plan,
    ReleasePersistentVolume,
    SkipReason,
    action_from_dict,
)
from ferry.domain.rehoming.policies import RehomePolicy
from tests.unit.rehoming_builders import ZONES, ClusterBuilder, request, three_pets

A, B, C = ZONES


def kinds(plan: PetPlan | NodePlan) -> list[str]:
    return [a.kind.value for a in plan.actions]


def only_pet(plan: Plan) -> PetPlan:
    assert len(plan.pets) == 1, plan.skipped
    return plan.pets[0]


# --- evacuation -----------------------------------------------------------------------------------------------


def test_zone_a_pet_moves_by_snapshot_to_the_healthy_zone_with_the_fewest_pets() -> None:
    plan = plan_evacuation(A, [three_pets().build()], request())

    pet = only_pet(plan)
    assert (pet.pod, pet.policy, pet.from_zone, pet.target_zone) == ("db-0", RehomePolicy.SNAPSHOT, A, B)
    assert kinds(pet) == [
        "fence", "cordon", "out-of-service", "quarantine",  # its node's steps, shared with the node plan
        "create-volume", "tag-old-volume", "create-pv", "retain-pv",
        "await-pod-released", "delete-pvc", "bind-pvc",
        "verify-running",
    ]  # fmt: skip
    assert [n.node for n in plan.nodes] == ["a-w0", "a-w1"]  # the node with a pet first
    assert plan.skipped == ()


def test_the_spread_decides_the_target_zone() -> None:
    builder = three_pets()
    builder.pet(3, "b-w1")  # zone b now holds two pets of db
    plan = plan_evacuation(A, [builder.build()], request())

    assert only_pet(plan).target_zone == C


def test_two_pets_leaving_one_zone_are_spread_over_the_others() -> None:
    builder = ClusterBuilder().standard().statefulset()
    builder.pet(0, "a-w0").pet(1, "a-w1").impaired(A).down(A)
    plan = plan_evacuation(A, [builder.build()], request())

    assert sorted(p.target_zone for p in plan.pets) == [B, C]


def test_pets_are_ordered_so_that_ordered_ready_statefulsets_do_not_serialize_the_run() -> None:
    builder = ClusterBuilder().standard(workers=4).statefulset("db").statefulset("kv")
    for name in ("db", "kv"):
        for ordinal in (0, 3, 6):
            builder.pet(ordinal, f"a-w{ordinal // 3}", statefulset=name)
    plan = plan_evacuation(A, [builder.impaired(A).down(A).build()], request())

    assert [p.pod for p in plan.pets] == ["db-0", "kv-0", "db-3", "kv-3", "db-6", "kv-6"]


def test_the_new_volume_is_shaped_like_the_old_one_from_the_newest_completed_snapshot() -> None:
    inventory = three_pets().build()
    pet = only_pet(plan_evacuation(A, [inventory], request()))
    create = next(a for a in pet.actions if isinstance(a, CreateVolume))
    old = inventory.ebs_volumes[pet.moves[0].old_volume or ""]

    newest = max(inventory.snapshots[old.volume_id], key=lambda s: s.started_at)
    assert create.snapshot_id == newest.snapshot_id == pet.moves[0].snapshot_id
    assert (create.zone, create.volume_type, create.size_gib, create.iops, create.throughput) == (
        B,
        "gp3",
        10,
        3000,
        125,
    )
    tags = dict(create.tags)
    assert tags["team"] == "shop" and tags["ferry:managed"] == "true" and tags["ferry:pet"] == "shop/data-db-0"
    assert len(create.client_token) <= 64
    pv = next(a for a in pet.actions if isinstance(a, CreatePersistentVolume))
    assert (pv.zone, pv.zone_key, pv.claim_name, pv.created_by) == (
        B,
        "topology.kubernetes.io/zone",
        "data-db-0",
        create.step_id,
    )


def test_every_pet_action_waits_for_its_node_fence() -> None:
    plan = plan_evacuation(A, [three_pets().build()], request())
    pet = only_pet(plan)
    fence = pet.actions[0]

    assert fence.kind is ActionKind.FENCE
    for action in pet.actions[1:]:
        if action.kind is ActionKind.CORDON:
            assert action.when is Condition.ALWAYS
        elif action.kind is ActionKind.QUARANTINE:
            assert (action.when, action.gate) == (Condition.NOT_FENCED, fence.step_id)
        else:
            assert (action.when, action.gate) == (Condition.FENCED, fence.step_id), action


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param("stay", ["fence", "cordon", "out-of-service", "quarantine"], id="stay-frees-only"),
        pytest.param(None, ["fence", "cordon", "out-of-service", "quarantine"], id="default-is-stay"),
        pytest.param(
            "fresh",
            ["fence", "cordon", "out-of-service", "quarantine", "retain-pv", "await-pod-released", "delete-pvc",
             "recreate-pvc", "verify-running"],
            id="fresh-reprovisions",
        ),
    ],
)  # fmt: skip
def test_policies(policy: str | None, expected: list[str]) -> None:
    builder = ClusterBuilder().standard().statefulset(rehome=policy).pet(0, "a-w0").impaired(A).down(A)
    pet = only_pet(plan_evacuation(A, [builder.build()], request()))

    assert kinds(pet) == expected


def test_old_servers_force_delete_pods_and_attachments_instead_of_the_taint() -> None:
    builder = three_pets()
    builder.version = (1, 27)
    plan = plan_evacuation(A, [builder.build()], request())

    assert kinds(plan.nodes[0]) == ["fence", "cordon", "force-delete-pods", "delete-volume-attachments", "quarantine"]


@pytest.mark.parametrize(
    ("options", "change", "reason"),
    [
        pytest.param({"ebs": False}, {}, SkipReason.NOT_EBS, id="volume-not-ebs"),
        pytest.param({"snapshot_age": None}, {}, SkipReason.NO_SNAPSHOT, id="no-snapshot"),
        pytest.param({"bound": False}, {}, SkipReason.CLAIM_NOT_BOUND, id="claim-not-bound"),
        pytest.param({"described": False}, {}, SkipReason.VOLUME_UNKNOWN, id="ec2-could-not-describe"),
        pytest.param({}, {"rehome": "teleport"}, SkipReason.UNKNOWN_POLICY, id="unknown-annotation"),
        pytest.param({}, {"deleting": True}, SkipReason.STATEFULSET_DELETING, id="statefulset-deleting"),
    ],
)
def test_a_pet_that_cannot_move_whole_is_skipped_with_its_reason(
    options: dict, change: dict, reason: SkipReason
) -> None:
    builder = ClusterBuilder().standard().statefulset(**change).pet(0, "a-w0", **options).impaired(A).down(A)
    plan = plan_evacuation(A, [builder.build()], request())

    assert plan.pets == ()
    assert [(s.subject, s.reason) for s in plan.skipped] == [("east-1/shop/db-0", reason)]
    assert [n.node for n in plan.nodes] == ["a-w0", "a-w1"]  # the nodes are still fenced: the identity is freed later


def test_no_healthy_zone_with_capacity_means_skip() -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "a-w0").impaired(A).down(A)
    builder.zones[B] = ZoneStatus.SUSPECT
    builder.down(C)
    plan = plan_evacuation(A, [builder.build()], request())

    assert [s.reason for s in plan.skipped] == [SkipReason.NO_TARGET_ZONE]


def test_targets_honour_the_pod_templates_zone_affinity() -> None:
    builder = ClusterBuilder().standard().statefulset(zones=frozenset({A, C})).pet(0, "a-w0").impaired(A).down(A)
    assert only_pet(plan_evacuation(A, [builder.build()], request())).target_zone == C


@pytest.mark.parametrize(
    ("spread", "moves"),
    [
        pytest.param(ZoneSpread(1, honor_taints=False), False, id="ignore-taints-counts-the-dead-zone"),
        pytest.param(ZoneSpread(1, honor_taints=True), True, id="honor-taints"),
        pytest.param(ZoneSpread(2, honor_taints=False), True, id="skew-2-leaves-room"),
    ],
)
def test_a_zone_spread_that_would_keep_the_pod_pending_is_a_skip(spread: ZoneSpread, moves: bool) -> None:
    builder = ClusterBuilder().standard().statefulset(spread=spread)
    for ordinal, zone in enumerate(ZONES):
        builder.pet(ordinal, f"{zone[-1]}-w0")
    plan = plan_evacuation(A, [builder.impaired(A).down(A).build()], request())

    assert bool(plan.pets) is moves
    if not moves:
        (skip,) = plan.skipped
        assert skip.reason is SkipReason.SPREAD_BLOCKS and "nodeTaintsPolicy" in skip.detail


def test_the_fence_budget_bounds_the_blast_radius() -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "a-w0").pet(1, "a-w1").impaired(A).down(A)
    plan = plan_evacuation(A, [builder.build()], request(max_fences_per_run=1))

    assert [n.node for n in plan.nodes] == ["a-w0"]
    assert [p.pod for p in plan.pets] == ["db-0"]
    reasons = {s.subject: s.reason for s in plan.skipped}
    assert reasons == {"east-1/node/a-w1": SkipReason.FENCE_LIMIT, "east-1/shop/db-1": SkipReason.NODE_NOT_FENCED}


def test_control_plane_nodes_and_nodes_without_an_instance_are_not_fenced() -> None:
    builder = ClusterBuilder().node("a-cp0", A, control_plane=True).node("a-bare", A, instance=None).standard(workers=1)
    plan = plan_evacuation(A, [builder.impaired(A).down(A).build()], request())

    assert {s.subject: s.reason for s in plan.skipped} == {
        "east-1/node/a-cp0": SkipReason.CONTROL_PLANE,
        "east-1/node/a-bare": SkipReason.NO_INSTANCE,
    }


def test_an_rpo_already_breached_is_said_in_the_plan() -> None:
    plan = plan_evacuation(A, [three_pets(snapshot_age=timedelta(hours=2)).build()], request())

    assert any("RPO breach" in w for w in only_pet(plan).warnings)


def test_planning_is_deterministic_and_step_ids_are_unique() -> None:
    first = plan_evacuation(A, [three_pets().build()], request())
    second = plan_evacuation(A, [three_pets().build()], request())

    assert first == second
    ids = [a.step_id for a in first.steps()]
    assert len(ids) == len(set(ids))
    assert all(len({a.step_id for a in p.actions}) == len(p.actions) for p in first.pets)


def test_plans_survive_the_journal_round_trip() -> None:
    plan = plan_evacuation(A, [three_pets().build()], request())
    pet, node = plan.pets[0], plan.nodes[0]

    assert PetPlan.from_dict(pet.to_dict()) == pet
    assert NodePlan.from_dict(node.to_dict()) == node
    assert all(action_from_dict(a.to_dict()) == a for a in plan.steps())


# --- one pet, one node ----------------------------------------------------------------------------------------


def test_a_pet_on_a_lost_node_in_a_healthy_zone_keeps_its_volume() -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "b-w0")
    builder.nodes["b-w0"] = builder.nodes["b-w0"].__class__("b-w0", B, builder.nodes["b-w0"].instance_id, False)
    plan = plan_rehome(builder.build(), "shop", "db", 0, request=request())

    pet = only_pet(plan)
    assert pet.target_zone == B
    assert kinds(pet) == ["fence", "cordon", "out-of-service", "quarantine", "await-pod-released", "verify-running"]
    assert not pet.crosses_zones


def test_a_pet_on_a_live_node_moves_through_the_eviction_api() -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "a-w0")
    pet = only_pet(plan_rehome(builder.build(), "shop", "db", 0, request=request(), target_zone=C))

    assert kinds(pet) == [
        "create-volume", "tag-old-volume", "create-pv", "retain-pv", "ask-eviction", "delete-pvc", "evict",
        "await-pod-released", "bind-pvc", "verify-running",
    ]  # fmt: skip
    # The budget is asked (dry run) before any claim is let go: a refused eviction leaves the pet untouched.
    assert kinds(pet).index("ask-eviction") < kinds(pet).index("delete-pvc")
    assert all(a.when is Condition.ALWAYS for a in pet.actions)


@pytest.mark.parametrize(
    ("target", "limits", "reason"),
    [
        pytest.param(None, {}, SkipReason.NOTHING_TO_DO, id="healthy-and-no-target"),
        pytest.param(C, {"max_evictions_per_run": 0}, SkipReason.EVICTION_LIMIT, id="evictions-disabled"),
    ],
)
def test_a_live_pet_is_left_alone_unless_asked_and_allowed(
    target: str | None, limits: dict, reason: SkipReason
) -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "a-w0")
    plan = plan_rehome(builder.build(), "shop", "db", 0, request=request(**limits), target_zone=target)

    assert plan.pets == () and [s.reason for s in plan.skipped] == [reason]


def test_a_target_zone_that_is_not_healthy_is_refused() -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "a-w0").impaired(C)
    plan = plan_rehome(builder.build(), "shop", "db", 0, request=request(), target_zone=C)

    assert [s.reason for s in plan.skipped] == [SkipReason.NO_TARGET_ZONE]


def test_fence_node_plans_the_node_only() -> None:
    plan = plan_node(three_pets().build(), "a-w0", request())

    assert [n.node for n in plan.nodes] == ["a-w0"] and plan.pets == ()


def test_an_unfenced_instance_still_gets_a_full_gated_plan() -> None:
    builder = three_pets()
    builder.down(A, InstanceState.RUNNING)
    plan = plan_evacuation(A, [builder.build()], request())

    assert kinds(plan.nodes[0]) == ["fence", "cordon", "out-of-service", "quarantine"]


# --- leftovers of an earlier run of the move ------------------------------------------------------------------


def pre_bound(plan: PetPlan, builder: ClusterBuilder, claim: str = "data-db-0") -> set[str]:
    """The PVs the claim's next incarnation could bind to once this plan ran: the leftovers it did not release,
    and the PV it creates."""
    released = {a.name for a in plan.actions if isinstance(a, ReleasePersistentVolume)}
    kept = {v.name for v in builder.build().leftovers("shop", claim)} - released
    return kept | {a.name for a in plan.actions if isinstance(a, CreatePersistentVolume)}


@pytest.mark.parametrize(
    ("leftover", "reused"),
    [
        pytest.param({}, True, id="same-snapshot-same-zone-reused"),
        pytest.param({"snapshot": "snap-older"}, False, id="another-snapshot-released"),
        pytest.param({"zone": B}, False, id="another-zone-released"),
        pytest.param({"state": "in-use"}, False, id="volume-attached-somewhere-released"),
        pytest.param({"described": False}, False, id="volume-ec2-cannot-describe-released"),
    ],
)
def test_a_repeated_move_reuses_the_pv_its_earlier_run_left_or_releases_it(leftover: dict, reused: bool) -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "a-w0")
    builder.leftover(0, **{"zone": C} | leftover)
    (left,) = builder.build().leftovers("shop", "data-db-0")
    pet = only_pet(plan_rehome(builder.build(), "shop", "db", 0, request=request(), target_zone=C))

    create = next(a for a in pet.actions if isinstance(a, CreateVolume))
    bind = next(a for a in pet.actions if isinstance(a, BindClaim))
    releases = [a for a in pet.actions if isinstance(a, ReleasePersistentVolume)]
    assert len(pre_bound(pet, builder)) == 1  # the claim can bind to one PV only: the one it is bound to next
    if reused:
        assert (create.reuse_volume_id, bind.volume_name) == (left.volume_id, left.name)
        assert releases == [] and kinds(pet).count("create-pv") == 1  # the existing PV, found as it is
        assert pet.warnings == ()
    else:
        assert create.reuse_volume_id is None and bind.volume_name != left.name
        assert [(r.name, r.volume_id) for r in releases] == [(left.name, left.volume_id)]
        # Released before the claim is let go; reported, with its volume, which is kept.
        assert kinds(pet).index("release-pv") < kinds(pet).index("delete-pvc")
        assert any(left.name in w and str(left.volume_id) in w and "kept" in w for w in pet.warnings)


@pytest.mark.parametrize(
    "leftover",
    [
        pytest.param({"claim_uid": "uid-bound"}, id="bound-to-a-claim-since"),
        pytest.param({"managed": False}, id="not-made-by-ferry"),
    ],
)
def test_pvs_that_are_not_ferrys_leftovers_are_left_alone(leftover: dict) -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "a-w0").leftover(0, C, **leftover)
    pet = only_pet(plan_rehome(builder.build(), "shop", "db", 0, request=request(), target_zone=C))

    assert "release-pv" not in kinds(pet)
    assert next(a for a in pet.actions if isinstance(a, CreateVolume)).reuse_volume_id is None


def test_of_several_leftovers_one_is_reused_and_the_others_released() -> None:
    builder = ClusterBuilder().standard().statefulset().pet(0, "a-w0")
    builder.leftover(0, C, run="first").leftover(0, C, run="second").leftover(0, B, run="third")
    plan = plan_evacuation(A, [builder.impaired(A).down(A).build()], request())
    pet = only_pet(plan)

    assert pet.target_zone in (B, C)
    assert kinds(pet).count("release-pv") == 2 and len(pre_bound(pet, builder)) == 1
    assert all(a.when is Condition.FENCED for a in pet.actions if isinstance(a, ReleasePersistentVolume))
