"""SetZone end to end on the sandbox (act mode, the synthesized ferry-SetZone calling the real zone-override
handler): zone a fails with an AWS Health issue, comes back, and the Health "closed" event never arrives, so
the zone stays IMPAIRED however healthy its nodes look. A person marks it healthy: the stuck authority is
closed in their name, the zone goes RECOVERING, and after the normal hold-down it is HEALTHY and failback is
handed off, with the person and their reason in the audit. A bad request changes nothing and names its field.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from ferry.domain.modes import Mode
from sandbox.gameday import moments
from sandbox.scenario import ZoneOutage, ZoneRecovery, load
from sandbox.stepfunctions import ExecutionView
from sandbox.world import World
from tests.conftest import load_event

pytestmark = pytest.mark.xdist_group("set-zone")

ZONE = "us-east-1a"
OUTAGE_AT, RECOVERY_AT, SET_AT = 60.0, 5 * 60.0, 9 * 60.0
HOLD_DOWN = 600.0


def run_until(world: World, until: float, statuses: list[tuple[float, str]]) -> None:
    for at in moments(world, until, 30.0):
        if at <= world.offset():
            continue
        world.advance_to(at)
        world.run_due()
        world.deliver_events()
        world.run_runbooks()
        state = world.zone_state(ZONE)
        statuses.append((at, state["status"] if state else "healthy"))


def start_set_zone(world: World, name: str, payload: dict) -> ExecutionView:
    """A person starts ferry-SetZone from the console; the world runs its Task."""
    assert world.runbooks is not None
    sfn = world.aws.client("stepfunctions")
    sfn.start_execution(stateMachineArn=world.runbooks.arn("SetZone"), name=name, input=json.dumps(payload))
    world.run_runbooks()
    (execution,) = [e for e in world.executions("SetZone") if e.name == name]
    return execution


@pytest.fixture(scope="module")
def drill() -> Iterator[tuple[World, list[tuple[float, str]], ExecutionView]]:
    scenario = dataclasses.replace(
        load("az-outage"),
        steps=(
            ZoneOutage(at=OUTAGE_AT, zone=ZONE, send_events=True, health_event_after=60.0),
            # The zone comes back, EC2 says so, the probes say so; AWS Health's closing never comes.
            ZoneRecovery(at=RECOVERY_AT, zone=ZONE, send_events=True, health_event_after=None),
        ),
        expect=(),
    )
    statuses: list[tuple[float, str]] = []
    with World(scenario, mode=Mode.ACT) as world:
        run_until(world, SET_AT, statuses)
        request = {**load_event("stepfunctions/set-zone"), "zone": ZONE, "requestedBy": "alice@example.com"}
        execution = start_set_zone(world, "set-zone-a-healthy", request)
        run_until(world, SET_AT + HOLD_DOWN + 120.0, statuses)
        yield world, statuses, execution


def test_without_the_closing_event_the_zone_stays_impaired_however_healthy(drill) -> None:
    _, statuses, _ = drill

    assert {seen for at, seen in statuses if RECOVERY_AT + 120 <= at < SET_AT} == {"impaired"}


def test_set_zone_healthy_clears_the_stuck_authority_and_recovers_through_the_hold_down(drill) -> None:
    world, statuses, execution = drill

    assert execution.status == "SUCCEEDED"
    report = execution.output or {}
    assert (report["statusBefore"], report["statusAfter"]) == ("impaired", "recovering")
    assert report["requestedBy"] == "alice@example.com"
    healthy = next(at for at, seen in statuses if at > SET_AT and seen == "healthy")
    assert healthy - SET_AT >= HOLD_DOWN
    assert {seen for at, seen in statuses if SET_AT < at < SET_AT + HOLD_DOWN} == {"recovering"}
    (authority,) = [a for a in world.zone_state(ZONE)["state"]["authorities"] if a["key"].startswith("health:")]
    assert authority["open"] is False
    assert authority["ref"]["source_id"].startswith("alice@example.com/")


def test_the_person_and_their_reason_are_audited_and_failback_is_handed_off(drill) -> None:
    world, _, _ = drill
    day = world.clock.now().date().isoformat()
    audits = [item["record"] for item in world.table_items(f"AUDIT#{day}")]

    (override,) = [a for a in audits if str(a.get("what", "")).startswith(f"zone {ZONE} set healthy")]
    assert override["who"] == "alice@example.com"
    assert override["why"] == load_event("stepfunctions/set-zone")["reason"]
    assert override["execution_name"] == "set-zone-a-healthy"
    (failback,) = [a for a in audits if a.get("runbook") == "FailbackZone"]
    assert failback["input"]["zone"] == ZONE


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"zone": "us-east-1z"}, "zone", id="unknown-zone"),
        pytest.param({"state": "impaired", "until": "2020-01-01T00:00:00Z"}, "until", id="until-in-the-past"),
        pytest.param({"state": "broken"}, "state", id="unknown-state"),
        pytest.param({"requestedBy": None}, "requestedBy", id="nobody-asked"),
    ],
)
def test_a_bad_request_is_rejected_naming_the_field_and_changes_nothing(drill, change: dict, field: str) -> None:
    world, _, _ = drill
    before = world.zone_state(ZONE)
    request = {**load_event("stepfunctions/set-zone"), **change}
    request = {k: v for k, v in request.items() if v is not None}

    execution = start_set_zone(world, f"set-zone-bad-{field}", request)

    assert (execution.status, execution.error) == ("FAILED", "InputError")
    assert (execution.cause or "").startswith(f"{field}:") or f"; {field}:" in (execution.cause or "")
    assert world.zone_state(ZONE) == before
