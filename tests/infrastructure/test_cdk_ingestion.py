"""Ingestion: the right AWS events reach one encrypted queue, and nothing is dropped silently."""

from __future__ import annotations

from typing import Any

import pytest

from cdk.constants import INGEST
from tests.infrastructure.synthesis import Synthesized

pytestmark = pytest.mark.xdist_group("cdk-synth")

# Written out here, not imported from cdk/ingestion.py: these are the events Ferry promises to listen to.
EXPECTED_PATTERNS = [
    pytest.param(
        {
            "source": ["aws.health"],
            "detail-type": ["AWS Health Event"],
            "detail": {
                "service": ["EC2", "EBS", "ELASTICLOADBALANCING"],
                "eventTypeCategory": ["issue", "scheduledChange", "accountNotification"],
            },
        },
        id="health-issues-and-warnings-ec2-ebs-elb",
    ),
    pytest.param(
        {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
            "detail": {"state": ["stopping", "stopped", "shutting-down", "terminated"]},
        },
        id="instance-state-change",
    ),
    pytest.param(
        {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
        id="spot-interruption",
    ),
    pytest.param(
        {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
        id="rebalance-recommendation",
    ),
    pytest.param(
        {
            "source": ["aws.autoscaling"],
            "detail-type": ["EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"],
        },
        id="lifecycle-launch-and-terminate",
    ),
    pytest.param(
        {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [{"prefix": "ferry-"}]},
        },
        id="own-alarms-only",
    ),
    pytest.param(
        {"source": ["aws.arc-zonal-shift"], "detail-type": [{"anything-but": ["AWS API Call via CloudTrail"]}]},
        id="arc-zonal-shift-and-autoshift",
    ),
]


def _get_att(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _event_rules(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """The rules that match events (the others run on a schedule: probe, snapshots)."""
    return {k: v for k, v in synthesized.of_type("AWS::Events::Rule").items() if "EventPattern" in v["Properties"]}


def _queue_ids(synthesized: Synthesized) -> tuple[str, str]:
    ingestion = synthesized.stack.ingestion
    return synthesized.logical_id(ingestion.queue), synthesized.logical_id(ingestion.dead_letter_queue)


@pytest.mark.parametrize("pattern", EXPECTED_PATTERNS)
def test_each_event_source_has_a_rule_targeting_the_queue(synthesized: Synthesized, pattern: dict[str, Any]) -> None:
    queue, dead_letters = _queue_ids(synthesized)
    rules = [rule["Properties"] for rule in _event_rules(synthesized).values()]
    matching = [rule for rule in rules if rule["EventPattern"] == pattern]
    assert len(matching) == 1, f"no rule (or several) with pattern {pattern}"
    rule = matching[0]
    assert rule["State"] == "ENABLED"
    assert "EventBusName" not in rule, "AWS services publish to the default bus"
    target = {"Arn": _get_att(queue), "DeadLetterConfig": {"Arn": _get_att(dead_letters)}, "Id": "Target0"}
    assert rule["Targets"] == [target]


def test_there_is_no_other_event_rule(synthesized: Synthesized) -> None:
    assert len(_event_rules(synthesized)) == len(EXPECTED_PATTERNS)
    assert set(_event_rules(synthesized)) == {synthesized.logical_id(r) for r in synthesized.stack.ingestion.rules}


def test_queue_is_encrypted_with_a_rotated_customer_key_and_dead_letters_after_three_receives(
    synthesized: Synthesized,
) -> None:
    queue, dead_letters = _queue_ids(synthesized)
    key = synthesized.logical_id(synthesized.stack.ingestion.key)
    resources = synthesized.resources
    for queue_id in (queue, dead_letters):
        assert resources[queue_id]["Properties"]["KmsMasterKeyId"] == _get_att(key)
    assert resources[key]["Properties"]["EnableKeyRotation"] is True
    assert resources[queue]["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": _get_att(dead_letters),
        "maxReceiveCount": 3,
    }
    assert resources[dead_letters]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_visibility_timeout_covers_six_function_timeouts(synthesized: Synthesized) -> None:
    queue, _ = _queue_ids(synthesized)
    visibility = synthesized.resources[queue]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * INGEST.timeout.to_seconds()


@pytest.mark.parametrize("which", ["queue", "dead-letter-queue"])
def test_queues_accept_eventbridge_only_from_ferry_rules_and_only_over_tls(
    synthesized: Synthesized, which: str
) -> None:
    queue, dead_letters = _queue_ids(synthesized)
    target = queue if which == "queue" else dead_letters
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synthesized.of_type("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": target}]
    ]
    assert len(policies) == 1
    statements = policies[0]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny == [
        {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": _get_att(target),
        }
    ]
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert len(allow) == 1
    (statement,) = allow
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    rule_arns = [_get_att(rule_id) for rule_id in _event_rules(synthesized)]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arns}}


def test_eventbridge_may_encrypt_with_the_queue_key(synthesized: Synthesized) -> None:
    key = synthesized.logical_id(synthesized.stack.ingestion.key)
    statements = synthesized.resources[key]["Properties"]["KeyPolicy"]["Statement"]
    eventbridge = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert len(eventbridge) == 1
    assert sorted(eventbridge[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_ingest_consumes_the_queue_reporting_partial_batch_failures(synthesized: Synthesized) -> None:
    queue, _ = _queue_ids(synthesized)
    function = synthesized.logical_id(synthesized.stack.ingest.function)
    mappings = [m["Properties"] for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()]
    assert mappings == [
        {
            "BatchSize": 10,
            "EventSourceArn": _get_att(queue),
            "FunctionName": {"Ref": function},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumBatchingWindowInSeconds": 1,
            "Tags": [{"Key": "ferry:managed", "Value": "true"}],
        }
    ]
