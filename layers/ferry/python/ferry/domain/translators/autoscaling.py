"""Auto Scaling lifecycle actions: an instance held in Pending:Wait or Terminating:Wait by a lifecycle hook.

Ferry's hooks on control-plane and worker groups let it join a node before it serves, and drain and fence
one before it goes. The evidence keeps what completing the action needs (group, hook, token). The events
carry no zone (only Origin/Destination: EC2, AutoScalingGroup or WarmPool); the ingest service looks the
zone up from the instance.

Format: docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-event-reference.html
(and warm-pool-events.html for Origin and Destination).
"""

from __future__ import annotations

from enum import StrEnum

from ferry.domain.errors import EventParseError
from ferry.domain.signals import SignalKind, Source, Translation
from ferry.domain.translators.envelopes import Envelope, Subject, emit
from ferry.domain.translators.fields import get_enum, get_optional_str, get_optional_text, get_str

LAUNCH_LIFECYCLE_ACTION = "EC2 Instance-launch Lifecycle Action"
TERMINATE_LIFECYCLE_ACTION = "EC2 Instance-terminate Lifecycle Action"


class LifecycleTransition(StrEnum):
    LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
    TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


_EXPECTED = {
    LAUNCH_LIFECYCLE_ACTION: (LifecycleTransition.LAUNCHING, SignalKind.ASG_LAUNCHING),
    TERMINATE_LIFECYCLE_ACTION: (LifecycleTransition.TERMINATING, SignalKind.ASG_TERMINATING),
}


def translate_lifecycle_action(envelope: Envelope) -> Translation:
    detail = envelope.detail
    expected, kind = _EXPECTED[envelope.detail_type]
    transition = get_enum(detail, "LifecycleTransition", "detail", LifecycleTransition)
    if transition is not expected:
        raise EventParseError("detail.LifecycleTransition", f"expected {expected.value} in a {envelope.detail_type}")
    evidence = {
        "AutoScalingGroupName": get_str(detail, "AutoScalingGroupName", "detail"),
        "LifecycleHookName": get_str(detail, "LifecycleHookName", "detail"),
        "LifecycleActionToken": get_str(detail, "LifecycleActionToken", "detail"),
        "LifecycleTransition": transition.value,
        "Origin": get_optional_str(detail, "Origin", "detail"),
        "Destination": get_optional_str(detail, "Destination", "detail"),
        "NotificationMetadata": get_optional_text(detail, "NotificationMetadata"),
    }
    instance = get_str(detail, "EC2InstanceId", "detail")
    return emit(
        envelope, kind=kind, source=Source.AUTOSCALING, evidence=evidence, subjects=[Subject(instance=instance)]
    )
