"""FailbackZone's decisions and its node step: what is given back (only what Ferry did, by its marks), what is
planned per node and pet, and what a relapse leaves (no node of the zone schedulable), each by name, with
hypothesis for the two safety properties. The node step runs the real adapter's read-modify-write against an
in-memory API (resourceVersion, 409, JSON merge patch) and the real effects."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferry.adapters.kube_writes import KubeWriter
from ferry.domain.conventions import CORDON_MARK, OUT_OF_SERVICE_MARK
from ferry.domain.errors import Conflict
from ferry.domain.rehoming import failback, reports
from ferry.domain.rehoming.inventory import (
    OUT_OF_SERVICE_TAINT,
    QUARANTINE_TAINT,
    Claim,
    ClusterInventory,
    Node,
    PersistentVolume,
    Pod,
    Taint,
)
from ferry.domain.rehoming.plans import Cordon, LiftNode, NodePlan, SkipReason
from ferry.executor.effects import ClusterEffects

A, B = "us-east-1a", "us-east-1b"
NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
OOS = {"key": OUT_OF_SERVICE_TAINT, "value": "nodeshutdown", "effect": "NoExecute"}
QUARANTINE = {"key": QUARANTINE_TAINT, "value": "true", "effect": "NoSchedule"}
PERSONS = {"key": "example.com/maintenance", "value": "disk", "effect": "NoSchedule"}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def node(
    *, cordoned: bool = False, taints: tuple[dict[str, str], ...] = (), marks: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "metadata": {"name": "n", "resourceVersion": "1", "annotations": dict.fromkeys(marks, "true")},
        "spec": {**({"unschedulable": True} if cordoned else {}), "taints": [dict(t) for t in taints]},
    }


# --- what is given back -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "taints", "uncordon", "kept_cordon"),
    [
        pytest.param(node(cordoned=True, marks=(CORDON_MARK,)), (), True, False, id="ferrys-cordon-lifted"),
        pytest.param(node(cordoned=True), (), False, True, id="a-persons-cordon-stays"),
        pytest.param(
            node(cordoned=True, taints=(OOS,), marks=(CORDON_MARK, OUT_OF_SERVICE_MARK)),
            (OUT_OF_SERVICE_TAINT,),
            True,
            False,
            id="ferrys-fence-lifted",
        ),
        pytest.param(node(taints=(OOS,)), (), False, False, id="a-persons-out-of-service-taint-stays"),
        pytest.param(node(taints=(QUARANTINE,)), (QUARANTINE_TAINT,), False, False, id="quarantine-is-ferrys-key"),
        pytest.param(
            node(cordoned=True, taints=(PERSONS, OOS), marks=(CORDON_MARK, OUT_OF_SERVICE_MARK)),
            (OUT_OF_SERVICE_TAINT,),
            True,
            False,
            id="a-persons-taint-stays-beside-ferrys",
        ),
        pytest.param(node(marks=(CORDON_MARK,)), (), False, False, id="a-mark-without-its-cordon-lifts-nothing"),
    ],
)
def test_only_what_ferry_marked_is_given_back(
    before: dict[str, Any], taints: tuple[str, ...], uncordon: bool, kept_cordon: bool
) -> None:
    lift = failback.lift_of(before)

    assert (lift.taints, lift.uncordon, lift.kept_cordon) == (taints, uncordon, kept_cordon)
    after = merge(before, failback.lift_change(before) or {})
    assert not (after["metadata"]["annotations"].keys() & {CORDON_MARK, OUT_OF_SERVICE_MARK})
    assert bool(after["spec"].get("unschedulable")) is (bool(before["spec"].get("unschedulable")) and not uncordon)


def test_ferrys_cordon_and_fence_carry_their_marks_and_a_cordoned_node_gets_none() -> None:
    cordoned = merge(node(), failback.cordon_change(node()) or {})
    tainted = merge(node(), failback.marked_taint_change(node(), OOS, OUT_OF_SERVICE_MARK) or {})

    assert cordoned["spec"]["unschedulable"] and CORDON_MARK in cordoned["metadata"]["annotations"]
    assert tainted["spec"]["taints"] == [OOS] and OUT_OF_SERVICE_MARK in tainted["metadata"]["annotations"]
    assert failback.cordon_change(node(cordoned=True)) is None  # someone's: Ferry leaves it unmarked
    assert failback.marked_taint_change(node(taints=(OOS,)), OOS, OUT_OF_SERVICE_MARK) is None


# --- the plan ---------------------------------------------------------------------------------------------------


def inventory(*nodes: Node, pods: tuple[Pod, ...] = (), claims=(), volumes=()) -> ClusterInventory:
    return ClusterInventory(
        cluster="east-1",
        server_version=(1, 30),
        nodes={n.name: n for n in nodes},
        pods=pods,
        claims={f"{c.namespace}/{c.name}": c for c in claims},
        volumes={v.name: v for v in volumes},
    )


def worker(name: str, *, ready: bool = True, cordoned: bool = True, taints: tuple[Taint, ...] = ()) -> Node:
    return Node(name=name, zone=A, instance_id=f"i-{name}", ready=ready, unschedulable=cordoned, taints=taints)


def plan(*nodes: Node, status: str | None = "healthy", leases: dict | None = None, **kwargs: Any):
    fresh = {n.name: NOW - timedelta(seconds=10) for n in nodes}
    return failback.plan_failback(
        A,
        [inventory(*nodes, **kwargs)],
        status=status,
        leases={"east-1": fresh if leases is None else leases},
        moved={"east-1": {"vol-new": "vol-old"}},
        now=NOW,
    )


@pytest.mark.parametrize(
    ("nodes", "leases", "lifted", "left"),
    [
        pytest.param([worker("a1")], None, ["a1"], [], id="ready-with-a-fresh-lease-is-given-back"),
        pytest.param([worker("a1", ready=False)], None, [], ["a1"], id="not-ready-is-left-and-said"),
        pytest.param([worker("a1")], {"a1": NOW - timedelta(seconds=41)}, [], ["a1"], id="stale-lease-is-left"),
        pytest.param([worker("a1")], {}, [], ["a1"], id="no-lease-is-left"),
        pytest.param([worker("a1", cordoned=False)], None, [], [], id="nothing-on-it-is-not-planned"),
        pytest.param(
            [worker("a1", cordoned=False, taints=(Taint(QUARANTINE_TAINT, "NoSchedule", "true"),))],
            None,
            ["a1"],
            [],
            id="a-quarantined-node-is-given-back",
        ),
    ],
)
def test_each_node_of_the_zone_is_given_back_or_left_with_the_reason(
    nodes: list[Node], leases: dict | None, lifted: list[str], left: list[str]
) -> None:
    planned = plan(*nodes, leases=leases)

    assert [n.node for n in planned.nodes] == lifted
    assert all(n.actions == (LiftNode(cluster="east-1", node=n.node, zone=A),) for n in planned.nodes)
    assert [s.subject for s in planned.skipped if s.reason is SkipReason.NODE_NOT_READY] == [
        f"east-1/node/{n}" for n in left
    ]


@pytest.mark.parametrize("status", ["impaired", "recovering"])
def test_a_zone_impaired_again_is_not_failed_back(status: str) -> None:
    planned = plan(worker("a1"), status=status)

    assert planned.nodes == ()
    ((subject, reason),) = [(s.subject, s.reason) for s in planned.skipped]
    assert (subject, reason) == (f"zone/{A}", SkipReason.ZONE_RELAPSED)


def test_a_pet_that_moved_away_stays_and_is_reported_with_the_input_to_bring_it_home() -> None:
    db0 = Pod("shop", "db-0", "uid", "db", 0, node="b1", phase="Running", claims=("data-db-0",))
    claim = Claim("shop", "data-db-0", "c-uid", "ferry-pv", "gp3", "10Gi")
    pv = PersistentVolume(
        name="ferry-pv", reclaim_policy="Retain", storage_class="gp3", capacity="10Gi", volume_id="vol-new", zone=B
    )

    planned = plan(worker("a1"), pods=(db0,), claims=(claim,), volumes=(pv,))

    (away,) = [s for s in planned.skipped if s.reason is SkipReason.LIVING_AWAY]
    assert away.subject == "east-1/shop/db-0"
    assert f"lives in {B} on vol-new (its volume in {A} was vol-old)" in away.detail
    assert json.loads(away.detail.split("ferry-RehomePet ", 1)[1]) == {
        "cluster": "east-1",
        "namespace": "shop",
        "statefulSet": "db",
        "ordinal": 0,
        "targetZone": A,
        "reason": f"back to its home zone {A} after failback",
    }
    assert [s.reason for s in planned.skipped][-1] is SkipReason.PLANNED_STAGE  # federated replicas: issue 15


# --- the node step against an API ---------------------------------------------------------------------------------


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch, as the API server applies `application/merge-patch+json`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


class Api(KubeWriter):
    """The real adapter's node writes on an in-memory API server: reads, and merge patches conditioned on the
    resourceVersion they carry (409 otherwise); `race` writes someone else's change before a given write."""

    def __init__(self, nodes: dict[str, dict[str, Any]]) -> None:  # no client: nothing leaves the process
        self.nodes = nodes
        self.core = type("Core", (), {"read_node": "read", "patch_node": "patch"})()
        self.races: list[Callable[[dict[str, Any]], None]] = []
        self.writes = 0

    def _get(self, method: Any, *args: Any) -> dict[str, Any] | None:
        found = self.nodes.get(args[0])
        return copy.deepcopy(found) if found is not None else None

    def _patch(self, method: Any, *args: Any, body: dict[str, Any]) -> dict[str, Any]:
        name = args[0]
        if self.races:
            self.races.pop(0)(self.nodes[name])
            self.nodes[name]["metadata"]["resourceVersion"] = str(
                int(self.nodes[name]["metadata"]["resourceVersion"]) + 1
            )
        current = self.nodes[name]
        if body["metadata"].get("resourceVersion") not in (None, current["metadata"]["resourceVersion"]):
            raise Conflict("409: the object has been modified")
        updated = merge(
            current, {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}}
        )
        updated["metadata"]["resourceVersion"] = str(int(current["metadata"]["resourceVersion"]) + 1)
        self.nodes[name] = updated
        self.writes += 1
        return updated


