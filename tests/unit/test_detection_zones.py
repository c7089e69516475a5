"""One zone's verdict: every transition of HEALTHY -> SUSPECT -> IMPAIRED -> RECOVERING -> HEALTHY, and the
rules for bad input (late, repeated, future, stale, zone-less, malformed), each by name."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from ferry.domain.detection import (
    DetectionPolicy,
    Handoff,
    IgnoreReason,
    Transition,
    TransitionReason,
    ZoneState,
    ZoneStatus,
    step_zone,
)
from ferry.domain.detection.zones import screen_zone_signal
from ferry.domain.signals import Signal, SignalKind, Source

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
A = "us-east-1a"
POLICY = DetectionPolicy(zones=(A, "us-east-1b", "us-east-1c"))
K = SignalKind
H, S, IMP, R = ZoneStatus.HEALTHY, ZoneStatus.SUSPECT, ZoneStatus.IMPAIRED, ZoneStatus.RECOVERING

SOURCES = {
    K.HEALTH_ISSUE: Source.AWS_HEALTH,
    K.HEALTH_RESOLVED: Source.AWS_HEALTH,
    K.ZONAL_SHIFT_STARTED: Source.ZONAL_SHIFT,
    K.ZONAL_SHIFT_ENDED: Source.ZONAL_SHIFT,
    K.EVACUATION_REQUESTED: Source.OPERATOR,
    K.INSTANCE_DOWN: Source.EC2,
    K.INSTANCE_UP: Source.EC2,
    K.SPOT_INTERRUPTION: Source.EC2,
    K.ASG_TERMINATING: Source.AUTOSCALING,
    K.ALARM_FIRING: Source.CLOUDWATCH,
    K.ALARM_CLEARED: Source.CLOUDWATCH,
    K.NODES_NOT_READY: Source.PROBE,
    K.NODES_READY: Source.PROBE,
    K.SCHEDULE_TICK: Source.SCHEDULER,
    K.REBALANCE_RECOMMENDATION: Source.EC2,
    K.DRILL_STARTED: Source.ZONAL_SHIFT,
    K.UNFOLLOWED_SHIFT_STARTED: Source.ZONAL_SHIFT,
}
DEFAULT_EVIDENCE: dict[SignalKind, dict[str, str]] = {
    K.HEALTH_ISSUE: {"eventArn": "arn:health:1"},
    K.HEALTH_RESOLVED: {"eventArn": "arn:health:1"},
    K.ZONAL_SHIFT_STARTED: {"trigger": "autoshift"},
    K.ZONAL_SHIFT_ENDED: {"trigger": "autoshift"},
    K.ALARM_FIRING: {"alarmName": "ferry-zone-a-errors"},
    K.ALARM_CLEARED: {"alarmName": "ferry-zone-a-errors"},
    K.NODES_NOT_READY: {"nodes": "3", "healthy": "0", "unhealthy": "3"},
    K.NODES_READY: {"nodes": "3", "healthy": "3", "unhealthy": "0"},
}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sig(
    kind: SignalKind,
    minute: float = 0,
    *,
    zone: str | None = A,
    sid: str | None = None,
    cluster: str | None = None,
    instance: str | None = None,
    evidence: Mapping[str, str] | None = None,
) -> Signal:
    if kind in (K.NODES_NOT_READY, K.NODES_READY):
        cluster = cluster or "east-1"
    if kind in (K.INSTANCE_DOWN, K.INSTANCE_UP, K.ASG_TERMINATING, K.SPOT_INTERRUPTION):
        instance = instance or "i-0a"
    return Signal(
        kind=kind,
        source=SOURCES[kind],
        source_id=sid or f"{kind.value}@{minute}/{instance or cluster or ''}",
        observed_at=at(minute),
        region="us-east-1",
        zone=zone,
        cluster=cluster,
        instance=instance,
        evidence=DEFAULT_EVIDENCE.get(kind, {}) if evidence is None else evidence,
    )


def tick(minute: float) -> Signal:
    return sig(K.SCHEDULE_TICK, minute, zone=None)


Step = Signal | tuple[Signal, float]  # a signal, processed at its own time or at the given minute


def run(
    steps: list[Step], state: ZoneState | None = None, policy: DetectionPolicy = POLICY
) -> tuple[ZoneState, list[Transition]]:
    state = state or ZoneState(A)
    transitions: list[Transition] = []
    for step in steps:
        signal, now = step if isinstance(step, tuple) else (step, None)
        minutes = now if now is not None else (signal.observed_at - T0).total_seconds() / 60
        state, made = step_zone(state, signal, at(minutes), policy)
        transitions += made
    return state, transitions


def moves(transitions: list[Transition]) -> list[tuple[ZoneStatus, ZoneStatus, TransitionReason]]:
    return [(t.from_status, t.to_status, t.reason) for t in transitions]  # type: ignore[misc]


IMPAIRED_BY_QUORUM = [sig(K.NODES_NOT_READY, 0), sig(K.ALARM_FIRING, 1)]
RECOVERING_AT_20 = [*IMPAIRED_BY_QUORUM, sig(K.NODES_READY, 20)]


@pytest.mark.parametrize(
    ("steps", "final", "expected"),
    [
        pytest.param(
            [sig(K.HEALTH_ISSUE)], IMP, [(H, IMP, TransitionReason.AUTHORITY)], id="health-issue-impairs-at-once"
        ),
        pytest.param(
            [sig(K.ZONAL_SHIFT_STARTED)], IMP, [(H, IMP, TransitionReason.AUTHORITY)], id="zonal-shift-impairs-at-once"
        ),
        pytest.param(
            [sig(K.EVACUATION_REQUESTED)],
            IMP,
            [(H, IMP, TransitionReason.OPERATOR_REQUEST)],
            id="operator-request-impairs-at-once",
        ),
        pytest.param([sig(K.INSTANCE_DOWN)], S, [(H, S, TransitionReason.EVIDENCE)], id="one-witness-makes-suspect"),
        pytest.param(
            [sig(K.INSTANCE_DOWN, 0), sig(K.ASG_TERMINATING, 1, instance="i-0b"), sig(K.SPOT_INTERRUPTION, 2)],
            S,
            [(H, S, TransitionReason.EVIDENCE)],
            id="ec2-autoscaling-and-spot-are-one-voice",
        ),
        pytest.param(
            IMPAIRED_BY_QUORUM,
            IMP,
            [(H, S, TransitionReason.EVIDENCE), (S, IMP, TransitionReason.QUORUM)],
            id="two-witnesses-in-window-impair",
        ),
        pytest.param(
            [sig(K.INSTANCE_DOWN, 0), sig(K.ALARM_FIRING, 6)],
            S,
            [(H, S, TransitionReason.EVIDENCE)],
            id="witnesses-further-apart-than-window-stay-suspect",
        ),
        pytest.param(
            [sig(K.INSTANCE_DOWN, 0), tick(5)],
            H,
            [(H, S, TransitionReason.EVIDENCE), (S, H, TransitionReason.EVIDENCE_EXPIRED)],
            id="suspect-evidence-ages-out-to-healthy",
        ),
        pytest.param(
            [sig(K.INSTANCE_DOWN, 0), tick(4.9)],
            S,
            [(H, S, TransitionReason.EVIDENCE)],
            id="suspect-evidence-inside-window-stays",
        ),
        pytest.param(
            [sig(K.NODES_NOT_READY, evidence={"nodes": "4", "unhealthy": "2"})],
            H,
            [],
            id="half-the-nodes-not-ready-is-not-evidence",
        ),
        pytest.param(
            [sig(K.NODES_NOT_READY, 0), sig(K.NODES_READY, 1)],
            H,
            [(H, S, TransitionReason.EVIDENCE), (S, H, TransitionReason.EVIDENCE_EXPIRED)],
            id="probe-ready-withdraws-its-own-not-ready",
        ),
        pytest.param(
            [sig(K.ALARM_FIRING, 0), sig(K.ALARM_CLEARED, 1)],
            H,
            [(H, S, TransitionReason.EVIDENCE), (S, H, TransitionReason.EVIDENCE_EXPIRED)],
            id="alarm-cleared-withdraws-the-alarm",
        ),
        pytest.param(
            [sig(K.INSTANCE_DOWN, 0), sig(K.INSTANCE_UP, 1), sig(K.ALARM_FIRING, 2)],
            S,
            [
                (H, S, TransitionReason.EVIDENCE),
                (S, H, TransitionReason.EVIDENCE_EXPIRED),
                (H, S, TransitionReason.EVIDENCE),
            ],
            id="instance-up-withdraws-its-instance-down",
        ),
        pytest.param(
            [sig(K.NODES_NOT_READY, 0, cluster="east-1"), sig(K.NODES_READY, 1, cluster="east-2")],
            S,
            [(H, S, TransitionReason.EVIDENCE)],
            id="another-clusters-ready-nodes-do-not-withdraw",
        ),
        pytest.param(
            [sig(K.HEALTH_ISSUE, 0), sig(K.HEALTH_RESOLVED, 20)],
            R,
            [(H, IMP, TransitionReason.AUTHORITY), (IMP, R, TransitionReason.RECOVERY_SIGNALLED)],
            id="health-resolved-starts-recovery",
        ),
        pytest.param(
            [sig(K.ZONAL_SHIFT_STARTED, 0), sig(K.ZONAL_SHIFT_ENDED, 20)],
            R,
            [(H, IMP, TransitionReason.AUTHORITY), (IMP, R, TransitionReason.RECOVERY_SIGNALLED)],
            id="zonal-shift-ended-starts-recovery",
        ),
        pytest.param(
            RECOVERING_AT_20,
            R,
            [
                (H, S, TransitionReason.EVIDENCE),
                (S, IMP, TransitionReason.QUORUM),
                (IMP, R, TransitionReason.RECOVERY_SIGNALLED),
            ],
            id="probes-ready-start-recovery",
        ),
        pytest.param(
            [sig(K.HEALTH_ISSUE, 0), sig(K.NODES_READY, 2)],
            IMP,
            [(H, IMP, TransitionReason.AUTHORITY)],
            id="probe-ready-does-not-recover-while-health-issue-open",
        ),
        pytest.param(
            [
                sig(K.HEALTH_ISSUE, 0, evidence={"eventArn": "arn:ec2"}),
                sig(K.HEALTH_ISSUE, 1, evidence={"eventArn": "arn:ebs"}),
                sig(K.HEALTH_RESOLVED, 20, evidence={"eventArn": "arn:ec2"}),
            ],
            IMP,
            [(H, IMP, TransitionReason.AUTHORITY)],
            id="one-of-two-health-issues-resolved-stays-impaired",
        ),
        pytest.param(
            [*IMPAIRED_BY_QUORUM, (sig(K.NODES_READY, 0.5), 2)],
            IMP,
            [(H, S, TransitionReason.EVIDENCE), (S, IMP, TransitionReason.QUORUM)],
            id="good-news-older-than-bad-news-does-not-recover",
        ),
        pytest.param(
            [*IMPAIRED_BY_QUORUM, tick(120)],
            IMP,
            [(H, S, TransitionReason.EVIDENCE), (S, IMP, TransitionReason.QUORUM)],
            id="silence-is-not-health",
        ),
        pytest.param(
            [*RECOVERING_AT_20, tick(29.9)],
            R,
            [
                (H, S, TransitionReason.EVIDENCE),
                (S, IMP, TransitionReason.QUORUM),
                (IMP, R, TransitionReason.RECOVERY_SIGNALLED),
            ],
            id="hold-down-not-yet-elapsed",
        ),
        pytest.param(
            [*RECOVERING_AT_20, tick(30)],
            H,
            [
                (H, S, TransitionReason.EVIDENCE),
                (S, IMP, TransitionReason.QUORUM),
                (IMP, R, TransitionReason.RECOVERY_SIGNALLED),
                (R, H, TransitionReason.RECOVERED),
            ],
            id="quiet-hold-down-recovers",
        ),
        pytest.param(
            [*RECOVERING_AT_20, sig(K.NODES_NOT_READY, 25)],
            IMP,
            [
                (H, S, TransitionReason.EVIDENCE),
                (S, IMP, TransitionReason.QUORUM),
                (IMP, R, TransitionReason.RECOVERY_SIGNALLED),
                (R, IMP, TransitionReason.RELAPSED),
            ],
            id="impairment-inside-hold-down-relapses",
        ),
        pytest.param(
            [*RECOVERING_AT_20, (sig(K.NODES_NOT_READY, 19.5), 21)],
            R,
            [
                (H, S, TransitionReason.EVIDENCE),
                (S, IMP, TransitionReason.QUORUM),
                (IMP, R, TransitionReason.RECOVERY_SIGNALLED),
            ],
            id="late-impairment-older-than-the-recovery-does-not-relapse",
        ),
        pytest.param(
            [sig(K.HEALTH_ISSUE, 0), sig(K.HEALTH_RESOLVED, 20), (sig(K.HEALTH_ISSUE, 0), 21)],
            R,
            [(H, IMP, TransitionReason.AUTHORITY), (IMP, R, TransitionReason.RECOVERY_SIGNALLED)],
            id="replayed-older-issue-does-not-reopen-a-resolution",
        ),
        pytest.param(
            [(sig(K.HEALTH_RESOLVED, 20), 20), (sig(K.HEALTH_ISSUE, 0), 21)],
            H,
            [],
            id="issue-delivered-after-its-resolution-stays-resolved",
        ),
        pytest.param(
            [(sig(K.HEALTH_ISSUE, -4), 0)],
            IMP,
            [(H, IMP, TransitionReason.AUTHORITY)],
            id="late-authority-inside-the-window-still-counts",
        ),
        pytest.param([(sig(K.HEALTH_ISSUE, -30), 0)], H, [], id="authority-older-than-the-window-is-stale"),
        pytest.param([(sig(K.ZONAL_SHIFT_STARTED, -5), 0)], H, [], id="shift-exactly-one-window-old-is-stale"),
        pytest.param(
            [(sig(K.HEALTH_ISSUE, -60 * 24 * 730), 0)], H, [], id="issue-from-two-years-ago-delivered-today-is-stale"
        ),
        pytest.param(
            [sig(K.HEALTH_ISSUE, 0), (sig(K.HEALTH_RESOLVED, 10), 40)],
            R,
            [(H, IMP, TransitionReason.AUTHORITY), (IMP, R, TransitionReason.RECOVERY_SIGNALLED)],
            id="late-resolution-still-resolves",
        ),
        pytest.param(
            [sig(K.ZONAL_SHIFT_STARTED, 0), (sig(K.ZONAL_SHIFT_ENDED, 10), 40)],
            R,
            [(H, IMP, TransitionReason.AUTHORITY), (IMP, R, TransitionReason.RECOVERY_SIGNALLED)],
            id="late-end-of-a-shift-still-ends-it",
        ),
        pytest.param([sig(K.DRILL_STARTED)], H, [], id="practice-run-or-fis-drill-impairs-nothing"),
        pytest.param([sig(K.UNFOLLOWED_SHIFT_STARTED)], H, [], id="unfollowed-manual-shift-impairs-nothing"),
        pytest.param(
            [sig(K.ALARM_FIRING, 3), (sig(K.INSTANCE_DOWN, 1), 4)],
            IMP,
            [(H, S, TransitionReason.EVIDENCE), (S, IMP, TransitionReason.QUORUM)],
            id="out-of-order-signal-inside-window-still-counts",
        ),
        pytest.param([(sig(K.INSTANCE_DOWN, 0), 5)], H, [], id="observation-older-than-window-is-ignored"),
        pytest.param(
            [(sig(K.INSTANCE_DOWN, 2), 0)], S, [(H, S, TransitionReason.EVIDENCE)], id="future-within-skew-counts"
        ),
        pytest.param([(sig(K.HEALTH_ISSUE, 2.5), 0)], H, [], id="future-beyond-skew-is-ignored"),
        pytest.param([sig(K.INSTANCE_DOWN, zone=None)], H, [], id="zone-less-signal-is-ignored"),
        pytest.param([sig(K.HEALTH_ISSUE, zone="us-east-1b")], H, [], id="other-zones-signal-is-ignored"),
        pytest.param(
            [sig(K.NODES_NOT_READY, evidence={"nodes": "three"})], H, [], id="malformed-node-counts-are-ignored"
        ),
        pytest.param([sig(K.REBALANCE_RECOMMENDATION)], H, [], id="rebalance-hint-is-not-evidence"),
    ],
)
def test_zone_transitions(
    steps: list[Step], final: ZoneStatus, expected: list[tuple[ZoneStatus, ZoneStatus, TransitionReason]]
) -> None:
    state, transitions = run(steps)

    assert moves(transitions) == expected
    assert state.status is final


def test_impairment_hands_off_one_evacuation_named_after_its_start() -> None:
    _, transitions = run([sig(K.HEALTH_ISSUE, 0)])

    (transition,) = transitions
    assert transition.handoff is Handoff.EVACUATE_ZONE
    assert transition.execution_name == f"evacuate-{A}-{int(T0.timestamp())}"
    assert [ref.source_id for ref in transition.signals] == ["health-issue@0/"]


def test_quorum_transition_carries_the_signals_that_made_it() -> None:
    _, transitions = run(IMPAIRED_BY_QUORUM)

    impaired = transitions[-1]
    assert [(r.kind, r.source) for r in impaired.signals] == [
        (K.NODES_NOT_READY, Source.PROBE),
        (K.ALARM_FIRING, Source.CLOUDWATCH),
    ]
    assert impaired.to_dict()["signals"][0]["source_id"] == "nodes-not-ready@0/east-1"


def test_recovered_hands_off_failback_of_the_same_episode() -> None:
    _, transitions = run([*RECOVERING_AT_20, tick(30)])

    recovered = transitions[-1]
    assert recovered.handoff is Handoff.FAILBACK_ZONE
    assert recovered.execution_name == f"failback-{A}-{int(at(1).timestamp())}"


# The hold-down means quiet at the zone's level: what restarts it, and what is only recorded.
TO_RECOVERING = (
    (H, S, TransitionReason.EVIDENCE),
    (S, IMP, TransitionReason.QUORUM),
    (IMP, R, TransitionReason.RECOVERY_SIGNALLED),
)


@pytest.mark.parametrize(
    ("during", "relapses"),
    [
        pytest.param([sig(K.HEALTH_ISSUE, 25, evidence={"eventArn": "arn:2"})], True, id="health-issue-restarts"),
        pytest.param([sig(K.ZONAL_SHIFT_STARTED, 25)], True, id="zonal-shift-restarts"),
        pytest.param([sig(K.EVACUATION_REQUESTED, 25)], True, id="operator-request-restarts"),
        pytest.param([sig(K.NODES_NOT_READY, 25)], True, id="nodes-witness-restarts"),
        pytest.param(
            [sig(K.NODES_NOT_READY, 25, cluster="east-2")], True, id="nodes-witness-of-another-cluster-restarts"
        ),
        pytest.param([sig(K.INSTANCE_DOWN, 24), sig(K.ALARM_FIRING, 25)], True, id="quorum-inside-hold-down-restarts"),
        pytest.param(
            [(sig(K.ALARM_FIRING, 18), 18), sig(K.INSTANCE_DOWN, 21)],
            True,
            id="quorum-with-a-witness-from-before-the-recovery-restarts",
        ),
        pytest.param([sig(K.INSTANCE_DOWN, 25)], False, id="one-instance-stopped-is-recorded"),
        pytest.param([sig(K.SPOT_INTERRUPTION, 25)], False, id="one-spot-interruption-is-recorded"),
        pytest.param([sig(K.ASG_TERMINATING, 25)], False, id="one-scale-in-is-recorded"),
        pytest.param(
            [sig(K.INSTANCE_DOWN, 22, instance=f"i-0{n}") for n in range(5)],
            False,
            id="many-instances-are-one-fleet-voice",
        ),
        pytest.param([sig(K.ALARM_FIRING, 25)], False, id="one-alarm-alone-is-recorded"),
        pytest.param(
            [sig(K.NODES_NOT_READY, 25, evidence={"nodes": "4", "unhealthy": "1"})],
            False,
            id="a-few-nodes-not-ready-is-not-the-zone",
        ),
        pytest.param(
            [(sig(K.ALARM_FIRING, 14), 14), sig(K.INSTANCE_DOWN, 21)],
            False,
            id="a-witness-aged-out-of-the-window-makes-no-quorum",
        ),
    ],
)
def test_only_zone_level_evidence_restarts_the_hold_down(during: list[Step], relapses: bool) -> None:
    state, transitions = run([*RECOVERING_AT_20, *during])

    if relapses:
        assert moves(transitions) == [*TO_RECOVERING, (R, IMP, TransitionReason.RELAPSED)]
        assert transitions[-1].signals, "a relapse names the evidence that ended the hold-down"
        return
    assert moves(transitions) == list(TO_RECOVERING)
    assert state.status is R
    assert any(o.ref.observed_at > at(20) for o in state.observations), "the news is recorded"
    # Quiet at the zone's level: the hold-down ends when it would have without the news, and failback starts.
    state, transitions = run([tick(30)], state)
    assert moves(transitions) == [(R, H, TransitionReason.RECOVERED)]
    assert transitions[0].handoff is Handoff.FAILBACK_ZONE


def test_relapse_continues_the_evacuation_without_starting_another() -> None:
    _, transitions = run([*RECOVERING_AT_20, sig(K.NODES_NOT_READY, 25)])

    evacuation = transitions[1].execution_name
    relapse = transitions[-1]
    assert relapse.reason is TransitionReason.RELAPSED
    assert relapse.handoff is None and not relapse.starts_execution
    assert relapse.execution_name == evacuation


def test_relapse_restarts_the_hold_down() -> None:
    steps: list[Step] = [*RECOVERING_AT_20, sig(K.NODES_NOT_READY, 25), sig(K.NODES_READY, 26), tick(35)]
    state, _ = run(steps)
    assert state.status is R  # ten minutes from 26, not from 20

    state, transitions = run([tick(36)], state)
    assert moves(transitions) == [(R, H, TransitionReason.RECOVERED)]
    assert transitions[0].execution_name == f"failback-{A}-{int(at(1).timestamp())}"


def test_request_carrying_its_run_name_hands_off_that_run() -> None:
    request = sig(K.EVACUATION_REQUESTED, evidence={"execution_name": "console-evacuate-a-1"})

    _, (transition,) = run([request])

    assert transition.execution_name == "console-evacuate-a-1"


def test_request_older_than_the_last_recovery_is_spent() -> None:
    state, _ = run([sig(K.EVACUATION_REQUESTED, 0), sig(K.NODES_READY, 2), tick(12)])
    assert state.status is H

    state, transitions = run([(sig(K.EVACUATION_REQUESTED, 0, sid="evac-2"), 13)], state)
    assert (state.status, transitions) == (H, [])


def test_a_replayed_signal_changes_nothing() -> None:
    once, first = run(IMPAIRED_BY_QUORUM)
    twice, second = run([(IMPAIRED_BY_QUORUM[-1], 1)], once)

    assert twice == once
    assert first and not second


def test_time_never_moves_backwards() -> None:
    state, _ = run([sig(K.INSTANCE_DOWN, 10)])
    later, transitions = run([(sig(K.ALARM_FIRING, 6), 4)], state)  # a caller whose clock lags by 6 minutes

    assert later.updated_at == at(10)
    assert all(t.at >= at(10) for t in transitions)
    assert later.status is IMP  # the lagging clock does not age the instance-down out either


def test_future_signal_is_clamped_to_now() -> None:
    state, _ = run([(sig(K.INSTANCE_DOWN, 1.5), 0)])

    (observation,) = state.observations
    assert observation.ref.observed_at == T0


@pytest.mark.parametrize(
    ("signal", "now", "reason"),
    [
        pytest.param(sig(K.INSTANCE_DOWN, zone=None), 0, IgnoreReason.NO_ZONE, id="zone-less"),
        pytest.param(sig(K.INSTANCE_DOWN, zone="us-east-1z"), 0, IgnoreReason.UNKNOWN_ZONE, id="unknown-zone"),
        pytest.param(sig(K.SCHEDULE_TICK), 0, IgnoreReason.NOT_RELEVANT, id="tick"),
        pytest.param(sig(K.INSTANCE_DOWN, 3), 0, IgnoreReason.FUTURE, id="future"),
        pytest.param(sig(K.INSTANCE_DOWN, 0), 5, IgnoreReason.STALE, id="stale"),
        pytest.param(sig(K.HEALTH_ISSUE, 0), 60, IgnoreReason.STALE, id="authority-opening-stale-on-arrival"),
        pytest.param(sig(K.ZONAL_SHIFT_STARTED, 0), 5, IgnoreReason.STALE, id="shift-opening-stale-on-arrival"),
        pytest.param(sig(K.HEALTH_RESOLVED, 0), 60, None, id="resolution-never-stale"),
        pytest.param(sig(K.ZONAL_SHIFT_ENDED, 0), 600, None, id="shift-end-never-stale"),
        pytest.param(sig(K.DRILL_STARTED), 0, IgnoreReason.NOT_RELEVANT, id="drill"),
        pytest.param(sig(K.NODES_NOT_READY, evidence={}), 0, IgnoreReason.MALFORMED_EVIDENCE, id="no-node-counts"),
        pytest.param(sig(K.NODES_READY, evidence={}), 0, None, id="ready-needs-no-counts"),
    ],
)
def test_screening_names_why_a_signal_is_left_out(signal: Signal, now: float, reason: IgnoreReason | None) -> None:
    assert screen_zone_signal(signal, POLICY.zones, at(now), POLICY) == reason


def test_state_round_trips_through_json() -> None:
    import json

    state, _ = run([*RECOVERING_AT_20, sig(K.HEALTH_ISSUE, 21), sig(K.EVACUATION_REQUESTED, 22)])

    assert ZoneState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
