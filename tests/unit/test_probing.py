"""What a probe round means: node readiness and leases per zone, the API's answer, EC2's view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ferry.domain.probing import ClusterObservation, NodeHealth, quarantined_zones, recovered_fenced_nodes, signals_from
from ferry.domain.signals import SignalKind, Source

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
GRACE = timedelta(seconds=40)


def node(name: str, zone: str, *, ready: bool = True, lease_age: float | None = 5, instance: str | None = None):
    renewed = None if lease_age is None else NOW - timedelta(seconds=lease_age)
    return NodeHealth(name=name, zone=zone, ready=ready, lease_renewed_at=renewed, instance_id=instance)


def observe(*nodes: NodeHealth, api_error: str | None = None, states=None, zones=()) -> ClusterObservation:
    return ClusterObservation(
        cluster="east-1",
        region="us-east-1",
        observed_at=NOW,
        round_id="probe-east-1-1764151200",
        api_error=api_error,
        nodes=tuple(nodes),
        instance_states=states or {},
        zones=zones,
    )


def zone_kinds(observation: ClusterObservation) -> dict[str, SignalKind]:
    return {s.zone: s.kind for s in signals_from(observation, lease_grace=GRACE) if s.source is Source.PROBE and s.zone}


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        pytest.param(
            [node("a1", "us-east-1a"), node("a2", "us-east-1a"), node("b1", "us-east-1b")],
            {"us-east-1a": SignalKind.NODES_READY, "us-east-1b": SignalKind.NODES_READY},
            id="all-ready",
        ),
        pytest.param(
            [node("a1", "us-east-1a", ready=False), node("a2", "us-east-1a", ready=False), node("a3", "us-east-1a")],
            {"us-east-1a": SignalKind.NODES_NOT_READY},
            id="two-of-three-not-ready-is-not-ready",
        ),
        pytest.param(
            [node("a1", "us-east-1a", ready=False), node("a2", "us-east-1a")],
            {"us-east-1a": SignalKind.NODES_READY},
            id="exactly-half-is-not-more-than-half",
        ),
        pytest.param(
            [node("a1", "us-east-1a", lease_age=41), node("a2", "us-east-1a", lease_age=300)],
            {"us-east-1a": SignalKind.NODES_NOT_READY},
            id="stale-leases-count-before-kubernetes-marks-notready",
        ),
        pytest.param(
            [node("a1", "us-east-1a", lease_age=None), node("a2", "us-east-1a", lease_age=None)],
            {"us-east-1a": SignalKind.NODES_NOT_READY},
            id="never-renewed-lease-is-stale",
        ),
    ],
)
def test_zone_readiness(nodes, expected) -> None:
    assert zone_kinds(observe(*nodes)) == expected


def test_unreachable_api_is_one_signal_and_says_nothing_of_zones() -> None:
    signals = signals_from(observe(node("a1", "us-east-1a"), api_error="Unavailable: timed out"), lease_grace=GRACE)

    assert [(s.kind, s.cluster, s.zone, s.evidence["error"]) for s in signals] == [
        (SignalKind.API_UNREACHABLE, "east-1", None, "Unavailable: timed out")
    ]


def test_stopped_instances_are_an_independent_ec2_voice() -> None:
    observation = observe(
        node("a1", "us-east-1a", instance="i-0a"),
        node("b1", "us-east-1b", instance="i-0b"),
        states={"i-0a": "stopped", "i-0b": "running"},
    )

    (down,) = [s for s in signals_from(observation, lease_grace=GRACE) if s.kind is SignalKind.INSTANCE_DOWN]

    assert (down.source, down.zone, down.instance, down.evidence["node"]) == (Source.EC2, "us-east-1a", "i-0a", "a1")
    assert down.source_id == "probe-east-1-1764151200/i-0a"


def test_evidence_counts_nodes_and_lease_age() -> None:
    observation = observe(node("a1", "us-east-1a", lease_age=100), node("a2", "us-east-1a", lease_age=3))

    (zone,) = [s for s in signals_from(observation, lease_grace=GRACE) if s.zone == "us-east-1a"]

    assert dict(zone.evidence) == {"nodes": "2", "healthy": "1", "unhealthy": "1", "oldest_lease_age_s": "100"}


def test_a_round_is_replay_stable() -> None:
    observation = observe(node("a1", "us-east-1a", ready=False, instance="i-1"), states={"i-1": "stopped"})

    assert signals_from(observation, lease_grace=GRACE) == signals_from(observation, lease_grace=GRACE)


def test_nodes_ferry_fenced_are_not_evidence() -> None:
    fenced = NodeHealth(
        name="a1", zone="us-east-1a", ready=False, lease_renewed_at=None, instance_id="i-0a", fenced=True
    )
    observation = observe(fenced, node("a2", "us-east-1a"), states={"i-0a": "stopped"})

    signals = signals_from(observation, lease_grace=GRACE)

    assert [s.kind for s in signals if s.zone == "us-east-1a"] == [SignalKind.NODES_READY]
    assert dict(next(s for s in signals if s.zone == "us-east-1a").evidence)["nodes"] == "1"


def test_members_report_their_own_readyz_even_when_the_shared_endpoint_fails() -> None:
    observation = ClusterObservation(
        cluster="east-1",
        region="us-east-1",
        observed_at=NOW,
        round_id="probe-1/east-1",
        api_error="Unavailable: connection refused",
        members={"i-0cp1": None, "i-0cp2": "Unavailable: timed out"},
    )

    signals = signals_from(observation, lease_grace=GRACE)

    assert [(s.kind, s.instance) for s in signals] == [
        (SignalKind.API_UNREACHABLE, None),
        (SignalKind.CONTROL_PLANE_MEMBER_HEALTHY, "i-0cp1"),
        (SignalKind.CONTROL_PLANE_MEMBER_UNHEALTHY, "i-0cp2"),
    ]
    assert signals[2].evidence["error"] == "Unavailable: timed out"


def test_a_stopped_control_plane_instance_says_so() -> None:
    member = NodeHealth(
        name="cp1", zone="us-east-1a", ready=False, lease_renewed_at=None, instance_id="i-0cp1", control_plane=True
    )

    (down,) = [
        s
        for s in signals_from(observe(member, states={"i-0cp1": "stopped"}), lease_grace=GRACE)
        if s.kind is SignalKind.INSTANCE_DOWN
    ]

    assert down.evidence["role"] == "control-plane"


@pytest.mark.parametrize(
    ("health", "released"),
    [
        pytest.param({"ready": True, "lease_age": 5, "fenced": True}, ["a1"], id="fenced-and-back"),
        pytest.param({"ready": False, "lease_age": 5, "fenced": True}, [], id="fenced-not-ready"),
        pytest.param({"ready": True, "lease_age": 300, "fenced": True}, [], id="fenced-stale-lease"),
        pytest.param({"ready": True, "lease_age": 5, "fenced": False}, [], id="never-fenced"),
    ],
)
def test_fenced_nodes_are_released_only_once_their_kubelet_is_back(health, released) -> None:
    back = NodeHealth(
        name="a1",
        zone="us-east-1a",
        ready=health["ready"],
        lease_renewed_at=NOW - timedelta(seconds=health["lease_age"]),
        fenced=health["fenced"],
    )

    assert list(recovered_fenced_nodes(observe(back), lease_grace=GRACE)) == released


def test_zones_with_a_quarantined_node_have_unfinished_evacuations() -> None:
    stuck = NodeHealth(name="a1", zone="us-east-1a", ready=False, lease_renewed_at=None, quarantined=True)

    assert quarantined_zones(observe(stuck, node("b1", "us-east-1b"))) == {"us-east-1a"}
