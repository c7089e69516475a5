"""The verdicts path on moto: a reaction that cannot be carried out now is kept and carried out later."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ferry.adapters.registry import Registry
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.signals import Signal, SignalKind, Source
from ferry.services.settings import ReactionSettings
from ferry.services.verdicts import Verdicts
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


def acting(moto_table, machine: str) -> Verdicts:
    boto3.client("sns").create_topic(Name="ferry-notifications")
    settings = ReactionSettings.from_env(
        {"FERRY_TABLE": moto_table.name, "FERRY_TOPIC_ARN": TOPIC, "FERRY_MODE": "act"}
    )
    return Verdicts.from_settings(
        settings, moto_table.client, clock=lambda: NOW, env={"FERRY_SM_EVACUATE_ZONE": machine}
    )


def test_an_unfinished_evacuation_runs_again_once_per_period(verdicts, moto_table, evacuation_machine) -> None:
    run = acting(moto_table, evacuation_machine)
    run.decide([health_issue()])  # zone a IMPAIRED: the first EvacuateZone run starts

    first = run.retry_unfinished({"us-east-1a"})
    again = run.retry_unfinished({"us-east-1a", "us-east-1b"})  # b is not impaired: nothing for it

    names = sorted(
        e["name"]
        for e in boto3.client("stepfunctions").list_executions(stateMachineArn=evacuation_machine)["executions"]
    )
    assert len(names) == 2 and names[1] == f"{names[0]}-retry-{int(NOW.timestamp()) // 300}"
    assert [d.outcome.value for d in first] == ["started"]
    assert again == (), "later rounds of the same period neither start nor tell again"


def test_nothing_is_retried_for_a_zone_that_is_not_impaired(verdicts, moto_table, evacuation_machine) -> None:
    run = acting(moto_table, evacuation_machine)

    assert run.retry_unfinished({"us-east-1a"}) == ()
