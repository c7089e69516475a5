"""The one internal event type: every AWS event and every probe observation becomes a `Signal`.

Translators (`ferry.domain.translators`) turn each source's event into Signals or a `Skip`; the detector only ever
sees Signals. A Signal is a fact someone observed, not a decision: "instance i-0a stopped at 10:02 in
us-east-1a", "AWS Health reports an EC2 issue in use1-az1".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from ferry.domain.serialization import JsonModel


class SignalKind(StrEnum):
    """What was observed. The detector decides what each kind means for a zone or a control plane."""

    HEALTH_ISSUE = "health-issue"  # AWS Health: open zonal EC2/EBS/ELB operational issue (authoritative)
    HEALTH_RESOLVED = "health-resolved"  # AWS Health: that issue closed
    HEALTH_SCHEDULED_CHANGE = "health-scheduled-change"  # AWS Health: scheduled maintenance or retirement
    INSTANCE_DOWN = "instance-down"  # EC2 state change to stopping/stopped/shutting-down/terminated
    INSTANCE_UP = "instance-up"  # EC2 state change to pending/running
    SPOT_INTERRUPTION = "spot-interruption"  # two-minute warning before a Spot instance is reclaimed
    REBALANCE_RECOMMENDATION = "rebalance-recommendation"  # elevated Spot interruption risk
    ASG_LAUNCHING = "asg-launching"  # Auto Scaling lifecycle action: instance launching
    ASG_TERMINATING = "asg-terminating"  # Auto Scaling lifecycle action: instance terminating
    ALARM_FIRING = "alarm-firing"  # a Ferry-owned CloudWatch alarm went to ALARM
    ALARM_CLEARED = "alarm-cleared"  # a Ferry-owned CloudWatch alarm went back to OK
    ZONAL_SHIFT_STARTED = "zonal-shift-started"  # ARC zonal shift or autoshift away from a zone (authoritative)
    ZONAL_SHIFT_ENDED = "zonal-shift-ended"  # that shift ended, expired or was cancelled
    # A person's zonal shift of a resource Ferry does not follow: recorded, decides nothing about the zone.
    UNFOLLOWED_SHIFT_STARTED = "unfollowed-shift-started"
    UNFOLLOWED_SHIFT_ENDED = "unfollowed-shift-ended"
    DRILL_STARTED = "drill-started"  # an ARC practice run or a FIS experiment's autoshift: recorded, not acted on
    DRILL_ENDED = "drill-ended"  # that drill ended
    SCHEDULE_TICK = "schedule-tick"  # an EventBridge schedule fired (starts a probe round)
    NODES_NOT_READY = "nodes-not-ready"  # probe: nodes of a zone NotReady or their leases stale
    NODES_READY = "nodes-ready"  # probe: nodes of a zone Ready with fresh leases
    API_UNREACHABLE = "api-unreachable"  # probe: a cluster's API endpoint failed its probe
    API_HEALTHY = "api-healthy"  # probe: a cluster's API endpoint answered /readyz
    CONTROL_PLANE_MEMBER_UNHEALTHY = "control-plane-member-unhealthy"  # probe: one member failed /readyz
    CONTROL_PLANE_MEMBER_HEALTHY = "control-plane-member-healthy"  # probe: that member answers again
    EVACUATION_REQUESTED = "evacuation-requested"  # a person asked for EvacuateZone (authoritative)
    # A person's SetZone (ferry.domain.overrides): healthy closes the zone's open authorities; impaired is an
    # authority of its own, with the person's name on it, held until they say otherwise or until its `until`.
    ZONE_MARKED_HEALTHY = "zone-marked-healthy"
    ZONE_HELD_IMPAIRED = "zone-held-impaired"


NODE_WARNINGS = frozenset(
    {
        SignalKind.HEALTH_SCHEDULED_CHANGE,
        SignalKind.SPOT_INTERRUPTION,
        SignalKind.REBALANCE_RECOMMENDATION,
        SignalKind.ASG_TERMINATING,
    }
)
"""Kinds that warn that one node's instance will be taken away: each names the instance and, where AWS gives
one, the time it goes in the evidence's `deadline` (ISO-8601). What a draining runbook starts from."""
EVIDENCE_DEADLINE = "deadline"
EVIDENCE_DRILL = "drill"  # "true" on a drill's signal (an ARC practice run, a FIS experiment), whatever it decides


class Source(StrEnum):
    """Who observed it. Quorum counts distinct sources, so two EC2 events are one voice, not two."""

    AWS_HEALTH = "aws.health"
    EC2 = "aws.ec2"
    AUTOSCALING = "aws.autoscaling"
    CLOUDWATCH = "aws.cloudwatch"
    ZONAL_SHIFT = "aws.arc-zonal-shift"
    SCHEDULER = "aws.events"
    PROBE = "ferry.probe"
    OPERATOR = "ferry.operator"


@dataclass(frozen=True, slots=True)
class Signal(JsonModel):
    """One observation. `zone` is the AZ name (us-east-1a); `zone_id` the AZ id (use1-az1) when the source
    speaks in ids (ARC, some Health events). Either may be None until enrichment resolves it.

    `source_id` is the id of the event or probe round it came from; with `kind` and the subject it makes the
    signal's identity, so replaying the same event yields an equal Signal.

    Its JSON (`to_dict`, ISO timestamps, snake_case keys) is the form stored in DynamoDB and logged.
    """

    kind: SignalKind
    source: Source
    source_id: str
    observed_at: datetime
    region: str
    zone: str | None = None
    zone_id: str | None = None
    cluster: str | None = None
    instance: str | None = None
    evidence: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.observed_at.tzinfo is None:
            raise ValueError("Signal.observed_at must be timezone-aware (UTC)")
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))

    @property
    def is_drill(self) -> bool:
        """A drill's signal (operators are told of each: ferry.domain.reactions.drill_notice)."""
        return self.evidence.get(EVIDENCE_DRILL) == "true"


class SkipReason(StrEnum):
    """Why a well-formed event leads to no Signal. Each reason is a metric dimension."""

    UNKNOWN_EVENT = "unknown-event"  # a source/detail-type Ferry has no translator for
    NOT_ZONAL = "not-zonal"  # an AWS Health event that names no zone and whose resources Ferry cannot place
    REGIONAL = "regional"  # an AWS Health event whose resources span several zones, none of them named
    NOT_RELEVANT_SERVICE = "not-relevant-service"  # an AWS Health event for a service Ferry ignores
    NOT_OWNED = "not-owned"  # a CloudWatch alarm Ferry did not create
    IGNORED_STATE = "ignored-state"  # a state Ferry does not act on (alarm INSUFFICIENT_DATA, ...)


@dataclass(frozen=True, slots=True)
class Skip:
    """The distinct "drop it, don't retry" outcome for a well-formed event Ferry does not act on."""

    reason: SkipReason
    detail: str


Translation = tuple[Signal, ...] | Skip
"""What a translator returns: one or more Signals (a Health event can name several zones), or a Skip.
Malformed input raises `ferry.domain.errors.EventParseError` instead."""
