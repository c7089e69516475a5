"""The detector's vocabulary: statuses, why a status changed, and what the change hands off (pure).

A `Transition` is the only output that leaves the detector. It feeds three readers: the audit record (who,
what, why, on which signals), the notification, and the hand-off that starts a state machine. The hand-off
carries a deterministic execution name (`evacuate-<zone>-<epoch of the impairment start>`): a transition
computed twice, by a retry or by two racing invocations, names the same run, and Step Functions refuses the
second start of a name, so one failure never starts two evacuations.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ferry.domain.detection.facts import SignalRef
from ferry.domain.serialization import JsonModel, wire


class ZoneStatus(StrEnum):
    HEALTHY = "healthy"
    SUSPECT = "suspect"  # some evidence, not enough to act (or held by static stability)
    IMPAIRED = "impaired"  # evacuation handed off
    RECOVERING = "recovering"  # quiet again; failback waits for the hold-down


class ControlPlaneStatus(StrEnum):
    UP = "up"
    DEGRADED = "degraded"  # a member failed: it is replaced, the cluster stays in service
    DOWN = "down"  # the API is gone: the cluster's work fails over to other clusters


class SubjectKind(StrEnum):
    ZONE = "zone"
    CONTROL_PLANE = "control-plane"


class Handoff(StrEnum):
    """The state machine a transition starts; the values are the state machines' names (`ferry.domain.runbooks`)."""

    EVACUATE_ZONE = "EvacuateZone"
    FAILBACK_ZONE = "FailbackZone"
    FAILOVER_CLUSTER = "FailoverCluster"
    REPLACE_CONTROL_PLANE_MEMBER = "ReplaceControlPlaneMember"


class TransitionReason(StrEnum):
    EVIDENCE = "evidence"  # one witness reports the zone impaired
    EVIDENCE_EXPIRED = "evidence-expired"  # that evidence aged out of the window, or was withdrawn
    AUTHORITY = "authority"  # AWS Health or an ARC zonal shift says so
    OPERATOR_REQUEST = "operator-request"  # a person asked for EvacuateZone
    QUORUM = "quorum"  # enough independent witnesses within the window
    STATIC_STABILITY = "static-stability"  # would impair one zone too many: held, Ferry alarms instead
    RECOVERY_SIGNALLED = "recovery-signalled"  # authorities resolved / probes report nodes ready
    RELAPSED = "relapsed"  # impairment again inside the hold-down: back to IMPAIRED, no new evacuation
    RECOVERED = "recovered"  # quiet for the whole hold-down: failback
    API_UNREACHABLE = "api-unreachable"  # the API failed `probe_quorum` consecutive probe rounds
    MEMBERS_DOWN = "members-down"  # every registered control-plane instance is stopped or gone
    API_RECOVERED = "api-recovered"  # the API answered `recovery_rounds` consecutive rounds
    MEMBER_UNHEALTHY = "member-unhealthy"  # one member failed /readyz or its instance stopped
    MEMBERS_HEALTHY = "members-healthy"  # every member passes again


@dataclass(frozen=True, slots=True)
class Transition(JsonModel):
    """One change of verdict about one zone or one control plane.

    `handoff` and `execution_name` say which run to start, if any. A relapse (RECOVERING -> IMPAIRED) has no
    hand-off: its `execution_name` names the evacuation already under way, which it continues. A
    `STATIC_STABILITY` transition starts nothing: `raises_alarm` tells the caller to raise Ferry's own alarm
    and notify, because the observer is the likelier failure.

    Its JSON (`to_dict`) is the audit record's and the notification's view, and the outbox keeps it.
    """

    subject_kind: SubjectKind
    subject: str
    # One union for both subjects: the two enums share no value, so each status reads back as what it was.
    from_status: ZoneStatus | ControlPlaneStatus = field(metadata=wire(key="from"))
    to_status: ZoneStatus | ControlPlaneStatus = field(metadata=wire(key="to"))
    at: datetime
    reason: TransitionReason
    signals: tuple[SignalRef, ...] = ()
    handoff: Handoff | None = None
    execution_name: str | None = None
    member: str | None = None  # the control-plane member concerned, for member transitions

    @property
    def starts_execution(self) -> bool:
        return self.handoff is not None

    @property
    def raises_alarm(self) -> bool:
        return self.reason is TransitionReason.STATIC_STABILITY


def transition(
    subject_kind: SubjectKind,
    subject: str,
    before: ZoneStatus | ControlPlaneStatus,
    after: ZoneStatus | ControlPlaneStatus,
    *,
    clock: datetime,
    reason: TransitionReason,
    signals: tuple[SignalRef, ...],
    handoff: Handoff | None = None,
    name: str | None = None,
) -> Transition:
    """A transition from `before` to `after` of one subject (the zone and control-plane machines share it)."""
    return Transition(
        subject_kind=subject_kind,
        subject=subject,
        from_status=before,
        to_status=after,
        at=clock,
        reason=reason,
        signals=signals,
        handoff=handoff,
        execution_name=name,
    )


# Patterns, not compiled objects: they serve only when a transition is named, rarely, and `re` compiles each
# once on first use; compiling them at import would cost every cold start of ingest and probe.
_NAME_UNSAFE = r"[^0-9A-Za-z_-]"
_NAME_LIMIT = 80  # Step Functions: at most 80 characters of [0-9A-Za-z_-]
_EXECUTION_NAME = r"^[0-9A-Za-z_-]{1,80}$"


def execution_name(verb: str, *parts: str, at: datetime) -> str:
    """`<verb>-<parts>-<epoch seconds>`, a valid Step Functions name; too long a name keeps its head and
    replaces the rest by a digest, so that two long cluster names never collapse into one run."""
    name = re.sub(_NAME_UNSAFE, "-", "-".join([verb, *parts, str(int(at.timestamp()))]))
    if len(name) <= _NAME_LIMIT:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: _NAME_LIMIT - len(digest) - 1]}-{digest}"


def is_execution_name(value: str) -> bool:
    return bool(re.match(_EXECUTION_NAME, value))