def effects(api: Api, statuses: Iterator[str | None]) -> ClusterEffects:
    return ClusterEffects(
        kube=api,
        fencer=None,  # type: ignore[arg-type]
        volumes=None,  # type: ignore[arg-type]
        fence_wait=timedelta(0),
        clock=lambda: NOW,
        zone_status=lambda zone: next(statuses, "impaired"),
    )


def lift(api: Api, name: str, statuses: list[str | None]) -> dict[str, Any]:
    return dict(effects(api, iter(statuses)).perform(LiftNode(cluster="c", node=name, zone=A), {}).result)


def test_a_write_that_meets_a_concurrent_one_is_made_again_from_a_fresh_read() -> None:
    api = Api({"a1": node(cordoned=True, taints=(OOS,), marks=(CORDON_MARK, OUT_OF_SERVICE_MARK))})
    # The kubelet (or a person) adds a taint between Ferry's read and its write: 409, read again, keep theirs.
    api.races.append(lambda n: n["spec"]["taints"].append(dict(PERSONS)))

    result = lift(api, "a1", ["healthy", "healthy"])

    assert result["lifted"] == [f"taint {OUT_OF_SERVICE_TAINT}", failback.UNCORDONED]
    assert api.nodes["a1"]["spec"]["taints"] == [PERSONS]
    assert not api.nodes["a1"]["spec"].get("unschedulable")


