"""Notifications: an encrypted topic that only TLS clients and Ferry's own alarms may publish to."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infrastructure.synthesis import Synthesized, synthesize

pytestmark = pytest.mark.xdist_group("cdk-synth")


def test_topic_is_encrypted_with_a_rotated_customer_key(synthesized: Synthesized) -> None:
    notifications = synthesized.stack.notifications
    key_id = synthesized.logical_id(notifications.key)
    topic = synthesized.resources[synthesized.logical_id(notifications.topic)]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert synthesized.resources[key_id]["Properties"]["EnableKeyRotation"] is True


def test_topic_policy_enforces_tls_and_admits_only_ferry_alarms(synthesized: Synthesized) -> None:
    (policy,) = synthesized.of_type("AWS::SNS::TopicPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    tls = statements["AllowPublishThroughSSLOnly"]
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    alarms = statements["FerryAlarmsPublish"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"]["ArnLike"] == {
        "aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ferry-*"
    }


def test_cloudwatch_may_encrypt_alarm_notifications(synthesized: Synthesized) -> None:
    key = synthesized.resources[synthesized.logical_id(synthesized.stack.notifications.key)]
    principals = [s["Principal"] for s in key["Properties"]["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals


def test_no_subscription_unless_an_email_is_given(synthesized: Synthesized) -> None:
    assert synthesized.of_type("AWS::SNS::Subscription") == {}


def test_notify_email_context_subscribes_that_address(tmp_path: Path) -> None:
    with_email = synthesize(tmp_path, notifyEmail="oncall@example.com", mode="act")
    (subscription,) = with_email.of_type("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"
    environment = with_email.resources[with_email.logical_id(with_email.stack.ingest.function)]["Properties"]
    assert environment["Environment"]["Variables"]["FERRY_MODE"] == "act"
