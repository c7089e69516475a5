"""What Ferry does about a verdict (pure): the run to start, the alarm to raise, the words to say.

A `Transition` from the detector becomes one `Reaction`; a node warning (a Signal of `NODE_WARNINGS` about a
registered cluster's instance) becomes a `DrainNode` request without going through the detector, since it
is about one node, not a zone (`drain_request`). The executor carries it out: in act mode it starts
the run; in observe mode (a fresh deployment's default) it only records and says what it would have
started. Either way every reaction leaves an audit record and a notification.

A drill (an ARC practice run or a FIS experiment) changes no verdict unless the operator set `drills=act`,
yet people must hear of it: `drill_notice` says what the drill is, where, and whether Ferry will act on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ferry.domain.detection.transitions import Handoff, SubjectKind, Transition
from ferry.domain.detection.zones import EVIDENCE_EVENT_ARN
from ferry.domain.runbooks import Runbook, is_timestamp
from ferry.domain.serialization import JsonModel
from ferry.domain.signals import EVIDENCE_DEADLINE, NODE_WARNINGS, Signal, SignalKind

_LIFECYCLE_TOKEN = "LifecycleActionToken"  # an Auto Scaling lifecycle action's (translators/autoscaling)


@dataclass(frozen=True, slots=True)
class RunbookRequest(JsonModel):
    """A state machine to start: which, under which deterministic name, with which input."""

    runbook: Handoff | Runbook
    name: str  # deterministic: a second request for the same failure names the same run
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reaction(JsonModel):
    """What to do about one transition. Its JSON (`to_dict`) waits in the outbox, so a reaction survives the
    invocation that decided it."""

    transition: Transition
    subject_line: str
    summary: str
    start: RunbookRequest | None = None
    raise_alarm: bool = False

    @property
    def action_id(self) -> str:
        t = self.transition
        return f"{t.subject_kind.value}:{t.subject}:{t.to_status.value}:{int(t.at.timestamp())}"


def react(transition: Transition, *, requested_by: str = "ferry-detector") -> Reaction:
    start = None
    if transition.handoff is not None and transition.execution_name:
        start = RunbookRequest(
            runbook=transition.handoff,
            name=transition.execution_name,
            input=runbook_input(transition, requested_by),
        )
    return Reaction(
        transition=transition,
        subject_line=subject_line(transition),
        summary=summary(transition),
        start=start,
        raise_alarm=transition.raises_alarm,
    )


def runbook_input(transition: Transition, requested_by: str) -> dict[str, Any]:
    """The hand-off's input, matching `ferry.domain.runbooks.INPUT_SCHEMAS` (and events/stepfunctions/)."""
    reason = f"{transition.reason.value}: " + ", ".join(
        sorted({f"{ref.kind.value}@{ref.source.value}" for ref in transition.signals})
    )
    common = {"reason": reason[:500], "dryRun": False, "requestedBy": requested_by}
    match transition.handoff:
        case Handoff.EVACUATE_ZONE | Handoff.FAILBACK_ZONE:
            return {"zone": transition.subject, **common}
        case Handoff.FAILOVER_CLUSTER:
            return {"cluster": transition.subject, **common}
        case Handoff.REPLACE_CONTROL_PLANE_MEMBER:
            return {"cluster": transition.subject, "instance": transition.member, **common}
    return common


def drain_request(
    signal: Signal, node: str | None, *, drain_on_rebalance: bool, requested_by: str = "ferry-ingest"
) -> RunbookRequest | None:
    """DrainNode for a node warning about a registered cluster's instance; None for anything else.

    One run per instance and warning: the name is made of the instance, the kind and a digest of what
    identifies the warning (`warning_id`), so a redelivered event, or AWS's update of the same warning, names
    the same run (Step Functions refuses the second start). A stale warning decides nothing, like every stale
    signal. A rebalance recommendation only cordons unless the setting asks to drain (as the AWS Node
    Termination Handler does by default).
    """
    if signal.kind not in NODE_WARNINGS or not signal.instance or not signal.cluster or "stale" in signal.evidence:
        return None
    cordon_only = signal.kind is SignalKind.REBALANCE_RECOMMENDATION and not drain_on_rebalance
    digest = hashlib.sha256(warning_id(signal).encode()).hexdigest()[:10]
    deadline = signal.evidence.get(EVIDENCE_DEADLINE)
    target = {"node": node} if node else {"instanceId": signal.instance}
    reason = f"{signal.kind.value} from {signal.source.value} ({signal.source_id}) for {signal.instance}"
    return RunbookRequest(
        runbook=Runbook.DRAIN_NODE,
        name=f"drain-{signal.instance}-{signal.kind.value}-{digest}"[:80],
        input={
            "cluster": signal.cluster,
            **target,
            "reason": reason[:500],
            **({"deadline": deadline} if deadline and is_timestamp(deadline) else {}),
            **({"cordonOnly": True} if cordon_only else {}),
            **_lifecycle_action(signal),
            "dryRun": False,
            "requestedBy": requested_by,
        },
    )