@pytest.mark.parametrize(
    ("statuses", "lifted", "cordoned"),
    [
        pytest.param(["healthy", "healthy"], True, False, id="quiet-given-back"),
        pytest.param(["impaired"], False, True, id="relapsed-before-nothing-lifted"),
        pytest.param(["healthy", "impaired"], True, True, id="relapsed-during-cordoned-again"),
    ],
)
def test_a_relapse_around_a_node_leaves_it_cordoned(statuses: list[str], lifted: bool, cordoned: bool) -> None:
    api = Api({"a1": node(cordoned=True, taints=(OOS,), marks=(CORDON_MARK, OUT_OF_SERVICE_MARK))})

    result = lift(api, "a1", statuses)

    assert bool(result["lifted"]) is lifted
    assert bool(api.nodes["a1"]["spec"].get("unschedulable")) is cordoned
    assert result["relapsed"] is (statuses[-1] == "impaired")


# --- the properties -----------------------------------------------------------------------------------------------

# What happens to a node before failback: Ferry's writes (through the real adapter) and a person's.
STEPS = st.sampled_from(["ferry-cordon", "ferry-fence", "ferry-quarantine", "person-cordon", "person-taint", "kubelet"])


def run_steps(api: Api, steps: list[str]) -> tuple[bool, set[str]]:
    """Returns whether a person cordoned the node and the person's taint keys; a person's cordon of a node
    already cordoned is no cordon of theirs (kubectl cordon changes nothing then)."""
    person_cordon, person_taints = False, set()
    for step in steps:
        current = api.nodes["a1"]
        if step == "ferry-cordon":
            api.cordon("a1")
        elif step == "ferry-fence":
            api.add_marked_taint("a1", Taint(**OOS), OUT_OF_SERVICE_MARK)
        elif step == "ferry-quarantine":
            api.add_taint("a1", Taint(**QUARANTINE))
        elif step == "person-cordon" and not current["spec"].get("unschedulable"):
            current["spec"]["unschedulable"] = True
            person_cordon = True
        elif step == "person-taint":
            current["spec"]["taints"].append(dict(PERSONS))
            person_taints.add(PERSONS["key"])
        elif step == "kubelet":
            current["metadata"]["resourceVersion"] = str(int(current["metadata"]["resourceVersion"]) + 1)
    return person_cordon, person_taints


