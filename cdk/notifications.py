"""Operator notifications: one encrypted SNS topic for plans, verdicts, evacuation reports and alarms.

Observe mode (DESIGN.md invariant 6) is only useful if someone reads what Ferry would have done, so every
function may publish here, and so may Ferry's own CloudWatch alarms. The topic is encrypted with a customer
managed key (an AWS managed key would lock CloudWatch out: its policy cannot be edited) whose policy lets
CloudWatch encrypt; the topic policy lets only alarms named `ferry-*` of this account publish.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk.constants import ALARM_NAME_PREFIX
from cdk.grants import grant_key_via_service

# What a publisher needs from the topic's key (SNS encrypts each message with a data key).
PUBLISH_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class FerryNotifications(Construct):
    """The operators' topic, its key, and an optional e-mail subscription."""

    def __init__(self, scope: Construct, construct_id: str, *, email: str | None = None) -> None:
        super().__init__(scope, construct_id)
        self.key = self._build_key()
        self.topic = self._build_topic(self.key)
        self._allow_alarms(self.topic, self.key)
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """sns:Publish on this topic, and the key actions SNS performs for it; nothing else."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        grant_key_via_service(grantee, self.key, "sns", PUBLISH_KEY_ACTIONS)

    def _build_key(self) -> kms.Key:
        return kms.Key(
            self,
            "Key",
            description="Ferry operator notifications topic encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_topic(self, key: kms.Key) -> sns.Topic:
        return sns.Topic(self, "Topic", display_name="Ferry", master_key=key, enforce_ssl=True)

    def _allow_alarms(self, topic: sns.Topic, key: kms.Key) -> None:
        stack = Stack.of(self)
        alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{ALARM_NAME_PREFIX}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        cloudwatch = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="FerryAlarmsPublish",
                principals=[cloudwatch],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": alarms},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
        # The documented statement for alarms on encrypted topics (CloudWatch calls KMS through SNS).
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsEncrypt",
                principals=[cloudwatch],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
