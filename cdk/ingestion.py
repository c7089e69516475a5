"""Ingestion: AWS events about zones, instances and Ferry's own alarms, queued for the ingest function.

Why a queue between EventBridge and Lambda: the events that matter most arrive in bursts during an outage,
when Lambda may be throttled; SQS holds them, retries them (a malformed event three times, then to the DLQ,
DESIGN.md "nothing is dropped silently") and lets the function report per-message failures. The rules live
on the default bus because that is where AWS services publish, and an event EventBridge cannot deliver goes
to the same DLQ.

Permissions are written here rather than left to `aws_events_targets.SqsQueue`: for a KMS-encrypted queue
that target scopes EventBridge's queue access by account only (aws:SourceAccount), while Ferry's queues
accept messages from EventBridge only on behalf of these rules (aws:SourceArn). The key lets EventBridge
encrypt without a source condition, as the SQS guide documents for AWS event sources: the queue policy is
what stands between another account's rule and these queues.
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces import aws_events as events_interfaces
from constructs import Construct

from cdk.constants import (
    ALARM_NAME_PREFIX,
    BATCH_SIZE,
    DLQ_RETENTION,
    HEALTH_SERVICES,
    INSTANCE_STATES,
    MAX_BATCHING_WINDOW,
    MAX_RECEIVE_COUNT,
    QUEUE_RETENTION,
    VISIBILITY_TIMEOUT_FACTOR,
)
from cdk.functions import FerryFunction

# What AWS Health says that Ferry reads: issues (a zone impaired) and warnings of node loss, which AWS sends as
# scheduled changes or, for some maintenance, account notifications; the ingest function skips the rest.
# (Kept beside the rules rather than in cdk/constants.py while that module is being reorganised.)
HEALTH_CATEGORIES = ("issue", "scheduledChange", "accountNotification")


@dataclass(frozen=True)
class RuleSpec:
    """One EventBridge rule: what it is for and which events it matches."""

    construct_id: str
    description: str
    pattern: events.EventPattern


RULES: tuple[RuleSpec, ...] = (
    RuleSpec(
        "HealthEvents",
        "AWS Health events of EC2, EBS and ELB: issues (zonal impairments), scheduled changes and account "
        "notifications (instance retirement, scheduled stop or reboot, host maintenance: node warnings)",
        events.EventPattern(
            source=["aws.health"],
            detail_type=["AWS Health Event"],
            detail={"service": list(HEALTH_SERVICES), "eventTypeCategory": list(HEALTH_CATEGORIES)},
        ),
    ),
    RuleSpec(
        "InstanceStateChanges",
        "EC2 instances leaving the running state (node loss, fencing confirmation)",
        events.EventPattern(
            source=["aws.ec2"],
            detail_type=["EC2 Instance State-change Notification"],
            detail={"state": list(INSTANCE_STATES)},
        ),
    ),
    RuleSpec(
        "SpotInterruptions",
        "EC2 Spot Instance interruption warnings (two minutes' notice)",
        events.EventPattern(source=["aws.ec2"], detail_type=["EC2 Spot Instance Interruption Warning"]),
    ),
    RuleSpec(
        "RebalanceRecommendations",
        "EC2 instance rebalance recommendations (elevated Spot interruption risk)",
        events.EventPattern(source=["aws.ec2"], detail_type=["EC2 Instance Rebalance Recommendation"]),
    ),
    RuleSpec(
        "LifecycleActions",
        "Auto Scaling lifecycle actions on launch and terminate",
        events.EventPattern(
            source=["aws.autoscaling"],
            detail_type=["EC2 Instance-launch Lifecycle Action", "EC2 Instance-terminate Lifecycle Action"],
        ),
    ),
    RuleSpec(
        "FerryAlarms",
        f"State changes of Ferry's own CloudWatch alarms ({ALARM_NAME_PREFIX}*)",
        events.EventPattern(
            source=["aws.cloudwatch"],
            detail_type=["CloudWatch Alarm State Change"],
            detail={"alarmName": events.Match.prefix(ALARM_NAME_PREFIX)},
        ),
    ),
    RuleSpec(
        "ZonalShifts",
        "ARC zonal shifts and zonal autoshifts (the service's own events, not its API calls)",
        events.EventPattern(
            source=["aws.arc-zonal-shift"],
            detail_type=events.Match.anything_but("AWS API Call via CloudTrail"),
        ),
    ),
)


@jsii.implements(events.IRuleTarget)
class _QueueTarget:
    """A rule target that only points at the queue; FerryIngestion grants EventBridge access itself."""

    def __init__(self, queue: sqs.IQueue, dead_letter_queue: sqs.IQueue) -> None:
        self.queue = queue
        self.dead_letter_queue = dead_letter_queue

    def bind(self, rule: events_interfaces.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self.queue.queue_arn,
            target_resource=self.queue,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
        )


class FerryIngestion(Construct):
    """The rules, the encrypted queue and DLQ, and the consumer's event source mapping."""

    def __init__(self, scope: Construct, construct_id: str, *, consumer: FerryFunction) -> None:
        super().__init__(scope, construct_id)
        self.consumer = consumer
        self.key = self._build_key()
        self.dead_letter_queue = self._build_dead_letter_queue(self.key)
        self.queue = self._build_queue(self.key, self.dead_letter_queue, consumer)
        self.rules = [self._build_rule(spec) for spec in RULES]
        self._allow_rules_to_send(self.rules)
        self._build_event_source(consumer)

    def _build_key(self) -> kms.Key:
        return kms.Key(
            self,
            "Key",
            description="Ferry ingestion queue and dead-letter queue encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_dead_letter_queue(self, key: kms.Key) -> sqs.Queue:
        # No DLQ of its own: cdk-nag's SQS3 recognises a queue used as another queue's DLQ.
        return sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )

    def _build_queue(self, key: kms.Key, dead_letter_queue: sqs.Queue, consumer: FerryFunction) -> sqs.Queue:
        timeout = consumer.spec.timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR + MAX_BATCHING_WINDOW.to_seconds()
        return sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
            visibility_timeout=Duration.seconds(timeout),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT),
        )

    def _build_rule(self, spec: RuleSpec) -> events.Rule:
        rule = events.Rule(self, spec.construct_id, description=spec.description, event_pattern=spec.pattern)
        rule.add_target(_QueueTarget(self.queue, self.dead_letter_queue))
        return rule

    def _allow_rules_to_send(self, rules: list[events.Rule]) -> None:
        eventbridge = iam.ServicePrincipal("events.amazonaws.com")
        for queue in (self.queue, self.dead_letter_queue):
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="FerryRulesSendMessage",
                    principals=[eventbridge],
                    actions=["sqs:SendMessage"],
                    resources=[queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": [rule.rule_arn for rule in rules]}},
                )
            )
        # One key for both queues, so this also covers delivery to the DLQ (which CDK's target would miss).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeEncryptMessages",
                principals=[eventbridge],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
            )
        )

    def _build_event_source(self, consumer: FerryFunction) -> None:
        consumer.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=BATCH_SIZE,
                max_batching_window=MAX_BATCHING_WINDOW,
                report_batch_item_failures=True,
            )
        )