@SETTINGS
@given(st.lists(STEPS, max_size=8), st.lists(st.booleans(), max_size=3))
def test_failback_never_removes_a_taint_or_cordon_ferry_did_not_add(steps: list[str], races: list[bool]) -> None:
    api = Api({"a1": node()})
    person_cordon, person_taints = run_steps(api, steps)
    # Concurrent writers during the failback itself: someone taints the node between Ferry's read and write.
    api.races += [lambda n: n["spec"]["taints"].append({"key": "late.example.com/x", "effect": "NoSchedule"})] * sum(
        races
    )

    lift(api, "a1", ["healthy", "healthy"])

    after = api.nodes["a1"]
    keys = {t["key"] for t in after["spec"]["taints"]}
    assert person_taints <= keys
    raced = sum(races) - len(api.races)  # a race happens only where Ferry writes (it writes nothing not its own)
    assert ("late.example.com/x" in keys) is bool(raced)
    if person_cordon:
        assert after["spec"].get("unschedulable") is True


@SETTINGS
@given(st.integers(1, 6), st.integers(0, 14), st.data())
def test_a_relapse_at_any_step_leaves_no_node_uncordoned_in_the_zone(
    count: int, relapse_at: int, data: st.DataObject
) -> None:
    """Nodes given back one after another, the zone's status read before and after each; the zone relapses at
    the `relapse_at`-th read (never, if beyond); then the report's check. Every node Ferry had cordoned is
    cordoned at the end once the zone relapsed, whenever that was."""
    names = [f"a{i}" for i in range(count)]
    person = set(data.draw(st.lists(st.sampled_from(names), unique=True)))
    api = Api({n: node(cordoned=True, marks=() if n in person else (CORDON_MARK,)) for n in names})
    reads = iter(["healthy"] * relapse_at)
    status = effects(api, reads)
    planned = [NodePlan("c", n, f"i-{n}", A, (LiftNode(cluster="c", node=n, zone=A),)) for n in names]
    node_reports = []
    for p in planned:
        result = status.perform(p.actions[0], {})
        node_reports.append(
            reports.failback_report(p, {p.actions[0].step_id: "done"}, {p.actions[0].step_id: result.result})
        )
    final = next(reads, "impaired")  # the report step's read
    for again in failback.cordon_again(node_reports, final):
        status.perform(Cordon(cluster="c", node=again.node), {})

    relapsed = relapse_at < 2 * count + 1
    schedulable = [n for n in names if not api.nodes[n]["spec"].get("unschedulable")]
    assert schedulable == ([] if relapsed else sorted(set(names) - person))
