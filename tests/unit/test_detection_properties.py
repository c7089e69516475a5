"""Properties of the detector over any signal sequence (hypothesis): the safety invariants of DESIGN.md.

- bounded blast radius: never more than `max_impaired_zones` zones evacuated, never every zone;
- every zone failing at once (in one batch) starts no evacuation, and later signals do not change that;
- one evacuation per episode: between two evacuation starts of a zone there is a RECOVERED, so flapping
  inside the hold-down starts one evacuation, not one per flap;
- a replayed signal leaves the state as one delivery did (and later, it is no more than a clock tick);
- every state survives a JSON round trip unchanged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ferry.domain.detection import (
    ControlPlaneState,
    ControlPlaneStatus,
    DetectionPolicy,
    Handoff,
    RegionState,
    Transition,
    TransitionReason,
    ZoneStatus,
    detect_control_plane,
    detect_region,
    with_roster,
)
from ferry.domain.signals import Signal, SignalKind, Source
from tests.unit.picking import VARIANTS, Picker

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
K = SignalKind
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZONE_KINDS = {
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
}
IMPAIRING = [K.HEALTH_ISSUE, K.ZONAL_SHIFT_STARTED, K.INSTANCE_DOWN, K.ALARM_FIRING, K.NODES_NOT_READY]
FLEET_NOISE = [K.INSTANCE_DOWN, K.INSTANCE_UP, K.SPOT_INTERRUPTION, K.ASG_TERMINATING, K.REBALANCE_RECOMMENDATION]


@st.composite
def zone_signals(
    draw: st.DrawFn,
    now: datetime,
    kinds: list[SignalKind] | None = None,
    zone: str | None = None,
    lags: tuple[int, int] = (-90, 600),
) -> Signal:
    return signal_from(Picker(draw(VARIANTS)), now, kinds, zone, lags)


def signal_from(
    pick: Picker,
    now: datetime,
    kinds: list[SignalKind] | None,
    zone: str | None,
    lags: tuple[int, int] = (-90, 600),  # some from the future (within and beyond skew), some stale
) -> Signal:
    """One draw per signal (tests.unit.picking): its digits pick the kind, the lag and every other field."""
    kind = pick.one_of(kinds or list(ZONE_KINDS))
    lag = lags[0] + pick(lags[1] - lags[0] + 1)
    return Signal(
        kind=kind,
        source=ZONE_KINDS[kind],
        source_id=f"e{pick(31)}",
        observed_at=now - timedelta(seconds=lag),
        region=REGION,
        zone=None if kind is K.SCHEDULE_TICK else (zone or ZONES[pick(3)]),
        cluster=("east-1", "east-2")[pick(2)],
        instance=("i-1", "i-2", "i-3")[pick(3)],
        evidence={
            "eventArn": ("arn:1", "arn:2")[pick(2)],
            "alarmName": ("ferry-a", "ferry-b")[pick(2)],
            "trigger": "autoshift",
            "nodes": "4",
            "unhealthy": str(pick(5)),
        },
    )


@st.composite
def timeline(
    draw: st.DrawFn,
    kinds: list[SignalKind] | None = None,
    zone: str | None = None,
    max_gap: int = 400,
    size: int = 30,
    start: datetime = T0,
) -> list[tuple[datetime, list[Signal]]]:
    """Batches of one to three signals, each with the time it is decided at (non-decreasing)."""
    now = start
    batches = []
    for _ in range(draw(st.integers(1, size))):
        shape = Picker(draw(VARIANTS))
        now += timedelta(seconds=shape(max_gap + 1))
        batches.append((now, [signal_from(Picker(draw(VARIANTS)), now, kinds, zone) for _ in range(1 + shape(3))]))
    return batches


def replay(
    state: RegionState, batches: list[tuple[datetime, list[Signal]]], policy: DetectionPolicy
) -> tuple[RegionState, list[Transition]]:
    transitions: list[Transition] = []
    for now, batch in batches:
        state, made = detect_region(state, batch, now, policy)
        transitions += made
    return state, transitions


def tick(now: datetime) -> Signal:
    return Signal(kind=K.SCHEDULE_TICK, source=Source.SCHEDULER, source_id="tick", observed_at=now, region=REGION)


@SETTINGS
@given(timeline(), st.sampled_from([1, 2]))
def test_never_more_than_the_limit_and_never_every_zone_evacuated(
    batches: list[tuple[datetime, list[Signal]]], limit: int
) -> None:
    policy = DetectionPolicy(zones=ZONES, max_impaired_zones=limit)
    state = RegionState.new(REGION, ZONES)
    for now, batch in batches:
        state, _ = detect_region(state, batch, now, policy)
        assert len(state.evacuated) <= limit < len(ZONES)


@SETTINGS
@given(timeline(kinds=FLEET_NOISE, size=10), st.data())
def test_every_zone_failing_at_once_starts_no_evacuation(
    prefix: list[tuple[datetime, list[Signal]]], data: st.DataObject
) -> None:
    policy = DetectionPolicy(zones=ZONES)
    state, _ = replay(RegionState.new(REGION, ZONES), prefix, policy)
    assume(not state.evacuated)
    now = prefix[-1][0] + timedelta(seconds=30)
    # Believed: not from the future, and not so old that it arrives stale.
    believed = (0, int(policy.window.total_seconds()) - 1)
    outage = [
        data.draw(zone_signals(now, [K.HEALTH_ISSUE, K.ZONAL_SHIFT_STARTED, K.EVACUATION_REQUESTED], zone, believed))
        for zone in ZONES
    ]
    assert all(now - policy.window < s.observed_at <= now for s in outage)
    noise = data.draw(st.lists(zone_signals(now, IMPAIRING), max_size=3))
    after = data.draw(timeline(kinds=IMPAIRING, size=10, start=now))

    state, at_once = detect_region(state, [*outage, *noise], now, policy)
    state, later = replay(state, after, policy)

    assert not [t for t in [*at_once, *later] if t.handoff is Handoff.EVACUATE_ZONE]
    assert {t.subject for t in at_once if t.raises_alarm} == set(ZONES)
    assert state.held == ZONES


def episodes_are_well_formed(transitions: list[Transition]) -> None:
    """Per zone: evacuation, then (maybe relapses), then failback, then maybe a new evacuation."""
    open_episode: dict[str, str] = {}
    names = [t.execution_name for t in transitions if t.handoff is Handoff.EVACUATE_ZONE]
    assert len(names) == len(set(names))
    for t in transitions:
        if t.handoff is Handoff.EVACUATE_ZONE:
            assert t.subject not in open_episode, f"second evacuation of {t.subject} in one episode"
            open_episode[t.subject] = t.execution_name or ""
        elif t.reason is TransitionReason.RELAPSED:
            assert t.handoff is None and t.execution_name == open_episode[t.subject]
        elif t.handoff is Handoff.FAILBACK_ZONE:
            assert open_episode.pop(t.subject)


@SETTINGS
@given(timeline())
def test_one_evacuation_per_episode_whatever_the_sequence(batches: list[tuple[datetime, list[Signal]]]) -> None:
    _, transitions = replay(RegionState.new(REGION, ZONES), batches, DetectionPolicy(zones=ZONES))

    episodes_are_well_formed(transitions)


@SETTINGS
@given(timeline(zone=ZONES[0], max_gap=30, size=20, start=T0 + timedelta(seconds=1)))
def test_flapping_inside_the_hold_down_starts_one_evacuation(batches: list[tuple[datetime, list[Signal]]]) -> None:
    policy = DetectionPolicy(zones=ZONES)
    assume(batches[-1][0] - T0 < policy.hold_down)
    start = Signal(
        kind=K.HEALTH_ISSUE, source=Source.AWS_HEALTH, source_id="start", observed_at=T0, region=REGION, zone=ZONES[0]
    )
    state, first = detect_region(RegionState.new(REGION, ZONES), [start], T0, policy)

    _, transitions = replay(state, batches, policy)

    evacuations = [t for t in [*first, *transitions] if t.handoff is Handoff.EVACUATE_ZONE]
    assert len(evacuations) == 1


@SETTINGS
@given(timeline(size=15), st.data())
def test_a_signal_replayed_is_a_signal_delivered_once(
    batches: list[tuple[datetime, list[Signal]]], data: st.DataObject
) -> None:
    policy = DetectionPolicy(zones=ZONES)
    state, _ = replay(RegionState.new(REGION, ZONES), batches, policy)
    now = batches[-1][0]
    signal = data.draw(zone_signals(now))

    once, _ = detect_region(state, [signal], now, policy)
    twice, again = detect_region(once, [signal], now, policy)
    assert (twice, again) == (once, ())

    if signal.observed_at <= now:  # a replay later is no more than the passing of time
        later = now + timedelta(seconds=data.draw(st.integers(0, 900)))
        assert detect_region(once, [signal], later, policy) == detect_region(once, [tick(later)], later, policy)


@SETTINGS
@given(timeline())
def test_region_states_round_trip_through_json(batches: list[tuple[datetime, list[Signal]]]) -> None:
    state, _ = replay(RegionState.new(REGION, ZONES), batches, DetectionPolicy(zones=ZONES))

    assert RegionState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


# ------------------------------------------------------------------------------------------ control planes

CP_KINDS = [
    K.API_HEALTHY,
    K.API_UNREACHABLE,
    K.CONTROL_PLANE_MEMBER_HEALTHY,
    K.CONTROL_PLANE_MEMBER_UNHEALTHY,
    K.INSTANCE_DOWN,
    K.INSTANCE_UP,
]


@st.composite
def control_plane_timeline(draw: st.DrawFn, size: int = 40) -> list[tuple[datetime, Signal]]:
    now = T0
    steps = []
    for _ in range(draw(st.integers(1, size))):
        pick = Picker(draw(VARIANTS))
        now += timedelta(seconds=pick(201))
        kind = pick.one_of(CP_KINDS)
        steps.append(
            (
                now,
                Signal(
                    kind=kind,
                    source=Source.EC2 if kind in (K.INSTANCE_DOWN, K.INSTANCE_UP) else Source.PROBE,
                    source_id=f"r{pick(41)}",
                    observed_at=now - timedelta(seconds=pick(491) - 90),
                    region=REGION,
                    cluster=pick.one_of(("east-1", "east-1", "east-2")),
                    instance=pick.one_of(("i-cp1", "i-cp2", "i-cp3", "i-w1")),
                    evidence=pick.one_of(({}, {"role": "control-plane"})),
                ),
            )
        )
    return steps


def run_control_plane(steps: list[tuple[datetime, Signal]]) -> tuple[ControlPlaneState, list[Transition]]:
    state = with_roster(ControlPlaneState("east-1"), ["i-cp1", "i-cp2", "i-cp3"])
    transitions: list[Transition] = []
    for now, signal in steps:
        state, made = detect_control_plane(state, [signal], now, DetectionPolicy())
        transitions += made
    return state, transitions


@SETTINGS
@given(control_plane_timeline())
def test_one_failover_per_outage_and_one_replacement_per_failure(steps: list[tuple[datetime, Signal]]) -> None:
    state = with_roster(ControlPlaneState("east-1"), ["i-cp1", "i-cp2", "i-cp3"])
    for now, signal in steps:
        before = state
        state, transitions = detect_control_plane(state, [signal], now, DetectionPolicy())
        for t in transitions:
            if t.handoff is Handoff.FAILOVER_CLUSTER:
                assert before.status is not ControlPlaneStatus.DOWN  # no second failover while down
            if t.handoff is Handoff.REPLACE_CONTROL_PLANE_MEMBER:
                member = before.member(t.member or "")
                assert member is None or member.replacement is None  # not while its replacement runs
                assert state.status is not ControlPlaneStatus.DOWN


@SETTINGS
@given(control_plane_timeline(size=20), st.data())
def test_a_replayed_control_plane_signal_changes_nothing(
    steps: list[tuple[datetime, Signal]], data: st.DataObject
) -> None:
    state, _ = run_control_plane(steps)
    now, signal = steps[data.draw(st.integers(0, len(steps) - 1))]
    now = max(now, steps[-1][0])

    once, _ = detect_control_plane(state, [signal], now, DetectionPolicy())
    twice, again = detect_control_plane(once, [signal], now, DetectionPolicy())

    assert (twice, again) == (once, ())
    assert ControlPlaneState.from_dict(json.loads(json.dumps(once.to_dict()))) == once


@SETTINGS
@given(
    timeline(kinds=[*FLEET_NOISE, K.SCHEDULE_TICK], zone=ZONES[0], max_gap=90, size=20, start=T0 + timedelta(minutes=2))
)
def test_fleet_noise_in_a_recovering_zone_never_restarts_the_hold_down(
    batches: list[tuple[datetime, list[Signal]]],
) -> None:
    """A busy fleet stops, starts and loses instances all the time: none of it is news about the zone, so a
    recovering zone fails back at the end of its hold-down whatever the fleet says meanwhile."""
    policy = DetectionPolicy(zones=ZONES)
    issue = {"eventArn": "arn:1"}
    opened = Signal(K.HEALTH_ISSUE, Source.AWS_HEALTH, "open", T0, REGION, ZONES[0], evidence=issue)
    closed = Signal(
        K.HEALTH_RESOLVED, Source.AWS_HEALTH, "close", T0 + timedelta(minutes=1), REGION, ZONES[0], evidence=issue
    )
    state, _ = detect_region(RegionState.new(REGION, ZONES), [opened], T0, policy)
    state, _ = detect_region(state, [closed], closed.observed_at, policy)
    assert state.zone(ZONES[0]).status is ZoneStatus.RECOVERING  # type: ignore[union-attr]

    end = closed.observed_at + policy.hold_down
    last = max(end, batches[-1][0])
    _, transitions = replay(state, [*batches, (last, [tick(last)])], policy)

    mine = [t for t in transitions if t.subject == ZONES[0] and t.from_status is ZoneStatus.RECOVERING]
    assert [t.reason for t in mine] == [TransitionReason.RECOVERED]
    assert mine[0].at == min(at for at in [*(at for at, _ in batches), last] if at >= end)
