"""A cluster's control plane: UP -> DEGRADED -> DOWN -> UP, with quorum and hysteresis, and its bad input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from ferry.domain.detection import (
    ControlPlaneState,
    ControlPlaneStatus,
    DetectionPolicy,
    Handoff,
    IgnoreReason,
    Transition,
    TransitionReason,
    screen_control_plane_signal,
    step_control_plane,
    with_roster,
)
from ferry.domain.signals import Signal, SignalKind, Source

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
CLUSTER = "east-1"
POLICY = DetectionPolicy()
K = SignalKind
UP, DEGRADED, DOWN = ControlPlaneStatus.UP, ControlPlaneStatus.DEGRADED, ControlPlaneStatus.DOWN
ROSTER = ("i-cp1", "i-cp2", "i-cp3")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def probe(kind: SignalKind, minute: float, *, instance: str | None = None, cluster: str | None = CLUSTER) -> Signal:
    return Signal(
        kind=kind,
        source=Source.PROBE,
        source_id=f"round-{minute}" + (f"/{instance}" if instance else ""),
        observed_at=at(minute),
        region="us-east-1",
        cluster=cluster,
        instance=instance,
    )


def ec2(kind: SignalKind, minute: float, instance: str, evidence: Mapping[str, str] | None = None) -> Signal:
    return Signal(
        kind=kind,
        source=Source.EC2,
        source_id=f"ec2-{instance}-{minute}",
        observed_at=at(minute),
        region="us-east-1",
        zone="us-east-1a",
        cluster=CLUSTER,
        instance=instance,
        evidence=evidence or {"state": "stopped"},
    )


def unreachable(minute: float) -> Signal:
    return probe(K.API_UNREACHABLE, minute)


def healthy(minute: float) -> Signal:
    return probe(K.API_HEALTHY, minute)


def member(ok: bool, minute: float, instance: str = "i-cp1") -> Signal:
    return probe(K.CONTROL_PLANE_MEMBER_HEALTHY if ok else K.CONTROL_PLANE_MEMBER_UNHEALTHY, minute, instance=instance)


Step = Signal | tuple[Signal, float]


def run(
    steps: list[Step], state: ControlPlaneState | None = None, roster: tuple[str, ...] = ()
) -> tuple[ControlPlaneState, list[Transition]]:
    state = state or with_roster(ControlPlaneState(CLUSTER), roster)
    transitions: list[Transition] = []
    for step in steps:
        signal, now = step if isinstance(step, tuple) else (step, (step.observed_at - T0).total_seconds() / 60)
        state, made = step_control_plane(state, signal, at(now), POLICY)
        transitions += made
    return state, transitions


def moves(transitions: list[Transition]) -> list[tuple[object, object, TransitionReason, str | None]]:
    return [(t.from_status, t.to_status, t.reason, t.member) for t in transitions]


DOWN_AT_2 = [unreachable(0), unreachable(1), unreachable(2)]


@pytest.mark.parametrize(
    ("steps", "roster", "final", "expected"),
    [
        pytest.param([unreachable(0)], (), UP, [], id="one-unreachable-round-changes-nothing"),
        pytest.param(
            DOWN_AT_2,
            (),
            DOWN,
            [(UP, DOWN, TransitionReason.API_UNREACHABLE, None)],
            id="three-unreachable-rounds-go-down",
        ),
        pytest.param(
            [unreachable(0), unreachable(1), healthy(2), unreachable(3)],
            (),
            UP,
            [],
            id="a-healthy-round-breaks-the-run",
        ),
        pytest.param(
            [unreachable(2), (unreachable(0), 2), (unreachable(1), 2)],
            (),
            DOWN,
            [(UP, DOWN, TransitionReason.API_UNREACHABLE, None)],
            id="late-rounds-fall-into-their-place",
        ),
        pytest.param(
            [unreachable(0), unreachable(2), (healthy(1), 2)], (), UP, [], id="a-late-healthy-round-breaks-the-run"
        ),
        pytest.param(
            [unreachable(0), unreachable(6), unreachable(12)], (), UP, [], id="rounds-older-than-window-do-not-count"
        ),
        pytest.param(
            [*DOWN_AT_2, healthy(3)],
            (),
            DOWN,
            [(UP, DOWN, TransitionReason.API_UNREACHABLE, None)],
            id="one-healthy-round-is-not-enough",
        ),
        pytest.param(
            [*DOWN_AT_2, healthy(3), healthy(4)],
            (),
            UP,
            [(UP, DOWN, TransitionReason.API_UNREACHABLE, None), (DOWN, UP, TransitionReason.API_RECOVERED, None)],
            id="two-healthy-rounds-bring-it-back",
        ),
        pytest.param(
            [member(False, 0)],
            (),
            DEGRADED,
            [(UP, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp1")],
            id="member-failing-readyz-degrades-with-member-named",
        ),
        pytest.param(
            [member(False, 0), member(False, 1), member(False, 2)],
            (),
            DEGRADED,
            [(UP, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp1")],
            id="repeated-failures-one-replacement",
        ),
        pytest.param(
            [member(False, 0), member(True, 1)],
            (),
            DEGRADED,
            [(UP, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp1")],
            id="one-pass-does-not-clear-a-member",
        ),
        pytest.param(
            [member(False, 0), member(True, 1), member(True, 2)],
            (),
            UP,
            [
                (UP, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp1"),
                (DEGRADED, UP, TransitionReason.MEMBERS_HEALTHY, None),
            ],
            id="two-passes-clear-a-member",
        ),
        pytest.param(
            [member(False, 0), member(False, 1, "i-cp2")],
            (),
            DEGRADED,
            [
                (UP, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp1"),
                (DEGRADED, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp2"),
            ],
            id="second-member-second-replacement",
        ),
        pytest.param(
            [ec2(K.INSTANCE_DOWN, 0, "i-cp1"), ec2(K.INSTANCE_DOWN, 1, "i-cp2"), ec2(K.INSTANCE_DOWN, 2, "i-cp3")],
            ROSTER,
            DOWN,
            [
                (UP, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp1"),
                (DEGRADED, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp2"),
                (DEGRADED, DOWN, TransitionReason.MEMBERS_DOWN, None),
            ],
            id="every-registered-instance-down-goes-down",
        ),
        pytest.param(
            [ec2(K.INSTANCE_DOWN, 0, "i-cp9", {"role": "control-plane"})],
            (),
            DEGRADED,
            [(UP, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp9")],
            id="learned-member-down-degrades-but-never-decides-all-down",
        ),
        pytest.param([ec2(K.INSTANCE_DOWN, 0, "i-worker")], ROSTER, UP, [], id="worker-instance-is-ignored"),
        pytest.param(
            [ec2(K.INSTANCE_DOWN, 0, "i-cp1"), ec2(K.INSTANCE_UP, 1, "i-cp1")],
            ROSTER,
            UP,
            [
                (UP, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp1"),
                (DEGRADED, UP, TransitionReason.MEMBERS_HEALTHY, None),
            ],
            id="instance-back-up-clears-it",
        ),
        pytest.param(
            [*DOWN_AT_2, member(False, 2.5), healthy(3), healthy(4)],
            (),
            DEGRADED,
            [
                (UP, DOWN, TransitionReason.API_UNREACHABLE, None),
                (DOWN, DEGRADED, TransitionReason.API_RECOVERED, None),
                (DEGRADED, DEGRADED, TransitionReason.MEMBER_UNHEALTHY, "i-cp1"),
            ],
            id="leaving-down-hands-off-replacements-held-back-while-down",
        ),
        pytest.param([probe(K.API_UNREACHABLE, 0, cluster="west-2")] * 3, (), UP, [], id="other-cluster-is-ignored"),
        pytest.param(
            [(unreachable(3), 0), (unreachable(4), 0), (unreachable(5), 0)], (), UP, [], id="future-rounds-are-ignored"
        ),
    ],
)
def test_control_plane_transitions(
    steps: list[Step], roster: tuple[str, ...], final: ControlPlaneStatus, expected: list[tuple[object, ...]]
) -> None:
    state, transitions = run(steps, roster=roster)

    assert moves(transitions) == expected
    assert state.status is final


def test_down_hands_off_one_failover_named_after_its_start() -> None:
    state, transitions = run([*DOWN_AT_2, unreachable(3), unreachable(4)])

    (down,) = transitions
    assert down.handoff is Handoff.FAILOVER_CLUSTER
    assert down.execution_name == f"failover-{CLUSTER}-{int(at(2).timestamp())}" == state.failover
    assert [r.source_id for r in down.signals] == ["round-0", "round-1", "round-2"]


def test_degraded_hands_off_the_named_members_replacement() -> None:
    _, (transition,) = run([member(False, 0)])

    assert transition.handoff is Handoff.REPLACE_CONTROL_PLANE_MEMBER
    assert transition.execution_name == f"replace-{CLUSTER}-i-cp1-{int(T0.timestamp())}"


def test_long_names_stay_valid_and_distinct() -> None:
    long_a, long_b = "a" * 90 + "-one", "a" * 90 + "-two"
    names = []
    for cluster in (long_a, long_b):
        state = ControlPlaneState(cluster)
        for minute in range(3):
            state, made = step_control_plane(
                state, probe(K.API_UNREACHABLE, minute, cluster=cluster), at(minute), POLICY
            )
        names.append(made[0].execution_name or "")

    assert all(len(n) <= 80 for n in names) and names[0] != names[1]


def test_a_replayed_round_changes_nothing() -> None:
    once, _ = run([unreachable(0), unreachable(1)])
    twice, transitions = run([(unreachable(1), 1), (unreachable(1), 1)], once)

    assert (twice, transitions) == (once, [])


def test_learned_member_that_falls_silent_is_forgotten() -> None:
    state, _ = run([ec2(K.INSTANCE_DOWN, 0, "i-cp9", {"role": "control-plane"})])

    state, transitions = run([healthy(5)], state)

    assert state.members == () and state.status is UP
    assert [t.reason for t in transitions] == [TransitionReason.MEMBERS_HEALTHY]


def test_roster_follows_the_registration() -> None:
    state = with_roster(ControlPlaneState(CLUSTER), ROSTER)
    state = with_roster(state, ("i-cp1", "i-cp4"))
    assert [m.instance for m in state.members if m.rostered] == ["i-cp1", "i-cp4"]

    state, _ = run([healthy(0)], state)  # dropped from the roster and silent: forgotten
    assert [m.instance for m in state.members] == ["i-cp1", "i-cp4"]


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        pytest.param(probe(K.API_UNREACHABLE, 0, cluster=None), IgnoreReason.NO_CLUSTER, id="no-cluster"),
        pytest.param(probe(K.API_UNREACHABLE, 0, cluster="west-2"), IgnoreReason.OTHER_CLUSTER, id="other-cluster"),
        pytest.param(probe(K.NODES_READY, 0), IgnoreReason.NOT_RELEVANT, id="zone-kind"),
        pytest.param(probe(K.CONTROL_PLANE_MEMBER_UNHEALTHY, 0), IgnoreReason.MALFORMED_EVIDENCE, id="member-unnamed"),
        pytest.param(ec2(K.INSTANCE_DOWN, 0, "i-worker"), IgnoreReason.NOT_A_MEMBER, id="not-a-member"),
        pytest.param(unreachable(-5), IgnoreReason.STALE, id="stale"),
        pytest.param(unreachable(3), IgnoreReason.FUTURE, id="future"),
        pytest.param(unreachable(1), None, id="future-within-skew"),
    ],
)
def test_screening_names_why_a_signal_is_left_out(signal: Signal, reason: IgnoreReason | None) -> None:
    assert screen_control_plane_signal(ControlPlaneState(CLUSTER), signal, T0, POLICY) == reason


def test_state_round_trips_through_json() -> None:
    state, _ = run([member(False, 0), ec2(K.INSTANCE_DOWN, 1, "i-cp2"), *DOWN_AT_2], roster=ROSTER)

    assert ControlPlaneState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
