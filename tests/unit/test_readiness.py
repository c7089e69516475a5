"""Readiness: "if this zone failed now", per pet and per zone, from one snapshot (ferry.domain.readiness).

One small cluster per finding kind, named so that a failing id says which answer changed; then properties on
random clusters: the assessment agrees with the EvacuateZone plan for the same snapshot (same pets moved, same
targets, same skips), is deterministic, and grades a zone by its worst finding.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.errors import InputError
from ferry.domain.federation.apps import FederatedApp, Placement
from ferry.domain.readiness import (
    SEVERITY,
    FindingKind,
    Grade,
    Outcome,
    ZoneReadiness,
    as_if_lost,
    assess,
    assess_zone,
    summarize,
    worse,
)
from ferry.domain.readiness_inputs import Budget, Permissions, Resources, Rule, Surroundings, read_surroundings
from ferry.domain.rehoming.inventory import ClusterInventory, Instance, ZoneSpread
from ferry.domain.rehoming.planner import Request, plan_evacuation
from ferry.domain.rehoming.policies import RehomeLimits
from tests.unit.rehoming_builders import NOW, ZONES, ClusterBuilder
from tests.unit.test_rehoming_properties import clusters

A, B, C = ZONES


def one_pet(**pet: object) -> ClusterBuilder:
    """Two workers per zone, StatefulSet `db` (snapshot, max-rpo 15m), its pet db-0 on a-w0."""
    statefulset = {k: pet.pop(k) for k in ("rehome", "max_rpo", "spread", "zones") if k in pet}
    return ClusterBuilder().standard().statefulset(**statefulset).pet(0, "a-w0", **pet)  # type: ignore[arg-type]


def kinds(inventory: ClusterInventory, zone: str = A) -> dict[str, set[FindingKind]]:
    found: dict[str, set[FindingKind]] = {}
    for finding in assess_zone(zone, [inventory], NOW).findings:
        found.setdefault(finding.subject, set()).add(finding.kind)
    return found


# --- one finding kind each --------------------------------------------------------------------------------


def test_a_pet_with_a_recent_snapshot_moves_within_its_rpo_and_the_zone_is_ready() -> None:
    readiness = assess_zone(A, [one_pet(snapshot_age=timedelta(minutes=5)).build()], NOW)

    (pet,) = readiness.pets
    assert (pet.subject, pet.outcome, pet.target_zone) == ("east-1/shop/db-0", Outcome.MOVES, B)
    assert pet.data_loss == timedelta(minutes=5) and pet.max_rpo == timedelta(minutes=15)
    assert pet.snapshots and all(s.startswith("snap-") for s in pet.snapshots)
    assert (readiness.grade, readiness.findings) == (Grade.READY, ())


@pytest.mark.parametrize(
    "pet, subject, kind, grade",
    [
        pytest.param(
            {"snapshot_age": timedelta(hours=3)},
            "east-1/shop/db-0",
            FindingKind.RPO_EXCEEDED,
            Grade.AT_RISK,
            id="snapshot-older-than-max-rpo",
        ),
        pytest.param(
            {"snapshot_age": None}, "east-1/shop/db-0", FindingKind.NO_SNAPSHOT, Grade.NOT_READY, id="no-snapshot"
        ),
        pytest.param({"rehome": "stay"}, "east-1/shop/db-0", FindingKind.STAYS_DOWN, Grade.AT_RISK, id="stay-policy"),
        pytest.param(
            {"rehome": "teleport"}, "east-1/shop/db-0", FindingKind.CANNOT_MOVE, Grade.NOT_READY, id="unknown-policy"
        ),
        pytest.param(
            {"max_rpo": "soon"},
            "east-1/shop/db-0",
            FindingKind.UNKNOWN_ANNOTATION,
            Grade.AT_RISK,
            id="unreadable-max-rpo",
        ),
        pytest.param(
            {"zones": frozenset({A})},
            "east-1/shop/db-0",
            FindingKind.CANNOT_MOVE,
            Grade.NOT_READY,
            id="node-affinity-allows-no-other-zone",
        ),
        pytest.param({"ebs": False}, "east-1/shop/db-0", FindingKind.CANNOT_MOVE, Grade.NOT_READY, id="volume-not-ebs"),
    ],
)
def test_each_finding_kind_is_named_for_its_pet_and_grades_the_zone(
    pet: dict[str, object], subject: str, kind: FindingKind, grade: Grade
) -> None:
    readiness = assess_zone(A, [one_pet(**pet).build()], NOW)

    assert kind in {f.kind for f in readiness.findings if f.subject == subject}
    assert readiness.grade is grade


def test_a_node_ferry_cannot_fence_is_named_and_its_pet_cannot_move() -> None:
    builder = ClusterBuilder().standard().statefulset()
    builder.node("a-w9", A, instance=None)
    inventory = builder.pet(0, "a-w9").build()

    found = kinds(inventory)

    assert found["east-1/node/a-w9"] == {FindingKind.NOT_FENCEABLE}
    assert found["east-1/shop/db-0"] == {FindingKind.CANNOT_MOVE}
    assert assess_zone(A, [inventory], NOW).grade is Grade.NOT_READY


def test_no_healthy_zone_with_a_schedulable_node_leaves_the_pet_down() -> None:
    builder = one_pet()
    builder.zones[B] = builder.zones[C] = ZoneStatus.IMPAIRED

    assert kinds(builder.build())["east-1/shop/db-0"] == {FindingKind.CANNOT_MOVE}


def test_control_plane_nodes_are_not_findings() -> None:
    builder = one_pet()
    builder.node("a-cp", A, control_plane=True)

    assert "east-1/node/a-cp" not in kinds(builder.build())


def test_nodes_beyond_one_runs_fence_budget_are_at_risk_not_lost() -> None:
    builder = ClusterBuilder().statefulset()
    for index in range(3):
        builder.node(f"a-w{index}", A)
    builder.node("b-w0", B).node("c-w0", C)
    for index in range(3):
        builder.pet(index, f"a-w{index}")
    inventory = builder.build()

    readiness = assess_zone(A, [inventory], NOW, limits=RehomeLimits(max_fences_per_run=2))

    (waiting,) = [p for p in readiness.pets if p.outcome is Outcome.SKIPPED]
    assert {f.kind for f in readiness.findings if f.subject in (waiting.subject, "east-1/node/a-w2")} == {
        FindingKind.FENCE_LIMIT
    }
    assert readiness.grade is Grade.AT_RISK
    assert assess_zone(A, [inventory], NOW).grade is Grade.READY  # the default budget (50) fences all three


def test_an_unreachable_cluster_is_a_finding_and_the_rest_is_assessed() -> None:
    readiness = assess_zone(A, [one_pet().build()], NOW, unreachable=["east-2"])

    assert [(f.kind, f.subject) for f in readiness.findings] == [(FindingKind.UNREACHABLE, "east-2")]
    assert [p.outcome for p in readiness.pets] == [Outcome.MOVES]
    assert readiness.grade is Grade.NOT_READY


def test_a_pet_of_another_zone_is_not_in_this_zones_answer() -> None:
    inventory = ClusterBuilder().standard().statefulset().pet(0, "b-w0").build()

    assert assess_zone(A, [inventory], NOW).pets == ()
    assert [p.subject for p in assess_zone(B, [inventory], NOW).pets] == ["east-1/shop/db-0"]


def test_fresh_pets_come_back_empty_with_no_data_loss_to_measure() -> None:
    (pet,) = assess_zone(A, [one_pet(rehome="fresh").build()], NOW).pets

    assert (pet.outcome, pet.data_loss, pet.snapshots) == (Outcome.FRESH, None, ())


def test_zones_are_assessed_one_at_a_time_and_an_unknown_zone_is_named() -> None:
    inventory = ClusterBuilder().standard().statefulset().pet(0, "a-w0").pet(1, "b-w0").build()

    assert [r.zone for r in assess([A, B], [inventory], NOW)] == [A, B]
    with pytest.raises(InputError, match="us-west-2a"):
        assess(["us-west-2a"], [inventory], NOW)


# --- what only readiness reads: room, budgets, instance tags, permissions, federated apps ---------------------

GI = 2**30
ROOMY = Resources(1930, 7 * GI)


def around(inventory: ClusterInventory, **fields: object) -> dict[str, Surroundings]:
    """Every node of the cluster with `ROOMY` allocatable and nothing running, db-0 requesting 500m and 1Gi."""
    base: dict[str, object] = {
        "allocatable": dict.fromkeys(inventory.nodes, ROOMY),
        "requests": {"shop/db-0": Resources(500, GI)},
        "labels": {f"shop/{p.name}": {"app": p.statefulset} for p in inventory.pods},
    }
    return {inventory.cluster: Surroundings(inventory.cluster, **(base | fields))}  # type: ignore[arg-type]


def full(inventory: ClusterInventory, *zones: str) -> dict[str, Resources]:
    return {name: ROOMY for name, node in inventory.nodes.items() if node.zone in zones}


def tagged(inventory: ClusterInventory, tags: dict[str, str]) -> ClusterInventory:
    instances = {i: Instance(x.instance_id, x.zone, x.state, tags=tags) for i, x in inventory.instances.items()}
    return replace(inventory, instances=instances)


EVERYTHING = Permissions((Rule(("*",), ("*",), ("*",)), Rule(("*",), urls=("*",))))


@pytest.mark.parametrize(
    "extras, subject, kind",
    [
        pytest.param(
            lambda i: around(i, used=full(i, B)),
            "east-1/shop/db-0",
            FindingKind.NO_CAPACITY,
            id="target-zone-full-of-requests",
        ),
        pytest.param(
            lambda i: around(i, used=full(i, B, C)),
            "east-1/shop/db-0",
            FindingKind.NO_CAPACITY,
            id="every-healthy-zone-full",
        ),
        pytest.param(
            lambda i: around(i, budgets=(Budget("shop", "db", {"app": "db"}, max_unavailable="0"),)),
            "east-1/shop/pdb/db",
            FindingKind.EVICTIONS_REFUSED,
            id="pdb-max-unavailable-0",
        ),
        pytest.param(
            lambda i: around(i, budgets=(Budget("shop", "db", {"app": "db"}, min_available="1"),)),
            "east-1/shop/pdb/db",
            FindingKind.EVICTIONS_REFUSED,
            id="pdb-min-available-equals-replicas",
        ),
        pytest.param(
            lambda i: around(i, budgets=(Budget("shop", "db", {"app": "db"}, min_available="100%"),)),
            "east-1/shop/pdb/db",
            FindingKind.EVICTIONS_REFUSED,
            id="pdb-min-available-100-percent",
        ),
        pytest.param(
            lambda i: around(i, permissions=Permissions((Rule(("get", "list"), ("",), ("nodes", "pods")),))),
            "east-1",
            FindingKind.MISSING_PERMISSION,
            id="rbac-lacks-runbook-permissions",
        ),
        pytest.param(
            lambda i: around(i, permissions=Permissions((), incomplete=True, error="webhook authorizer")),
            "east-1",
            FindingKind.PERMISSIONS_UNLISTED,
            id="rbac-review-incomplete",
        ),
    ],
)
def test_each_surrounding_finding_is_named_for_its_subject_and_grades_the_zone(
    extras: object, subject: str, kind: FindingKind
) -> None:
    inventory = one_pet().build()

    readiness = assess_zone(A, [inventory], NOW, surroundings=extras(inventory))  # type: ignore[operator]

    assert kind in {f.kind for f in readiness.findings if f.subject == subject}
    assert readiness.grade is SEVERITY[kind]
    assert [p.outcome for p in readiness.pets] == [Outcome.MOVES]  # the plan's answer is the plan's, whatever else


def test_room_everywhere_all_permissions_and_a_tolerant_budget_leave_the_zone_ready() -> None:
    inventory = tagged(one_pet().build(), {"ferry:cluster": "east-1"})
    budget = Budget("shop", "db", {"app": "db"}, max_unavailable="1")

    readiness = assess_zone(
        A, [inventory], NOW, surroundings=around(inventory, budgets=(budget,), permissions=EVERYTHING)
    )

    assert (readiness.grade, readiness.findings) == (Grade.READY, ())


def test_the_capacity_check_places_pets_one_after_another_in_plan_order() -> None:
    builder = ClusterBuilder().statefulset()
    builder.node("a-w0", A).node("a-w1", A).node("b-w0", B)
    inventory = builder.pet(0, "a-w0").pet(1, "a-w1").build()
    requests = {"shop/db-0": Resources(1000, GI), "shop/db-1": Resources(1000, GI)}

    readiness = assess_zone(A, [inventory], NOW, surroundings=around(inventory, requests=requests))

    assert [f.subject for f in readiness.findings if f.kind is FindingKind.NO_CAPACITY] == ["east-1/shop/db-1"]


def test_a_node_whose_instance_lacks_the_cluster_tag_cannot_be_fenced() -> None:
    inventory = tagged(one_pet().build(), {"kubernetes.io/cluster/east-1": "owned"})

    found = kinds(inventory)

    assert found["east-1/node/a-w0"] == {FindingKind.UNTAGGED_INSTANCE}
    assert assess_zone(A, [inventory], NOW).grade is Grade.NOT_READY


def test_a_spread_that_keeps_the_moved_pet_pending_is_named() -> None:
    inventory = one_pet(spread=ZoneSpread(max_skew=1)).pet(1, "b-w0").pet(2, "c-w0").build()

    assert kinds(inventory)["east-1/shop/db-0"] == {FindingKind.SPREAD_BLOCKS}


def test_a_federated_app_keeps_gains_and_falls_short_by_the_federations_distribution() -> None:
    east1, east2 = one_pet().build(), replace(ClusterBuilder(name="east-2").standard().build())
    roomy = FederatedApp("shop", "web", 6, (Placement("*", weight=1),))
    capped = FederatedApp("shop", "api", 6, (Placement("east-1", max=2), Placement("east-2", max=3)))

    readiness = assess_zone(A, [east1, east2], NOW, apps=[roomy, capped])

    web, api = sorted(readiness.apps, key=lambda a: a.app != "shop/web")
    assert (dict(web.before), dict(web.after), web.shortfall) == (
        {"east-1": 3, "east-2": 3},
        {"east-1": 3, "east-2": 3},
        0,
    )
    assert (dict(api.before), api.shortfall) == ({"east-1": 2, "east-2": 3}, 1)
    assert api.kept() == {"east-1": 2, "east-2": 3} and api.gained() == {}
    assert [(f.kind, f.subject) for f in readiness.findings] == [(FindingKind.APP_SHORT, "app/shop/api")]
    assert readiness.grade is Grade.AT_RISK


def test_an_app_loses_an_unreachable_member_and_the_survivor_gains_its_share() -> None:
    app = FederatedApp("shop", "web", 6, (Placement("*", weight=1),))

    (outcome,) = assess_zone(A, [one_pet().build()], NOW, unreachable=["east-2"], apps=[app]).apps

    assert dict(outcome.after) == {"east-1": 6, "east-2": 0}
    assert outcome.gained() == {} and outcome.kept() == {"east-1": 6, "east-2": 0}


def test_surroundings_are_read_from_the_apis_json() -> None:
    node = {"metadata": {"name": "b-w0"}, "status": {"allocatable": {"cpu": "1930m", "memory": "7244064Ki"}}}
    pet = {
        "metadata": {
            "namespace": "shop",
            "name": "db-0",
            "labels": {"app": "db", "statefulset.kubernetes.io/pod-name": "db-0"},
        },
        "spec": {
            "nodeName": "b-w0",
            "containers": [{"resources": {"requests": {"cpu": "250m", "memory": "512Mi"}}}, {"resources": {}}],
            "initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "64Mi"}}}],
        },
        "status": {"phase": "Running"},
    }
    done = {
        "metadata": {"name": "job"},
        "spec": {"nodeName": "b-w0", "containers": [{"resources": {"requests": {"cpu": "1"}}}]},
        "status": {"phase": "Succeeded"},
    }
    budget = {
        "metadata": {"namespace": "shop", "name": "db"},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "db"}}},
    }
    review = {
        "status": {
            "resourceRules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}],
            "incomplete": False,
        }
    }

    read = read_surroundings("east-1", [node], [pet, done], [budget], review)

    assert read.allocatable["b-w0"] == Resources(1930, 7244064 * 1024)
    assert read.requests["shop/db-0"] == read.used["b-w0"] == Resources(1000, 512 * 2**20)
    assert read.budgets[0].refuses_every_eviction(3) == "maxUnavailable: 0"
    assert read.permissions is not None and len(read.permissions.missing()) > 0


def test_a_worse_grade_than_the_last_kept_one_is_news_and_so_is_a_first_one_short_of_ready() -> None:
    assert worse(Grade.AT_RISK, Grade.READY) and worse(Grade.NOT_READY, Grade.AT_RISK)
    assert not worse(Grade.READY, Grade.AT_RISK) and not worse(Grade.AT_RISK, Grade.AT_RISK)
    assert worse(Grade.NOT_READY, None) and worse(Grade.AT_RISK, None) and not worse(Grade.READY, None)


def test_the_report_reads_as_text_and_round_trips_as_json() -> None:
    inventory = one_pet(snapshot_age=timedelta(hours=3)).build()
    readiness = assess_zone(A, [inventory], NOW)

    text = summarize(readiness)

    assert text.startswith(f"{A}: at-risk (1 rpo-exceeded)")
    assert "east-1/shop/db-0: moves to us-east-1b" in text and "data lost up to 10800s (max-rpo 900s)" in text
    assert ZoneReadiness.from_dict(readiness.to_dict()) == readiness


# --- properties --------------------------------------------------------------------------------------------


COMMON = settings(max_examples=200, deadline=None)


@COMMON
@given(clusters(), st.sampled_from(ZONES))
def test_the_assessment_agrees_with_evacuate_zones_plan_for_the_same_snapshot(
    inventory: ClusterInventory, zone: str
) -> None:
    plan = plan_evacuation(zone, [as_if_lost(zone, inventory)], Request("readiness", NOW))

    readiness = assess_zone(zone, [inventory], NOW)

    moved = {p.subject: p.target_zone for p in readiness.pets if p.outcome in (Outcome.MOVES, Outcome.FRESH)}
    planned = {p.subject: p.target_zone for p in plan.pets if p.target_zone != p.from_zone}
    assert moved == planned
    assert {p.subject for p in readiness.pets if p.outcome is Outcome.SKIPPED} == {
        s.subject for s in plan.skipped if "/node/" not in s.subject
    }


@COMMON
@given(clusters(), st.sampled_from(ZONES), st.integers(0, 2000), st.integers(0, 4))
def test_one_snapshot_gives_one_answer_graded_by_its_worst_finding(
    inventory: ClusterInventory, zone: str, cpu: int, busy: int
) -> None:
    """With room read too (each pet requesting `cpu` millicores, every node already holding `busy` such pods)."""
    request = Resources(cpu, cpu * 2**20)
    extras = around(
        inventory,
        requests={f"{p.namespace}/{p.name}": request for p in inventory.pods},
        used={name: Resources(cpu * busy, cpu * busy * 2**20) for name in inventory.nodes},
    )
    first = assess_zone(zone, [inventory], NOW, surroundings=extras)
    again = assess_zone(zone, [inventory], NOW, surroundings=extras)

    assert first == again
    worst = max((SEVERITY[f.kind] for f in first.findings), key=list(Grade).index, default=Grade.READY)
    assert first.grade is worst
    assert first.grade is Grade.READY or first.findings
    assert len({p.subject for p in first.pets}) == len(first.pets)
    # Room never changes where the plan sends a pet: it only says whether the pet would run there.
    assert [(p.subject, p.outcome, p.target_zone) for p in first.pets] == [
        (p.subject, p.outcome, p.target_zone) for p in assess_zone(zone, [inventory], NOW).pets
    ]
