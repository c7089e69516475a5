"""The state store on moto: versioned conditional writes, lost races retried from a fresh read with no
transition lost or doubled, static stability kept under races, and states that survive DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings

from ferry.adapters.registry import Registry
from ferry.adapters.states import StateTable, _from_item, _to_item, apply_signal, apply_signals, zone_key
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.detection import (
    ControlPlaneStatus,
    DetectionPolicy,
    Handoff,
    RegionState,
    Transition,
    TransitionReason,
    ZoneStatus,
)
from ferry.domain.errors import ConfigError, Conflict, Throttled
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


class Interfering:
    """The DynamoDB client, with another writer slipping in between our read and each of our first writes."""

    def __init__(self, client: Any, interfere: Callable[[], None], times: int = 1) -> None:
        self._client = client
        self._interfere = interfere
        self.times = times
        self.reads = 0
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_get_items(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self._client.transact_get_items(**kwargs)

    def _before_write(self) -> None:
        self.writes += 1
        if self.times:
            self.times -= 1
            self._interfere()

    def transact_write_items(self, **kwargs: Any) -> Any:
        self._before_write()
        return self._client.transact_write_items(**kwargs)

    def put_item(self, **kwargs: Any) -> Any:
        self._before_write()
        return self._client.put_item(**kwargs)


def evacuations(transitions: Iterable[Transition]) -> list[str]:
    return [t.subject for t in transitions if t.handoff is Handoff.EVACUATE_ZONE]


def raw_zone_item(moto_table: Any, zone: str) -> dict[str, Any]:
    return moto_table.client.get_item(TableName=moto_table.name, Key=_to_item(zone_key(REGION, zone)))["Item"]


def test_first_signal_writes_every_zone_of_the_region_at_version_one(moto_table: Any) -> None:
    table = StateTable(moto_table.client, moto_table.name)

    transitions = apply_signal(table, issue(A, "h1"), T0, POLICY)

    assert evacuations(transitions) == [A]
    item = raw_zone_item(moto_table, A)
    assert (item["version"], item["status"], item["updated_at"]) == (
        {"N": "1"},
        {"S": "impaired"},
        {"S": T0.isoformat()},
    )
    assert {z: raw_zone_item(moto_table, z)["status"]["S"] for z in (B, C)} == {B: "healthy", C: "healthy"}


def test_a_replayed_signal_writes_nothing_and_hands_off_nothing(moto_table: Any) -> None:
    table = StateTable(moto_table.client, moto_table.name)
    apply_signal(table, issue(A, "h1"), T0, POLICY)

    assert apply_signal(table, issue(A, "h1"), T0, POLICY) == ()
    assert raw_zone_item(moto_table, A)["version"] == {"N": "1"}


def test_lost_race_is_retried_and_no_signal_is_lost(moto_table: Any) -> None:
    real = StateTable(moto_table.client, moto_table.name)
    concurrent: list[Transition] = []
    fleet = zone_signal(K.INSTANCE_DOWN, Source.EC2, "ec2-1")
    alarm = zone_signal(K.ALARM_FIRING, Source.CLOUDWATCH, "alarm-1", alarmName="ferry-a")

    client = Interfering(moto_table.client, lambda: concurrent.extend(apply_signal(real, fleet, T0, POLICY)))
    ours = apply_signal(StateTable(client, moto_table.name), alarm, T0, POLICY)

    assert [(t.to_status, t.reason) for t in concurrent] == [(ZoneStatus.SUSPECT, TransitionReason.EVIDENCE)]
    assert [(t.to_status, t.reason) for t in ours] == [(ZoneStatus.IMPAIRED, TransitionReason.QUORUM)]
    assert {r.source_id for r in ours[0].signals} == {"ec2-1", "alarm-1"}  # the other writer's fact counted
    assert client.reads == 2
    assert raw_zone_item(moto_table, A)["version"] == {"N": "2"}


def test_lost_race_never_doubles_a_transition(moto_table: Any) -> None:
    real = StateTable(moto_table.client, moto_table.name)
    concurrent: list[Transition] = []

    client = Interfering(moto_table.client, lambda: concurrent.extend(apply_signal(real, issue(A, "h1"), T0, POLICY)))
    ours = apply_signal(StateTable(client, moto_table.name), issue(A, "h2"), T0, POLICY)

    assert evacuations(concurrent) == [A]
    assert ours == ()  # the zone was impaired by the winner: nothing more to hand off


def test_racing_impairments_of_two_zones_keep_static_stability(moto_table: Any) -> None:
    real = StateTable(moto_table.client, moto_table.name)
    concurrent: list[Transition] = []

    client = Interfering(moto_table.client, lambda: concurrent.extend(apply_signal(real, issue(A, "h1"), T0, POLICY)))
    ours = apply_signal(StateTable(client, moto_table.name), issue(B, "h2"), T0, POLICY)

    assert evacuations([*concurrent, *ours]) == [A]
    assert [t.subject for t in ours if t.raises_alarm] == [B]
    assert real.read_region(REGION, POLICY.zones).state.evacuated == (A,)


def test_too_many_lost_races_raise_conflict(moto_table: Any) -> None:
    real = StateTable(moto_table.client, moto_table.name)
    minute = iter(range(100))

    def bump() -> None:  # another writer changes zone A before every one of our writes
        n = next(minute)
        signal = Signal(
            kind=K.INSTANCE_DOWN,
            source=Source.EC2,
            source_id=f"ec2-{n}",
            observed_at=T0,
            region=REGION,
            zone=A,
            instance=f"i-{n}",
        )
        apply_signal(real, signal, T0, POLICY)

    client = Interfering(moto_table.client, bump, times=100)
    with pytest.raises(Conflict, match="lost 3 races"):
        apply_signal(StateTable(client, moto_table.name), issue(A, "h1"), T0, POLICY, attempts=3)
    assert client.reads == 3


def registered(moto_table: Any, name: str = "east-1", instances: tuple[str, ...] = ()) -> None:
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


def test_control_plane_of_a_registered_cluster_fails_over_once(moto_table: Any) -> None:
    registered(moto_table)
    table = StateTable(moto_table.client, moto_table.name)

    transitions: list[Transition] = []
    for minute in range(5):
        now = T0 + timedelta(minutes=minute)
        transitions += apply_signal(table, round_signal(K.API_UNREACHABLE, minute), now, POLICY)

    assert [(t.to_status, t.handoff) for t in transitions] == [(ControlPlaneStatus.DOWN, Handoff.FAILOVER_CLUSTER)]
    snapshot = table.read_control_plane("east-1")
    assert snapshot.state is not None and snapshot.state.status is ControlPlaneStatus.DOWN
    assert snapshot.state.failover == transitions[0].execution_name


def test_registered_instances_are_the_roster(moto_table: Any) -> None:
    registered(moto_table, instances=("i-cp1", "i-cp2"))
    table = StateTable(moto_table.client, moto_table.name)
    downs = [
        Signal(
            kind=K.INSTANCE_DOWN,
            source=Source.EC2,
            source_id=f"ec2-{instance}",
            observed_at=T0,
            region=REGION,
            zone=A,
            cluster="east-1",
            instance=instance,
        )
        for instance in ("i-cp1", "i-cp2")
    ]

    transitions = apply_signals(table, downs, T0, POLICY)

    assert [t.reason for t in transitions if t.subject == "east-1"] == [TransitionReason.MEMBERS_DOWN]


def test_unregistered_cluster_is_ignored(moto_table: Any) -> None:
    table = StateTable(moto_table.client, moto_table.name)

    for minute in range(3):
        assert apply_signal(table, round_signal(K.API_UNREACHABLE, minute, "stranger"), T0, POLICY) == ()
    assert table.read_control_plane("stranger").state is None


def test_control_plane_lost_race_is_retried(moto_table: Any) -> None:
    registered(moto_table)
    real = StateTable(moto_table.client, moto_table.name)
    apply_signal(real, round_signal(K.API_UNREACHABLE, 0), T0, POLICY)
    second = T0 + timedelta(minutes=1)

    client = Interfering(
        moto_table.client, lambda: apply_signal(real, round_signal(K.API_UNREACHABLE, 1), second, POLICY)
    )
    ours = apply_signal(StateTable(client, moto_table.name), round_signal(K.API_UNREACHABLE, 2), second, POLICY)

    assert [t.reason for t in ours] == [TransitionReason.API_UNREACHABLE]  # three rounds: none was lost
    assert client.writes == 2


def test_unwatched_region_writes_nothing(moto_table: Any) -> None:
    table = StateTable(moto_table.client, moto_table.name)
    foreign = Signal(
        kind=K.HEALTH_ISSUE,
        source=Source.AWS_HEALTH,
        source_id="eu",
        observed_at=T0,
        region="eu-west-1",
        zone="eu-west-1a",
    )

    assert apply_signal(table, foreign, T0, POLICY) == ()
    assert moto_table.client.scan(TableName=moto_table.name)["Count"] == 0


def test_policy_without_zones_fails_fast(moto_table: Any) -> None:
    with pytest.raises(ConfigError) as raised:
        apply_signal(StateTable(moto_table.client, moto_table.name), issue(A, "h1"), T0, DetectionPolicy())
    assert raised.value.setting == "zones"


class Throttling:
    def transact_get_items(self, **kwargs: Any) -> Any:
        error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
        raise ClientError({"Error": error}, "TransactGetItems")


def test_throttling_becomes_ferrys_throttled() -> None:
    with pytest.raises(Throttled):
        apply_signal(StateTable(Throttling(), "ferry"), issue(A, "h1"), T0, POLICY)


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
