"""Detection end to end on the sandbox, by probes alone: zone a goes dark with AWS silent, then comes back.

What a user relies on: the probe sees the outage within three probe periods and EvacuateZone is requested
exactly once however many rounds keep seeing it; when the zone is back, failback is requested only after
the ten-minute hold-down, exactly once.
"""

from __future__ import annotations

import dataclasses

import pytest

from sandbox.gameday import moments
from sandbox.scenario import ZoneOutage, ZoneRecovery, load
from sandbox.world import World

ZONE = "us-east-1a"
OUTAGE_AT, RECOVERY_AT = 60.0, 8 * 60.0
PROBE_PERIOD, HOLD_DOWN = 60.0, 600.0


@pytest.fixture(scope="module")
def drill():
    scenario = dataclasses.replace(
        load("az-outage"),
        steps=(
            ZoneOutage(at=OUTAGE_AT, zone=ZONE, send_events=False, health_event_after=None),
            ZoneRecovery(at=RECOVERY_AT, zone=ZONE, send_events=False, health_event_after=None),
        ),
        duration=RECOVERY_AT + HOLD_DOWN + 5 * PROBE_PERIOD,
        expect=(),
    )
    statuses: list[tuple[float, str]] = []
    with World(scenario) as world:
        for at in moments(world, scenario.duration, 30.0):
            world.advance_to(at)
            world.run_due()
            world.deliver_events()
            state = world.zone_state(ZONE)
            statuses.append((at, state["status"] if state else "healthy"))
        day = world.clock.now().date().isoformat()
        audits = [item["record"] for item in world.table_items(f"AUDIT#{day}")]
    return statuses, audits


def first(statuses: list[tuple[float, str]], status: str, after: float = 0.0) -> float:
    return next(at for at, seen in statuses if seen == status and at >= after)


def runbooks(audits: list[dict], name: str) -> list[dict]:
    return [a for a in audits if a.get("runbook") == name]


def test_probes_alone_impair_the_zone_within_three_periods(drill) -> None:
    statuses, _ = drill

    assert first(statuses, "impaired") - OUTAGE_AT <= 3 * PROBE_PERIOD


def test_evacuation_is_requested_exactly_once(drill) -> None:
    _, audits = drill

    (evacuation,) = runbooks(audits, "EvacuateZone")
    assert evacuation["input"]["zone"] == ZONE
    assert evacuation["execution_name"].startswith(f"evacuate-{ZONE}-")


def test_recovery_waits_for_the_hold_down_then_fails_back_once(drill) -> None:
    statuses, audits = drill
    recovering = first(statuses, "recovering", after=RECOVERY_AT)
    healthy = first(statuses, "healthy", after=RECOVERY_AT)

    assert healthy - recovering >= HOLD_DOWN
    assert all(seen != "healthy" for at, seen in statuses if recovering <= at < recovering + HOLD_DOWN)
    (failback,) = runbooks(audits, "FailbackZone")
    assert failback["input"]["zone"] == ZONE
