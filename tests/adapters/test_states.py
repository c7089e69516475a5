"""The state store on moto: states read with their versions and written only on them (a write over another
writer's is a Conflict that changes nothing; a region's untouched zones are checked too), control planes
read with their registration, and states that survive DynamoDB. Deciding and retrying lost races is the
verdicts service's (tests/adapters/test_verdicts.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings

from ferry.adapters.registry import Registry
from ferry.adapters.states import RegionSnapshot, StateTable, _from_item, _to_item, zone_key
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.detection import (
    ControlPlaneState,
    DetectionPolicy,
    RegionState,
    detect_control_plane,
    detect_region,
)
from ferry.domain.errors import Conflict, FerryError, Throttled
from ferry.domain.signals import Signal, SignalKind, Source
from tests.unit.test_detection_properties import control_plane_timeline, replay, run_control_plane, timeline

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
REGION = "us-east-1"
A, B, C = "us-east-1a", "us-east-1b", "us-east-1c"
POLICY = DetectionPolicy(zones=(A, B, C))
K = SignalKind


def zone_signal(kind: SignalKind, source: Source, sid: str, zone: str = A, **evidence: str) -> Signal:
    return Signal(kind=kind, source=source, source_id=sid, observed_at=T0, region=REGION, zone=zone, evidence=evidence)


def issue(zone: str, sid: str) -> Signal:
    return zone_signal(K.HEALTH_ISSUE, Source.AWS_HEALTH, sid, zone, eventArn=f"arn:{zone}")


def round_signal(kind: SignalKind, minute: int, cluster: str = "east-1") -> Signal:
    return Signal(
        kind=kind,
        source=Source.PROBE,
        source_id=f"round-{minute}",
        observed_at=T0 + timedelta(minutes=minute),
        region=REGION,
        cluster=cluster,
    )


def raw_zone_item(moto_table: Any, zone: str) -> dict[str, Any]:
    return moto_table.client.get_item(TableName=moto_table.name, Key=_to_item(zone_key(REGION, zone)))["Item"]


def impaired(table: StateTable, zone: str, sid: str) -> tuple[RegionSnapshot, RegionState]:
    """The region as read, and as it is once `zone` is impaired (an AWS Health issue)."""
    before = table.read_region(REGION, POLICY.zones)
    after, _ = detect_region(before.state, [issue(zone, sid)], T0, POLICY)
    return before, after


def test_a_first_write_puts_every_zone_of_the_region_at_version_one(moto_table: Any) -> None:
    table = StateTable(moto_table.client, moto_table.name)

    table.write_region(*impaired(table, A, "h1"))

    item = raw_zone_item(moto_table, A)
    assert (item["version"], item["status"], item["updated_at"]) == (
        {"N": "1"},
        {"S": "impaired"},
        {"S": T0.isoformat()},
    )
    assert {z: raw_zone_item(moto_table, z)["status"]["S"] for z in (B, C)} == {B: "healthy", C: "healthy"}
    read = table.read_region(REGION, POLICY.zones)
    assert read.state.evacuated == (A,) and read.versions == {A: 1, B: 1, C: 1}


def test_a_write_on_a_stale_read_is_a_conflict_and_changes_nothing(moto_table: Any) -> None:
    table = StateTable(moto_table.client, moto_table.name)
    stale = impaired(table, A, "h1")
    table.write_region(*impaired(table, A, "h0"))  # another writer, between our read and our write

    with pytest.raises(Conflict, match="zones of us-east-1"):
        table.write_region(*stale)
    assert raw_zone_item(moto_table, A)["version"] == {"N": "1"}


def test_the_zones_a_write_leaves_unchanged_are_checked_too(moto_table: Any) -> None:
    table = StateTable(moto_table.client, moto_table.name)
    table.write_region(*impaired(table, A, "h1"))
    ours = table.read_region(REGION, POLICY.zones)
    table.write_region(*impaired(table, A, "h2"))  # another writer changes zone a after our read
    suspect_b, _ = detect_region(ours.state, [zone_signal(K.INSTANCE_DOWN, Source.EC2, "ec2-b", B)], T0, POLICY)

    with pytest.raises(Conflict):  # we change only zone b, but we decided it on zone a as it was
        table.write_region(ours, suspect_b)
    assert (raw_zone_item(moto_table, A)["version"], raw_zone_item(moto_table, B)["version"]) == (
        {"N": "2"},
        {"N": "1"},
    )


def registered(moto_table: Any, name: str = "east-1", instances: tuple[str, ...] = ()) -> ClusterRegistration:
    registration = ClusterRegistration(
        name=name,
        kind=ClusterKind.SELF_MANAGED,
        endpoint="https://east-1.example",
        region=REGION,
        zones=(A, B, C),
        credentials_secret="ferry/east-1",
        control_plane_instances=instances,
    )
    Registry(moto_table.client, moto_table.name).register(registration)
    return registration


def test_a_control_plane_is_read_with_its_clusters_registration(moto_table: Any) -> None:
    registration = registered(moto_table, instances=("i-cp1", "i-cp2"))
    table = StateTable(moto_table.client, moto_table.name)

    before = table.read_control_plane("east-1")
    down, _ = detect_control_plane(ControlPlaneState("east-1"), [round_signal(K.API_UNREACHABLE, 0)], T0, POLICY)
    table.write_control_plane(before, down)
    after = table.read_control_plane("east-1")

    assert (before.state, before.version, before.registration) == (None, None, registration)
    assert (after.state, after.version, after.registration) == (down, 1, registration)
    assert table.read_control_plane("stranger").registration is None


def test_a_control_plane_written_on_a_stale_read_is_a_conflict(moto_table: Any) -> None:
    table = StateTable(moto_table.client, moto_table.name)
    stale = table.read_control_plane("east-1")
    first, _ = detect_control_plane(ControlPlaneState("east-1"), [round_signal(K.API_UNREACHABLE, 0)], T0, POLICY)
    table.write_control_plane(stale, first)

    with pytest.raises(Conflict, match="control plane of east-1"):
        table.write_control_plane(stale, first)
    assert table.read_control_plane("east-1").version == 1


class Refusing:
    """A DynamoDB client whose transactions are cancelled with these reasons."""

    def __init__(self, reasons: list[str], *, parsed: bool = True) -> None:
        self._reasons = reasons
        self._parsed = parsed

    def transact_get_items(self, **kwargs: Any) -> Any:
        return {"Responses": [{} for _ in kwargs["TransactItems"]]}

    def transact_write_items(self, **kwargs: Any) -> Any:
        message = "Transaction cancelled, please refer cancellation reasons for specific reasons "
        message += f"[{', '.join(self._reasons)}]"
        response: dict[str, Any] = {"Error": {"Code": "TransactionCanceledException", "Message": message}}
        if self._parsed:
            response["CancellationReasons"] = [{"Code": r} for r in self._reasons]
        raise ClientError(response, "TransactWriteItems")


@pytest.mark.parametrize(
    ("reasons", "parsed", "lost_race"),
    [
        pytest.param(["ConditionalCheckFailed", "None", "None"], True, True, id="condition-failed"),
        pytest.param(["None", "TransactionConflict", "None"], True, True, id="transaction-conflict"),
        pytest.param(["ConditionalCheckFailed", "None", "None"], False, True, id="reasons-only-in-the-message"),
        pytest.param(["ValidationError", "None", "None"], True, False, id="validation-error"),
    ],
)
def test_only_a_lost_race_is_a_conflict(reasons: list[str], parsed: bool, lost_race: bool) -> None:
    table = StateTable(Refusing(reasons, parsed=parsed), "ferry")

    with pytest.raises(FerryError) as raised:
        table.write_region(*impaired(table, A, "h1"))
    assert isinstance(raised.value, Conflict) is lost_race


class Throttling:
    def transact_get_items(self, **kwargs: Any) -> Any:
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
        raise ClientError({"Error": error}, "TransactGetItems")


def test_throttling_becomes_ferrys_throttled() -> None:
    with pytest.raises(Throttled):
        StateTable(Throttling(), "ferry").read_region(REGION, POLICY.zones)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timeline(size=15), control_plane_timeline(size=15))
def test_states_round_trip_through_dynamodb_items(
    batches: list[tuple[datetime, list[Signal]]], steps: list[tuple[datetime, Signal]]
) -> None:
    region, _ = replay(RegionState.new(REGION, POLICY.zones), batches, POLICY)
    plane, _ = run_control_plane(steps)

    for state in (*region.zones, plane):
        item = _to_item({"state": state.to_dict()})
        assert json.loads(json.dumps(item))  # plain JSON on the wire: no floats, no datetimes
        assert type(state).from_dict(_from_item(item)["state"]) == state
