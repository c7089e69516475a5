"""The verdicts path on moto: a batch decided against the stored states with lost races retried from a fresh
read (no transition lost or doubled, static stability kept under races), and a reaction that cannot be
carried out now kept and carried out later."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ferry.adapters.decisions import Pauses
from ferry.adapters.journal import Journal
from ferry.adapters.registry import Registry
from ferry.adapters.states import StateTable
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.decisions import DecideRequest, Decision, OnTimeout, Pause, decided, timed_out
from ferry.domain.detection import ControlPlaneStatus, Handoff, Transition, TransitionReason, ZoneStatus
from ferry.domain.errors import Conflict
from ferry.domain.signals import Signal, SignalKind, Source
from ferry.services.settings.reactions import ReactionSettings
from ferry.services.verdicts import Verdicts, apply_signals
from tests.adapters.test_states import (
    POLICY,
    REGION,
    T0,
    A,
    B,
    K,
    issue,
    raw_zone_item,
    registered,
    round_signal,
    zone_signal,
)
from tests.conftest import TABLE_NAME

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:123456789012:ferry-notifications"


@pytest.fixture
def verdicts(moto_table) -> Verdicts:
    dynamodb = moto_table.client
    Registry(dynamodb, moto_table.name).register(
        ClusterRegistration(
            name="east-1",
            kind=ClusterKind.SELF_MANAGED,
            endpoint="https://east-1.example.com",
            region="us-east-1",
            zones=("us-east-1a", "us-east-1b", "us-east-1c"),
            credentials_secret="ferry/clusters/east-1",
        )
    )
    settings = ReactionSettings.from_env({"FERRY_TABLE": moto_table.name, "FERRY_TOPIC_ARN": TOPIC})
    return Verdicts.from_settings(settings, dynamodb, clock=lambda: NOW, env={})


def outbox() -> list[str]:
    items = boto3.client("dynamodb").query(
        TableName=TABLE_NAME,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "OUTBOX"}},
    )["Items"]
    return [item["sk"]["S"] for item in items]


def health_issue() -> Signal:
    return Signal(
        kind=SignalKind.HEALTH_ISSUE,
        source=Source.AWS_HEALTH,
        source_id="health-1",
        observed_at=NOW,
        region="us-east-1",
        zone="us-east-1a",
    )


def test_a_reaction_that_fails_is_kept_and_carried_out_by_a_later_round(verdicts: Verdicts) -> None:
    # The topic does not exist yet: notifying fails, the transition is committed all the same.
    assert verdicts.decide([health_issue()]) == ()
    (pending,) = outbox()
    assert pending.startswith("zone:us-east-1a:impaired:")

    boto3.client("sns").create_topic(Name="ferry-notifications")
    verdicts._clock = lambda: NOW + timedelta(minutes=2)  # type: ignore[method-assign]
    (done,) = verdicts.redo_pending()

    assert done.action_id == pending
    assert outbox() == []
    assert verdicts.decide([health_issue()]) == (), "the replayed signal makes no second reaction"


@pytest.fixture
def evacuation_machine(aws) -> str:
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = boto3.client("stepfunctions").create_state_machine(
        name="ferry-EvacuateZone", definition=definition, roleArn=role
    )
    return str(machine["stateMachineArn"])


def acting(moto_table, machine: str, mode: str = "act") -> Verdicts:
    boto3.client("sns").create_topic(Name="ferry-notifications")
    settings = ReactionSettings.from_env({"FERRY_TABLE": moto_table.name, "FERRY_TOPIC_ARN": TOPIC, "FERRY_MODE": mode})
    return Verdicts.from_settings(
        settings, moto_table.client, clock=lambda: NOW, env={"FERRY_SM_EVACUATE_ZONE": machine}
    )


def test_an_unfinished_evacuation_runs_again_once_per_period(verdicts, moto_table, evacuation_machine) -> None:
    run = acting(moto_table, evacuation_machine)
    run.decide([health_issue()])  # zone a IMPAIRED: the first EvacuateZone run starts

    journal = Journal(moto_table.client, moto_table.name)
    pauses = Pauses(moto_table.client, moto_table.name)  # act mode: no run ever waited
    first = run.retry_unfinished({"us-east-1a"}, claims=journal, pauses=pauses)
    # b is not impaired: nothing for it
    again = run.retry_unfinished({"us-east-1a", "us-east-1b"}, claims=journal, pauses=pauses)

    names = sorted(
        e["name"]
        for e in boto3.client("stepfunctions").list_executions(stateMachineArn=evacuation_machine)["executions"]
    )
    assert len(names) == 2 and names[1] == f"{names[0]}-retry-{int(NOW.timestamp()) // 300}"
    assert [d.outcome.value for d in first] == ["started"]
    assert again == (), "later rounds of the same period neither start nor tell again"


def test_nothing_is_retried_for_a_zone_that_is_not_impaired(verdicts, moto_table, evacuation_machine) -> None:
    run = acting(moto_table, evacuation_machine)

    journal, pauses = Journal(moto_table.client, moto_table.name), Pauses(moto_table.client, moto_table.name)
    assert run.retry_unfinished({"us-east-1a"}, claims=journal, pauses=pauses) == ()


def executions(machine: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


@pytest.mark.parametrize(
    ("decide", "retried_input"),
    [
        pytest.param(
            lambda pause: decided(pause, DecideRequest(pause.run_id, Decision.APPROVE, "alice", "ok"), NOW),
            {"approved": True, "approvedBy": "alice"},
            id="approved-the-retry-carries-the-approval",
        ),
        pytest.param(
            lambda pause: decided(pause, DecideRequest(pause.run_id, Decision.REJECT, "bob", "no"), NOW),
            None,
            id="rejected-no-retry",
        ),
        pytest.param(lambda pause: timed_out(pause, NOW), None, id="timed-out-abort-no-retry"),
    ],
)
def test_a_supervised_evacuations_retry_follows_the_persons_decision(
    verdicts, moto_table, evacuation_machine, decide: Callable[[Pause], Pause], retried_input: dict[str, Any] | None
) -> None:
    run = acting(moto_table, evacuation_machine, mode="supervised")
    run.decide([health_issue()])  # zone a IMPAIRED: EvacuateZone starts, plans, and waits for a person
    (evacuation,) = [e["name"] for e in executions(evacuation_machine)]
    pauses = Pauses(moto_table.client, moto_table.name)
    waiting = Pause(evacuation, "EvacuateZone", "token", "plan", NOW, NOW + timedelta(minutes=15), OnTimeout.ABORT)
    pauses.wait(waiting)
    pauses.settle(decide(waiting))

    done = run.retry_unfinished({"us-east-1a"}, claims=Journal(moto_table.client, moto_table.name), pauses=pauses)

    retries = [e for e in executions(evacuation_machine) if e["name"] != evacuation]
    if retried_input is None:
        assert done == () and retries == [], "a person said no (or nobody said yes): nothing starts again"
        return
    (retry,) = retries
    given = json.loads(retry["input"])
    assert {k: given.get(k) for k in retried_input} == retried_input
    assert "approved by alice" in given["reason"]
    assert [d.outcome.value for d in done] == ["started"]


# --- deciding a batch against the stored states, racing other writers ----------------------------------------


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


def apply_signal(table: StateTable, signal: Signal, now: datetime = T0, **kwargs: Any) -> tuple[Transition, ...]:
    return apply_signals(table, (signal,), now, POLICY, **kwargs)


def evacuations(transitions: Iterable[Transition]) -> list[str]:
    return [t.subject for t in transitions if t.handoff is Handoff.EVACUATE_ZONE]


def test_a_first_signal_hands_off_one_evacuation(moto_table) -> None:
    table = StateTable(moto_table.client, moto_table.name)

    assert evacuations(apply_signal(table, issue(A, "h1"))) == [A]
    assert raw_zone_item(moto_table, A)["version"] == {"N": "1"}


def test_a_replayed_signal_writes_nothing_and_hands_off_nothing(moto_table) -> None:
    table = StateTable(moto_table.client, moto_table.name)
    apply_signal(table, issue(A, "h1"))

    assert apply_signal(table, issue(A, "h1")) == ()
    assert raw_zone_item(moto_table, A)["version"] == {"N": "1"}


def test_lost_race_is_retried_and_no_signal_is_lost(moto_table) -> None:
    real = StateTable(moto_table.client, moto_table.name)
    concurrent: list[Transition] = []
    fleet = zone_signal(K.INSTANCE_DOWN, Source.EC2, "ec2-1")
    alarm = zone_signal(K.ALARM_FIRING, Source.CLOUDWATCH, "alarm-1", alarmName="ferry-a")

    client = Interfering(moto_table.client, lambda: concurrent.extend(apply_signal(real, fleet)))
    ours = apply_signal(StateTable(client, moto_table.name), alarm)

    assert [(t.to_status, t.reason) for t in concurrent] == [(ZoneStatus.SUSPECT, TransitionReason.EVIDENCE)]
    assert [(t.to_status, t.reason) for t in ours] == [(ZoneStatus.IMPAIRED, TransitionReason.QUORUM)]
    assert {r.source_id for r in ours[0].signals} == {"ec2-1", "alarm-1"}  # the other writer's fact counted
    assert client.reads == 2
    assert raw_zone_item(moto_table, A)["version"] == {"N": "2"}


def test_lost_race_never_doubles_a_transition(moto_table) -> None:
    real = StateTable(moto_table.client, moto_table.name)
    concurrent: list[Transition] = []

    client = Interfering(moto_table.client, lambda: concurrent.extend(apply_signal(real, issue(A, "h1"))))
    ours = apply_signal(StateTable(client, moto_table.name), issue(A, "h2"))

    assert evacuations(concurrent) == [A]
    assert ours == ()  # the zone was impaired by the winner: nothing more to hand off


def test_racing_impairments_of_two_zones_keep_static_stability(moto_table) -> None:
    real = StateTable(moto_table.client, moto_table.name)
    concurrent: list[Transition] = []

    client = Interfering(moto_table.client, lambda: concurrent.extend(apply_signal(real, issue(A, "h1"))))
    ours = apply_signal(StateTable(client, moto_table.name), issue(B, "h2"))

    assert evacuations([*concurrent, *ours]) == [A]
    assert [t.subject for t in ours if t.raises_alarm] == [B]
    assert real.read_region(REGION, POLICY.zones).state.evacuated == (A,)


def test_too_many_lost_races_raise_conflict(moto_table) -> None:
    real = StateTable(moto_table.client, moto_table.name)
    minute = iter(range(100))

    def bump() -> None:  # another writer changes zone A before every one of our writes
        n = next(minute)
        apply_signal(real, zone_signal(K.INSTANCE_DOWN, Source.EC2, f"ec2-{n}", instance=f"i-{n}"))

    client = Interfering(moto_table.client, bump, times=100)
    with pytest.raises(Conflict, match="lost 3 races"):
        apply_signal(StateTable(client, moto_table.name), issue(A, "h1"), attempts=3)
    assert client.reads == 3


def test_control_plane_of_a_registered_cluster_fails_over_once(moto_table) -> None:
    registered(moto_table)
    table = StateTable(moto_table.client, moto_table.name)

    transitions: list[Transition] = []
    for minute in range(5):
        now = T0 + timedelta(minutes=minute)
        transitions += apply_signal(table, round_signal(K.API_UNREACHABLE, minute), now)

    assert [(t.to_status, t.handoff) for t in transitions] == [(ControlPlaneStatus.DOWN, Handoff.FAILOVER_CLUSTER)]
    snapshot = table.read_control_plane("east-1")
    assert snapshot.state is not None and snapshot.state.status is ControlPlaneStatus.DOWN
    assert snapshot.state.failover == transitions[0].execution_name


def test_registered_instances_are_the_roster(moto_table) -> None:
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


def test_unregistered_cluster_is_ignored(moto_table) -> None:
    table = StateTable(moto_table.client, moto_table.name)

    for minute in range(3):
        assert apply_signal(table, round_signal(K.API_UNREACHABLE, minute, "stranger")) == ()
    assert table.read_control_plane("stranger").state is None


def test_control_plane_lost_race_is_retried(moto_table) -> None:
    registered(moto_table)
    real = StateTable(moto_table.client, moto_table.name)
    apply_signal(real, round_signal(K.API_UNREACHABLE, 0))
    second = T0 + timedelta(minutes=1)

    client = Interfering(moto_table.client, lambda: apply_signal(real, round_signal(K.API_UNREACHABLE, 1), second))
    ours = apply_signal(StateTable(client, moto_table.name), round_signal(K.API_UNREACHABLE, 2), second)

    assert [t.reason for t in ours] == [TransitionReason.API_UNREACHABLE]  # three rounds: none was lost
    assert client.writes == 2


def test_unwatched_region_writes_nothing(moto_table) -> None:
    table = StateTable(moto_table.client, moto_table.name)
    foreign = Signal(
        kind=K.HEALTH_ISSUE,
        source=Source.AWS_HEALTH,
        source_id="eu",
        observed_at=T0,
        region="eu-west-1",
        zone="eu-west-1a",
    )

    assert apply_signal(table, foreign) == ()
    assert moto_table.client.scan(TableName=moto_table.name)["Count"] == 0
