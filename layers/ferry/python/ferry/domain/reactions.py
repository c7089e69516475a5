"""What Ferry does about a verdict (pure): the run to start, the alarm to raise, the words to say.

A `Transition` from the detector becomes one `Reaction`. The executor carries it out: in act mode it starts
the run; in observe mode (a fresh deployment's default) it only records and says what it would have
started. Either way every reaction leaves an audit record and a notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ferry.domain.detection.transitions import Handoff, SubjectKind, Transition
from ferry.domain.serialization import JsonModel


@dataclass(frozen=True, slots=True)
class RunbookRequest(JsonModel):
    runbook: Handoff
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
