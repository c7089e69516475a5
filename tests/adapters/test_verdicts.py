"""The verdicts path on moto: a reaction that cannot be carried out now is kept and carried out later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ferry.adapters.registry import Registry
from ferry.clusters import ClusterKind, ClusterRegistration
from ferry.settings import ReactionSettings
from ferry.signals import Signal, SignalKind, Source
from ferry.verdicts import Verdicts
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
    made = Verdicts.from_settings(settings, dynamodb, env={})
    made._clock = lambda: NOW  # type: ignore[method-assign]
    return made


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
