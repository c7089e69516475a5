"""Where a federated app's replicas go: table cases a reader can check by hand, then the properties (hypothesis)
the issue asks of every distribution.

Properties, on random apps, clusters, node counts, zone verdicts and room:
- the replicas handed out plus the shortfall make the total, and the shortfall is exactly what the limits of the
  clusters that can take replicas leave over (never hidden, never invented), each short app saying why;
- every minimum and maximum (and the room) is respected; a cluster whose control plane is down or whose every
  node is unavailable gets zero;
- the same inputs give the same answer, whatever the order of the mappings and placements;
- when one cluster changes (health, nodes, room), every other cluster moves the same way or not at all: replicas
  go from or to the cluster that changed, never between the others; in particular when a cluster fails no
  other loses a replica (largest remainders would fail this: the pinned example is its population paradox);
- a cluster spanning zones keeps `Ready nodes in healthy zones / all nodes` of its weight.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ferry.domain.detection.transitions import ControlPlaneStatus, ZoneStatus
from ferry.domain.federation.apps import FederatedApp, Placement, check_app
from ferry.domain.federation.distribution import (
    ClusterHealth,
    Distribution,
    ShareReason,
    ZoneNodes,
    distribute,
    distribute_all,
)

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
UP, DOWN = ControlPlaneStatus.UP, ControlPlaneStatus.DOWN
IMPAIRED = {"us-east-1a": ZoneStatus.IMPAIRED}


def spanning(ready: tuple[int, int, int] = (2, 2, 2), total: int = 2, status: ControlPlaneStatus = UP) -> ClusterHealth:
    """A cluster with `total` nodes in each of zones a, b and c, `ready` of them Ready."""
    return ClusterHealth(status, tuple(ZoneNodes(z, r, total) for z, r in zip(ZONES, ready, strict=True)))


def zonal(zone: str, status: ControlPlaneStatus = UP) -> ClusterHealth:
    return ClusterHealth(status, (ZoneNodes(zone, 3, 3),))


def app(replicas: int, *placements: Placement) -> FederatedApp:
    return FederatedApp("shop", "web", replicas, placements or (Placement("*"),))


# --- table ---------------------------------------------------------------------------------------------------


CASES = [
    pytest.param(app(6), {"a": spanning(), "b": spanning(), "c": spanning()}, {}, {}, {"a": 2, "b": 2, "c": 2}, 0,
                 id="even-split"),
    pytest.param(app(6, Placement("a", 2), Placement("b", 1)), {"a": spanning(), "b": spanning()}, {}, {},
                 {"a": 4, "b": 2}, 0, id="weights-two-to-one"),
    pytest.param(app(7, Placement("*", 1)), {"a": spanning(), "b": spanning()}, {}, {}, {"a": 4, "b": 3}, 0,
                 id="odd-total-tie-goes-to-the-first-name"),
    pytest.param(app(6), {"east-1": spanning(status=DOWN), "east-2": spanning()}, {}, {},
                 {"east-1": 0, "east-2": 6}, 0, id="control-plane-down-gets-zero"),
    pytest.param(app(6), {"east-1": spanning(), "east-2": spanning()}, IMPAIRED, {}, {"east-1": 3, "east-2": 3}, 0,
                 id="two-clusters-over-three-zones-lose-the-same-third-nothing-moves"),
    pytest.param(app(6), {"a": zonal(ZONES[0]), "b": zonal(ZONES[1]), "c": zonal(ZONES[2])}, IMPAIRED, {},
                 {"a": 0, "b": 3, "c": 3}, 0, id="zonal-clusters-zone-a-lost"),
    pytest.param(app(6), {"east-1": spanning(), "east-2": zonal(ZONES[1])}, IMPAIRED, {}, {"east-1": 2, "east-2": 4}, 0,
                 id="impaired-zone-of-a-spanning-cluster-keeps-two-thirds-of-its-weight"),
    pytest.param(app(12), {"east-1": spanning(), "east-2": zonal(ZONES[1])}, IMPAIRED, {}, {"east-1": 5, "east-2": 7},
                 0, id="two-thirds-of-a-weight-against-a-whole-one"),
    pytest.param(app(6), {"a": spanning(ready=(0, 0, 0)), "b": spanning()}, {}, {}, {"a": 0, "b": 6}, 0,
                 id="no-ready-node-gets-zero"),
    pytest.param(app(6), {"a": spanning(ready=(1, 2, 2)), "b": spanning()}, {}, {}, {"a": 3, "b": 3}, 0,
                 id="not-ready-nodes-alone-are-not-a-zone-loss"),
    pytest.param(app(10, Placement("*", 1, 0, 3)), {"a": spanning(status=DOWN), "b": spanning(), "c": spanning()}, {},
                 {}, {"a": 0, "b": 3, "c": 3}, 4, id="survivors-at-max-shortfall-reported"),
    pytest.param(app(6), {"a": spanning(status=DOWN), "b": spanning(), "c": spanning()}, {}, {"b": 1},
                 {"a": 0, "b": 1, "c": 5}, 0, id="room-caps-a-survivor-the-other-takes-the-rest"),
    pytest.param(app(6, Placement("a", 10), Placement("b", 1, 2)), {"a": spanning(), "b": spanning()}, {}, {},
                 {"a": 4, "b": 2}, 0, id="min-holds-against-a-heavy-weight"),
    pytest.param(app(6, Placement("a", 1), Placement("b", 0, 1)), {"a": spanning(), "b": spanning()}, {}, {},
                 {"a": 5, "b": 1}, 0, id="weight-zero-gets-its-min-only"),
    pytest.param(app(6, Placement("a", 0, 1), Placement("b", 1)), {"a": spanning(), "b": spanning(status=DOWN)}, {},
                 {}, {"a": 1, "b": 0}, 5, id="weight-zero-survivor-takes-no-more-than-its-min"),
    pytest.param(app(6, Placement("*", 1), Placement("b", 2, 0, 3)),
                 {"a": spanning(), "b": spanning(), "c": spanning()}, {}, {}, {"a": 2, "b": 3, "c": 1}, 0,
                 id="star-default-with-one-cluster-overridden"),
    pytest.param(app(4, Placement("a"), Placement("b")), {"a": spanning(), "b": spanning(), "c": spanning()}, {}, {},
                 {"a": 2, "b": 2}, 0, id="without-star-only-named-clusters"),
    pytest.param(app(0), {"a": spanning(), "b": spanning()}, {}, {}, {"a": 0, "b": 0}, 0, id="scaled-to-zero"),
]  # fmt: skip


@pytest.mark.parametrize(("the_app", "health", "zones", "room", "expected", "shortfall"), CASES)
def test_distribution_table(
    the_app: FederatedApp,
    health: dict[str, ClusterHealth],
    zones: dict[str, ZoneStatus],
    room: dict[str, int],
    expected: dict[str, int],
    shortfall: int,
) -> None:
    distribution = distribute(the_app, health, zones, room)
    assert (distribution.counts(), distribution.shortfall, distribution.problems) == (expected, shortfall, ())


def test_a_short_app_says_which_clusters_could_not_help_and_why() -> None:
    health = {"a": spanning(status=DOWN), "b": spanning(), "c": spanning(ready=(0, 2, 2))}
    distribution = distribute(app(10, Placement("*", 1, 0, 3)), health, IMPAIRED, {"c": 2})
    assert distribution.shortfall == 5
    assert dict(distribution.reasons) == {
        "a": ShareReason.CONTROL_PLANE_DOWN,
        "b": ShareReason.AT_MAX,
        "c": ShareReason.AT_CAPACITY,
    }
    assert distribution.explain() == (
        "shop/web: a=0, b=3, c=2; 5 short (a control-plane-down, b at-max, c at-capacity)"
    )


def test_a_distribution_travels_as_json_and_back() -> None:
    distribution = distribute(app(10, Placement("*", 1, 0, 3)), {"a": spanning(status=DOWN), "b": spanning()}, {})
    wire = distribution.to_dict()
    assert wire == {
        "app": "shop/web",
        "replicas": {"a": 0, "b": 3},
        "reasons": {"a": "control-plane-down", "b": "at-max"},
        "shortfall": 7,
        "problems": [],
    }
    assert Distribution.from_dict(wire) == distribution


# --- bad input -------------------------------------------------------------------------------------------------


BAD = [
    pytest.param(app(6, Placement("a", 0), Placement("b", 0)),
                 ["clusters: expected weights summing to more than zero, got 0"], id="weights-sum-to-zero"),
    pytest.param(app(6, Placement("a", 1, 4, 2), Placement("b")),
                 ["clusters.a.min: expected at most max (2), got 4"], id="min-above-max"),
    pytest.param(app(3, Placement("a", 1, 2), Placement("b", 1, 2)),
                 ["replicas: expected at least the sum of the members' minimums (4), got 3"],
                 id="total-below-the-sum-of-mins"),
    pytest.param(app(3, Placement("*", 1, 1)),
                 ["replicas: expected at least the sum of the members' minimums (4), got 3"],
                 id="star-minimum-counts-for-every-member"),
    pytest.param(app(6, Placement("a"), Placement("zz")), ["clusters.zz: expected a member cluster (a, b, c, d)"],
                 id="unknown-cluster"),
    pytest.param(app(6, Placement("a"), Placement("a", 2)),
                 ["clusters: expected each cluster once, got a more than once"], id="cluster-twice"),
    pytest.param(app(-1, Placement("a", -2)),
                 ["replicas: expected a whole number >= 0, got -1",
                  "clusters.a.weight: expected a whole number >= 0, got -2",
                  "clusters: expected weights summing to more than zero, got 0"], id="negatives-all-named"),
]  # fmt: skip


@pytest.mark.parametrize(("the_app", "problems"), BAD)
def test_bad_input_is_refused_with_every_reason(the_app: FederatedApp, problems: list[str]) -> None:
    health = {name: spanning() for name in "abcd"}
    assert list(check_app(the_app, health)) == problems
    distribution = distribute(the_app, health, {})
    assert (distribution.replicas, list(distribution.problems)) == ((), problems)
    assert distribution.explain().startswith("shop/web: refused: ")


def test_one_bad_app_does_not_stop_the_others() -> None:
    good, bad = app(6), FederatedApp("shop", "api", 2, (Placement("*", 1, 2),))
    results = distribute_all([bad, good], {"a": spanning(), "b": spanning()}, {})
    assert [(d.app, bool(d.problems), d.counts()) for d in results] == [
        ("shop/api", True, {}),
        ("shop/web", False, {"a": 3, "b": 3}),
    ]


# --- properties ------------------------------------------------------------------------------------------------

CLUSTERS = ("c0", "c1", "c2", "c3", "c4")


@st.composite
def cluster_health(draw: st.DrawFn) -> ClusterHealth:
    status = draw(st.sampled_from([UP, UP, UP, ControlPlaneStatus.DEGRADED, DOWN]))
    zones = draw(st.lists(st.sampled_from(ZONES), min_size=0, max_size=3, unique=True))
    nodes = []
    for zone in zones:
        total = draw(st.integers(1, 4))
        nodes.append(ZoneNodes(zone, draw(st.integers(0, total)), total))
    return ClusterHealth(status, tuple(nodes))


@st.composite
def scenes(draw: st.DrawFn) -> tuple[FederatedApp, dict[str, ClusterHealth], dict[str, ZoneStatus], dict[str, int]]:
    clusters = CLUSTERS[: draw(st.integers(1, len(CLUSTERS)))]
    health = {c: draw(cluster_health()) for c in clusters}
    zones = {z: draw(st.sampled_from(list(ZoneStatus))) for z in ZONES}
    named = draw(st.lists(st.sampled_from(clusters), unique=True))
    placements = []
    for cluster in [*named, *(["*"] if draw(st.booleans()) or not named else [])]:
        low = draw(st.integers(0, 3))
        high = draw(st.one_of(st.none(), st.integers(low, low + 8)))
        placements.append(Placement(cluster, draw(st.integers(0, 6)), low, high))
    if all(p.weight == 0 for p in placements):
        placements[-1] = Placement(placements[-1].cluster, 1, placements[-1].min, placements[-1].max)
    shell = FederatedApp("shop", "web", 0, tuple(placements))
    minimums = sum(p.min for p in shell.members(clusters).values())
    total = draw(st.integers(minimums, minimums + 40))
    room = {c: draw(st.integers(0, 12)) for c in clusters if draw(st.booleans())}
    the_app = FederatedApp("shop", "web", total, tuple(placements))
    return the_app, health, zones, room


def _takes_replicas(health: ClusterHealth, zones: dict[str, ZoneStatus]) -> bool:
    return health.control_plane is not DOWN and health.available(zones)[0] > 0


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_the_total_is_handed_out_whenever_the_limits_allow_else_the_shortfall_is_reported(scene: tuple) -> None:  # type: ignore[type-arg]
    the_app, health, zones, room = scene
    distribution = distribute(the_app, health, zones, room)
    if check_app(the_app, health):
        return  # the sound apps are what this property is about; bad ones have their own table
    room_left = 0.0
    for cluster, placement in the_app.members(health).items():
        if not _takes_replicas(health[cluster], zones):
            continue
        ceiling = placement.ceiling(room.get(cluster))
        floor = placement.min if ceiling is None else min(placement.min, ceiling)
        room_left += (math.inf if ceiling is None else ceiling) if placement.weight > 0 else floor
    assert sum(distribution.counts().values()) + distribution.shortfall == the_app.replicas
    assert distribution.shortfall == max(0, the_app.replicas - room_left)
    if distribution.shortfall:
        assert distribution.reasons, distribution.explain()


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_minimums_maximums_and_room_hold_and_unhealthy_clusters_get_zero(scene: tuple) -> None:  # type: ignore[type-arg]
    the_app, health, zones, room = scene
    if check_app(the_app, health):
        return
    counts = distribute(the_app, health, zones, room).counts()
    for cluster, placement in the_app.members(health).items():
        if not _takes_replicas(health[cluster], zones):
            assert counts[cluster] == 0, cluster
            continue
        assert counts[cluster] >= min(placement.min, room.get(cluster, placement.min)), cluster
        if placement.max is not None:
            assert counts[cluster] <= placement.max, cluster
        if cluster in room:
            assert counts[cluster] <= max(room[cluster], 0), cluster


@settings(max_examples=200, deadline=None)
@given(scenes(), st.randoms(use_true_random=False))
def test_same_inputs_same_answer_whatever_their_order(scene: tuple, rng: random.Random) -> None:  # type: ignore[type-arg]
    the_app, health, zones, room = scene
    first = distribute(the_app, health, zones, room)
    shuffled = list(health.items())
    rng.shuffle(shuffled)
    placements = list(the_app.clusters)
    rng.shuffle(placements)
    reordered = FederatedApp(the_app.namespace, the_app.name, the_app.replicas, tuple(placements))
    assert distribute(reordered, dict(shuffled), zones, room) == first
    assert distribute(the_app, health, zones, room) == first


@settings(max_examples=400, deadline=None)
@given(scenes(), st.data())
def test_when_one_cluster_changes_replicas_move_from_or_to_it_alone(scene: tuple, data: st.DataObject) -> None:  # type: ignore[type-arg]
    the_app, health, zones, room = scene
    if check_app(the_app, health):
        return
    changed = data.draw(st.sampled_from(sorted(health)))
    after_health = {**health, changed: data.draw(cluster_health())}
    after_room = {c: r for c, r in room.items() if c != changed}
    if data.draw(st.booleans()):
        after_room[changed] = data.draw(st.integers(0, 12))
    before = distribute(the_app, health, zones, room).counts()
    after = distribute(the_app, after_health, zones, after_room).counts()
    moves = [after[c] - before[c] for c in before if c != changed]
    assert all(m >= 0 for m in moves) or all(m <= 0 for m in moves), (changed, before, after)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.integers(1, 9), min_size=3, max_size=6),
    st.integers(1, 60),
    st.data(),
)
# Largest remainders (Hamilton) would take a replica from c2 here when c0 fails (the population paradox).
@example([8, 7, 1, 3, 7], 12, None)
def test_when_a_cluster_fails_no_other_cluster_loses_a_replica(
    weights: list[int], total: int, data: st.DataObject | None
) -> None:
    clusters = [f"c{n}" for n in range(len(weights))]
    the_app = app(total, *(Placement(c, w) for c, w in zip(clusters, weights, strict=True)))
    failed = data.draw(st.sampled_from(clusters)) if data is not None else "c0"
    health = {c: ClusterHealth() for c in clusters}
    before = distribute(the_app, health, {}).counts()
    after = distribute(the_app, {**health, failed: ClusterHealth(DOWN)}, {}).counts()
    assert after[failed] == 0
    assert all(after[c] >= before[c] for c in clusters if c != failed), (failed, before, after)
    assert sum(after.values()) == total


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_a_cluster_spanning_zones_keeps_its_healthy_nodes_share_of_its_weight(scene: tuple) -> None:  # type: ignore[type-arg]
    """The same answer as every zone healthy with each cluster's weight multiplied by its available share."""
    the_app, health, zones, room = scene
    if check_app(the_app, health):
        return
    members = the_app.members(health)
    shares = {c: health[c].available(zones) for c in members}
    common = math.lcm(*(total for _, total in shares.values()))
    scaled = tuple(
        Placement(c, p.weight * shares[c][0] * (common // shares[c][1]), p.min, p.max) for c, p in members.items()
    )
    flat = {
        c: ClusterHealth(DOWN if not _takes_replicas(h, zones) else UP) for c, h in health.items()
    }  # no nodes known: the whole weight counts
    assume(any(p.weight for p in scaled))  # else nothing is weighted at all: the app would be refused
    expected = distribute(FederatedApp("shop", "web", the_app.replicas, scaled), flat, {}, room)
    actual = distribute(the_app, health, zones, room)
    assert (actual.counts(), actual.shortfall) == (expected.counts(), expected.shortfall)
