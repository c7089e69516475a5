"""Static stability across a region's zones: at most `max_impaired_zones` evacuated, never every zone, and
Ferry's own alarm instead when it would be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ferry.domain.detection import (
    DetectionPolicy,
    Handoff,
    IgnoreReason,
    RegionState,
    Transition,
    TransitionReason,
    ZoneStatus,
    detect_region,
    screen_region_signal,
)
from ferry.domain.signals import Signal, SignalKind, Source

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
REGION = "us-east-1"
A, B, C = "us-east-1a", "us-east-1b", "us-east-1c"
POLICY = DetectionPolicy(zones=(A, B, C))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def issue(zone: str, minute: float = 0) -> Signal:
    return Signal(
        kind=SignalKind.HEALTH_ISSUE,
        source=Source.AWS_HEALTH,
        source_id=f"health-{zone}-{minute}",
        observed_at=at(minute),
        region=REGION,
        zone=zone,
        evidence={"eventArn": f"arn:{zone}"},
    )


def resolved(zone: str, minute: float) -> Signal:
    return Signal(
        kind=SignalKind.HEALTH_RESOLVED,
        source=Source.AWS_HEALTH,
        source_id=f"resolved-{zone}-{minute}",
        observed_at=at(minute),
        region=REGION,
        zone=zone,
        evidence={"eventArn": f"arn:{zone}"},
    )


def down(zone: str, minute: float, instance: str = "i-1") -> Signal:
    return Signal(
        kind=SignalKind.INSTANCE_DOWN,
        source=Source.EC2,
        source_id=f"down-{zone}-{instance}-{minute}",
        observed_at=at(minute),
        region=REGION,
        zone=zone,
        instance=f"{instance}-{zone}",
    )


def alarm(zone: str, minute: float) -> Signal:
    return Signal(
        kind=SignalKind.ALARM_FIRING,
        source=Source.CLOUDWATCH,
        source_id=f"alarm-{zone}-{minute}",
        observed_at=at(minute),
        region=REGION,
        zone=zone,
        evidence={"alarmName": f"ferry-{zone}"},
    )


def tick(minute: float) -> Signal:
    return Signal(
        kind=SignalKind.SCHEDULE_TICK,
        source=Source.SCHEDULER,
        source_id=f"tick-{minute}",
        observed_at=at(minute),
        region=REGION,
    )


def run(
    batches: list[list[Signal]], state: RegionState | None = None, policy: DetectionPolicy = POLICY
) -> tuple[RegionState, list[Transition]]:
    state = state or RegionState.new(REGION, policy.zones)
    transitions: list[Transition] = []
    for batch in batches:
        now = max(s.observed_at for s in batch)
        state, made = detect_region(state, batch, now, policy)
        transitions += made
    return state, transitions


def statuses(state: RegionState) -> dict[str, ZoneStatus]:
    return {z.zone: z.status for z in state.zones}


def evacuations(transitions: list[Transition]) -> list[str]:
    return [t.subject for t in transitions if t.handoff is Handoff.EVACUATE_ZONE]


@pytest.mark.parametrize(
    ("batches", "policy", "expected", "evacuated", "held"),
    [
        pytest.param([[issue(A)]], POLICY, {A: ZoneStatus.IMPAIRED}, [A], [], id="one-zone-is-evacuated"),
        pytest.param(
            [[issue(A)], [issue(B, 1)]],
            POLICY,
            {A: ZoneStatus.IMPAIRED, B: ZoneStatus.SUSPECT},
            [A],
            [B],
            id="second-zone-held-when-limit-is-one",
        ),
        pytest.param(
            [[issue(A), issue(B), issue(C)]],
            POLICY,
            {A: ZoneStatus.SUSPECT, B: ZoneStatus.SUSPECT, C: ZoneStatus.SUSPECT},
            [],
            [A, B, C],
            id="every-zone-at-once-starts-nothing",
        ),
        pytest.param(
            [[issue(A), issue(B)]],
            POLICY,
            {A: ZoneStatus.IMPAIRED, B: ZoneStatus.SUSPECT},
            [A],
            [B],
            id="two-zones-at-once-over-limit-one-granted-in-name-order",
        ),
        pytest.param(
            [[issue(A)], [issue(B, 1)], [issue(C, 2)]],
            DetectionPolicy(zones=(A, B, C), max_impaired_zones=2),
            {A: ZoneStatus.IMPAIRED, B: ZoneStatus.IMPAIRED, C: ZoneStatus.SUSPECT},
            [A, B],
            [C],
            id="limit-two-never-reaches-every-zone",
        ),
        pytest.param(
            [[issue(A)], [issue(B, 1)]],
            DetectionPolicy(zones=(A, B)),
            {A: ZoneStatus.IMPAIRED, B: ZoneStatus.SUSPECT},
            [A],
            [B],
            id="two-zone-region-keeps-one",
        ),
        pytest.param(
            [[down(A, 0), alarm(A, 0), down(B, 0), alarm(B, 0), down(C, 0), alarm(C, 0)]],
            POLICY,
            {A: ZoneStatus.SUSPECT, B: ZoneStatus.SUSPECT, C: ZoneStatus.SUSPECT},
            [],
            [A, B, C],
            id="region-wide-quorum-in-one-probe-batch-starts-nothing",
        ),
        pytest.param(
            [[issue(A)], [resolved(A, 20)], [issue(B, 21)]],
            POLICY,
            {A: ZoneStatus.RECOVERING, B: ZoneStatus.SUSPECT},
            [A],
            [B],
            id="recovering-zone-still-counts-as-evacuated",
        ),
    ],
)
def test_static_stability(
    batches: list[list[Signal]],
    policy: DetectionPolicy,
    expected: dict[str, ZoneStatus],
    evacuated: list[str],
    held: list[str],
) -> None:
    state, transitions = run(batches, policy=policy)

    assert {zone: statuses(state)[zone] for zone in expected} == expected
    assert evacuations(transitions) == evacuated
    assert list(state.held) == held
    alarms = [t.subject for t in transitions if t.raises_alarm]
    assert alarms == held


def test_held_zone_is_evacuated_once_the_other_recovers() -> None:
    state, _ = run([[issue(A)], [issue(B, 1)], [resolved(A, 20)]])

    state, transitions = run([[tick(30)]], state)

    assert [(t.subject, t.reason) for t in transitions] == [
        (A, TransitionReason.RECOVERED),
        (B, TransitionReason.AUTHORITY),
    ]
    assert statuses(state)[B] is ZoneStatus.IMPAIRED and not state.held


def test_hold_is_released_quietly_when_the_case_goes_away() -> None:
    state, _ = run([[issue(A)], [down(B, 1), alarm(B, 1)]])
    assert state.held == (B,)

    state, transitions = run([[tick(6)]], state)

    assert state.held == ()
    assert [(t.subject, t.to_status) for t in transitions] == [(B, ZoneStatus.HEALTHY)]


def test_a_held_zone_raises_the_alarm_once() -> None:
    state, first = run([[issue(A)], [issue(B, 1)]])
    state, again = run([[down(B, 2), alarm(B, 2)]], state)

    assert [t.subject for t in first if t.raises_alarm] == [B]
    assert again == []


def test_signals_for_unknown_zones_and_regions_change_nothing() -> None:
    start = RegionState.new(REGION, POLICY.zones)
    foreign = Signal(
        kind=SignalKind.HEALTH_ISSUE,
        source=Source.AWS_HEALTH,
        source_id="eu",
        observed_at=T0,
        region="eu-west-1",
        zone=A,
    )

    for signal in (issue("us-east-1d"), foreign):
        state, transitions = detect_region(start, [signal], T0, POLICY)
        assert (state, transitions) == (start, ())
        assert screen_region_signal(start, signal, T0, POLICY) is IgnoreReason.UNKNOWN_ZONE


def test_a_zone_that_never_reported_is_still_a_zone() -> None:
    state = RegionState.new(REGION, [A, B, C])
    state, _ = detect_region(state, [issue(A), issue(B)], T0, POLICY)

    assert state.zone(C) is not None and state.zone(C).updated_at is None  # type: ignore[union-attr]
    assert state.evacuated == (A,)  # C is silent, but it is why A and B together are not "every zone"


def test_region_state_round_trips_through_json() -> None:
    import json

    state, _ = run([[issue(A)], [issue(B, 1)], [down(C, 2)]])

    assert RegionState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


# --- a resolution placed nowhere closes its issue by event ARN ------------------------------------------------

TWO_AT_ONCE = DetectionPolicy(zones=(A, B, C), max_impaired_zones=2)


def opened(zone: str, arn: str, minute: float = 0) -> Signal:
    return Signal(
        kind=SignalKind.HEALTH_ISSUE,
        source=Source.AWS_HEALTH,
        source_id=f"{arn}-{zone}",
        observed_at=at(minute),
        region=REGION,
        zone=zone,
        evidence={"eventArn": arn},
    )


def zoneless_resolution(arn: str, minute: float, region: str = REGION) -> Signal:
    """What the Health translator sends when the resolution's zone cannot be found (`zoneFrom: eventArn`)."""
    return Signal(
        kind=SignalKind.HEALTH_RESOLVED,
        source=Source.AWS_HEALTH,
        source_id=f"{arn}-resolved-{minute}",
        observed_at=at(minute),
        region=region,
        evidence={"eventArn": arn, "zoneFrom": "eventArn"},
    )