def warning_id(signal: Signal) -> str:
    """What identifies one warning, whichever EventBridge event delivered it (the run name's digest).

    - AWS Health scheduled change (an instance retirement or maintenance: how EC2's scheduled events reach
      EventBridge; the event carries no EC2 event id): its `eventArn`. AWS sends each update of the event (a
      new description, status or entity status) as a new EventBridge event, new id, same ARN; the instance is
      in the name beside the digest, so every update of one event maps to one run per instance.
    - Auto Scaling terminate hook: its `LifecycleActionToken`, the one action DrainNode completes.
    - Spot interruption, rebalance recommendation: the event id (`source_id`). EC2 sends one per instance and
      occasion, with no id of its own in the detail; a redelivery keeps the event's id.

    Without its identifier in the evidence (the translators always keep it) a warning falls back on its id.
    """
    match signal.kind:
        case SignalKind.HEALTH_SCHEDULED_CHANGE:
            return signal.evidence.get(EVIDENCE_EVENT_ARN) or signal.source_id
        case SignalKind.ASG_TERMINATING:
            return signal.evidence.get(_LIFECYCLE_TOKEN) or signal.source_id
    return signal.source_id


def _lifecycle_action(signal: Signal) -> dict[str, Any]:
    """An Auto Scaling terminate hook's action, for DrainNode to complete (CONTINUE) once drained."""
    names = ("AutoScalingGroupName", "LifecycleHookName", _LIFECYCLE_TOKEN)
    if signal.kind is not SignalKind.ASG_TERMINATING or not all(signal.evidence.get(n) for n in names):
        return {}
    group, hook, token = (signal.evidence[n] for n in names)
    return {
        "lifecycleAction": {"autoScalingGroupName": group, "lifecycleHookName": hook, "lifecycleActionToken": token}
    }


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell operators that starts nothing. `action_id` is the event's own: telling it twice is
    telling it once (the executor keeps the first)."""

    action_id: str
    at: datetime
    subject: str
    message: str
    attributes: dict[str, str]


_DRILL_NAMES = {"practice-run": "ARC practice run", "fis-experiment": "FIS experiment"}
# With drills=act the translator gives a drill an authority's kind (it rehearses Ferry's own response).
_DRILL_KINDS = {
    SignalKind.DRILL_STARTED: (True, False),
    SignalKind.DRILL_ENDED: (False, False),
    SignalKind.ZONAL_SHIFT_STARTED: (True, True),
    SignalKind.ZONAL_SHIFT_ENDED: (False, True),
}


def drill_notice(signal: Signal) -> Notice | None:
    """What to tell operators of a drill's start or end (observe or act mode alike); None if not a drill.

    Whether Ferry acts on it is read from the signal: the translator gives a drill an authority's kind only
    when `drills=act`, and a stale one decides nothing either way.
    """
    if not signal.is_drill or signal.kind not in _DRILL_KINDS:
        return None
    started, acted_on = _DRILL_KINDS[signal.kind]
    what = _DRILL_NAMES.get(signal.evidence.get("trigger", ""), "drill")
    zone = " ".join(z for z in (signal.zone, f"({signal.zone_id})" if signal.zone_id else None) if z) or "?"
    if "stale" in signal.evidence:
        action = f"Ferry will not act: {signal.evidence['stale']}, it decides nothing."
    elif acted_on:
        action = (
            "Ferry will act (FERRY_DRILLS=act): it handles the drill as a real zonal shift, so the zone's verdict "
            + ("becomes IMPAIRED and its evacuation runs as the mode allows." if started else "follows its end.")
        )
    else:
        action = "Ferry will not act: drills are recorded only (FERRY_DRILLS=act rehearses Ferry's response)."
    lines = [
        f"{what} {'started' if started else 'ended'}: traffic {'moved away from' if started else 'back in'} "
        f"zone {zone}, region {signal.region}. This is a drill, not a failure.",
        f"event: {signal.source.value} {signal.source_id} at {signal.observed_at.isoformat()}",
        *(f"{key}: {signal.evidence[key]}" for key in ("resources", "notes") if signal.evidence.get(key)),
        f"action: {action}",
    ]
    return Notice(
        action_id=f"drill:{signal.source_id}:{signal.kind.value}",
        at=signal.observed_at,
        subject=f"Ferry: drill {'started' if started else 'ended'} in {signal.zone or signal.zone_id} ({what})",
        message="\n".join(lines),
        attributes={"drill": signal.evidence.get("trigger", ""), "acted_on": "true" if acted_on else "false"},
    )


def subject_line(transition: Transition) -> str:
    what = "zone" if transition.subject_kind is SubjectKind.ZONE else "control plane of"
    return f"Ferry: {what} {transition.subject} {transition.to_status.value} ({transition.reason.value})"


def summary(transition: Transition) -> str:
    lines = [
        f"{transition.subject_kind.value} {transition.subject}: "
        f"{transition.from_status.value} -> {transition.to_status.value} at {transition.at.isoformat()}",
        f"reason: {transition.reason.value}",
    ]
    if transition.member:
        lines.append(f"member: {transition.member}")
    if transition.signals:
        lines.append("signals:")
        lines.extend(
            f"  - {ref.kind.value} from {ref.source.value} at {ref.observed_at.isoformat()} ({ref.source_id})"
            for ref in transition.signals
        )
    return "\n".join(lines)
