"""What Ferry does about a verdict (pure): the run to start, the alarm to raise, the words to say.

A `Transition` from the detector becomes one `Reaction`; a node warning (a Signal of `NODE_WARNINGS` about a
registered cluster's instance) becomes a `DrainNode` request without going through the detector, since it
is about one node, not a zone (`drain_request`). The executor carries it out: in act mode it starts
the run; in observe mode (a fresh deployment's default) it only records and says what it would have
started. Either way every reaction leaves an audit record and a notification.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ferry.domain.detection.transitions import Handoff, SubjectKind, Transition
from ferry.domain.runbooks import TIMESTAMP_PATTERN, Runbook
from ferry.domain.serialization import JsonModel
from ferry.domain.signals import EVIDENCE_DEADLINE, NODE_WARNINGS, Signal, SignalKind


@dataclass(frozen=True, slots=True)
class RunbookRequest(JsonModel):
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

    One run per instance and warning: the name is made of the instance, the kind and a digest of the event's
    id, so a redelivered event names the same run (Step Functions refuses the second start). A stale warning
    decides nothing, like every stale signal. A rebalance recommendation only cordons unless the setting asks
    to drain (as the AWS Node Termination Handler does by default).
    """
    if signal.kind not in NODE_WARNINGS or not signal.instance or not signal.cluster or "stale" in signal.evidence:
        return None
    cordon_only = signal.kind is SignalKind.REBALANCE_RECOMMENDATION and not drain_on_rebalance
    digest = hashlib.sha256(signal.source_id.encode()).hexdigest()[:10]
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
            **({"deadline": deadline} if deadline and TIMESTAMP_PATTERN.match(deadline) else {}),
            **({"cordonOnly": True} if cordon_only else {}),
            **_lifecycle_action(signal),
            "dryRun": False,
            "requestedBy": requested_by,
        },
    )


def _lifecycle_action(signal: Signal) -> dict[str, Any]:
    """An Auto Scaling terminate hook's action, for DrainNode to complete (CONTINUE) once drained."""
    names = ("AutoScalingGroupName", "LifecycleHookName", "LifecycleActionToken")
    if signal.kind is not SignalKind.ASG_TERMINATING or not all(signal.evidence.get(n) for n in names):
        return {}
    group, hook, token = (signal.evidence[n] for n in names)
    return {
        "lifecycleAction": {"autoScalingGroupName": group, "lifecycleHookName": hook, "lifecycleActionToken": token}
    }


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