@pytest.mark.parametrize(
    ("batches", "expected"),
    [
        pytest.param(
            [[opened(A, "arn:x")], [zoneless_resolution("arn:x", 5)]],
            {A: ZoneStatus.RECOVERING, B: ZoneStatus.HEALTHY, C: ZoneStatus.HEALTHY},
            id="closes-the-issue-in-its-zone",
        ),
        pytest.param(
            [[opened(A, "arn:x"), opened(B, "arn:x")], [zoneless_resolution("arn:x", 5)]],
            {A: ZoneStatus.RECOVERING, B: ZoneStatus.RECOVERING, C: ZoneStatus.HEALTHY},
            id="closes-it-in-every-zone-it-was-opened-in",
        ),
        pytest.param(
            [[opened(A, "arn:x"), opened(B, "arn:y")], [zoneless_resolution("arn:x", 5)]],
            {A: ZoneStatus.RECOVERING, B: ZoneStatus.IMPAIRED, C: ZoneStatus.HEALTHY},
            id="another-events-issue-stays-open",
        ),
        pytest.param(
            [[opened(A, "arn:x")], [zoneless_resolution("arn:other", 5)]],
            {A: ZoneStatus.IMPAIRED, B: ZoneStatus.HEALTHY, C: ZoneStatus.HEALTHY},
            id="an-unknown-arn-closes-nothing",
        ),
        pytest.param(
            [[opened(A, "arn:x")], [zoneless_resolution("arn:x", 5, region="eu-west-1")]],
            {A: ZoneStatus.IMPAIRED, B: ZoneStatus.HEALTHY, C: ZoneStatus.HEALTHY},
            id="the-same-arn-in-another-region-closes-nothing",
        ),
        pytest.param(
            [[opened(A, "arn:x", minute=3)], [zoneless_resolution("arn:x", 1), tick(4)]],
            {A: ZoneStatus.IMPAIRED, B: ZoneStatus.HEALTHY, C: ZoneStatus.HEALTHY},
            id="a-resolution-older-than-the-opening-closes-nothing",
        ),
    ],
)
def test_a_zoneless_health_resolution_closes_its_issue_wherever_it_is_open(
    batches: list[list[Signal]], expected: dict[str, ZoneStatus]
) -> None:
    state, _ = run(batches, policy=TWO_AT_ONCE)

    assert statuses(state) == expected


def test_a_zoneless_resolution_counts_where_its_issue_is_open_and_is_zone_less_elsewhere() -> None:
    state, _ = run([[opened(A, "arn:x")]], policy=TWO_AT_ONCE)

    assert screen_region_signal(state, zoneless_resolution("arn:x", 5), at(5), TWO_AT_ONCE) is None
    assert screen_region_signal(state, zoneless_resolution("arn:y", 5), at(5), TWO_AT_ONCE) is IgnoreReason.NO_ZONE
