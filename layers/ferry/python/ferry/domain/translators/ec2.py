"""EC2 instance events: one node going down or coming up, or about to be taken away.

These are per-instance facts, weaker than a Health event: many instances of one zone going down at once is
what the detector reads as a zone failing. The state-change and rebalance events carry no zone; the ingest
service looks it up from the instance. The Spot interruption warning names the zone only in its resource
ARN (`arn:aws:ec2:us-east-2a:instance/i-...`, as AWS documents it), and Ferry takes it from there when it is.

Formats: docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html,
spot-instance-termination-notices.html and rebalance-recommendations.html.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from ferry.domain.signals import EVIDENCE_DEADLINE, SignalKind, Source, Translation
from ferry.domain.translators.envelopes import Envelope, Subject, emit
from ferry.domain.translators.fields import get_enum, get_str, only_one
from ferry.domain.translators.zones import zone_in_instance_arn

STATE_CHANGE = "EC2 Instance State-change Notification"
SPOT_INTERRUPTION = "EC2 Spot Instance Interruption Warning"
REBALANCE_RECOMMENDATION = "EC2 Instance Rebalance Recommendation"


class InstanceState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    STOPPING = "stopping"
    STOPPED = "stopped"


class InstanceAction(StrEnum):
    """What happens to a Spot instance two minutes after the warning."""

    TERMINATE = "terminate"
    STOP = "stop"
    HIBERNATE = "hibernate"


_UP_STATES = frozenset({InstanceState.PENDING, InstanceState.RUNNING})
# AWS sends the Spot interruption warning two minutes before it acts on the instance; the event carries no
# time of its own for that, so the deadline is the warning's time plus those two minutes.
SPOT_NOTICE = timedelta(minutes=2)


def translate_state_change(envelope: Envelope) -> Translation:
    instance = get_str(envelope.detail, "instance-id", "detail")
    state = get_enum(envelope.detail, "state", "detail", InstanceState)
    kind = SignalKind.INSTANCE_UP if state in _UP_STATES else SignalKind.INSTANCE_DOWN
    return emit(
        envelope,
        kind=kind,
        source=Source.EC2,
        evidence={"state": state.value},
        subjects=[Subject(instance=instance)],
    )


def translate_spot_interruption(envelope: Envelope) -> Translation:
    instance = get_str(envelope.detail, "instance-id", "detail")
    action = get_enum(envelope.detail, "instance-action", "detail", InstanceAction)
    return emit(
        envelope,
        kind=SignalKind.SPOT_INTERRUPTION,
        source=Source.EC2,
        evidence={
            "instance-action": action.value,
            EVIDENCE_DEADLINE: (envelope.time + SPOT_NOTICE).isoformat(),
        },
        subjects=[Subject(instance=instance, zone=only_one(map(zone_in_instance_arn, envelope.resources)))],
    )


def translate_rebalance_recommendation(envelope: Envelope) -> Translation:
    instance = get_str(envelope.detail, "instance-id", "detail")
    return emit(
        envelope,
        kind=SignalKind.REBALANCE_RECOMMENDATION,
        source=Source.EC2,
        evidence={},
        subjects=[Subject(instance=instance)],
    )
