"""Supervised mode's decisions (pure): a paused run, who may decide it and when, and what its notification says.

In supervised mode an automatic run plans, then waits before its first change: its state machine hands a
task token to `runbook-await`, which records the pause (`Pause`: the token, the plan's summary from
`ferry.domain.rehoming.reports.plan_summary`, a deadline) and tells operators how to decide. A person starts
`ferry-Decide {runId, decision, by, reason}`; the decision is accepted only while the run waits and before its
deadline, once (`refusal` names the problem otherwise, and nothing is sent). No decision by the deadline: Step
Functions ends the wait (`States.Timeout`) and the `onTimeout` setting says what happens, `abort` (the default:
nothing changes) or `proceed`.

An evacuation whose fences were not all confirmed is started again every few minutes under a new name (the
probe's retry, ferry.services.verdicts). What the person decided on the run it retries holds for the retry
(`retry_terms`): approved, the retry carries the approval and does not ask again; rejected or aborted at its
deadline, no retry starts; never asked, the retry is an automatic run like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ferry.domain.serialization import CamelJsonModel


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class OnTimeout(StrEnum):
    """What a paused run does when nobody decided in time: stop changing nothing (default), or go on."""

    ABORT = "abort"
    PROCEED = "proceed"


class PauseStatus(StrEnum):
    WAITING = "waiting"
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed-out"


@dataclass(frozen=True, slots=True)
class Pause(CamelJsonModel):
    """One supervised run's wait for a decision, as Ferry's table keeps it (`RUN#<runId>` / `PAUSE`)."""

    run_id: str
    runbook: str
    token: str
    summary: str
    waiting_since: datetime
    deadline: datetime
    on_timeout: OnTimeout
    status: PauseStatus = PauseStatus.WAITING
    decided_by: str | None = None
    reason: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DecideRequest(CamelJsonModel):
    """ferry-Decide's input (checked against its schema, ferry.domain.runbooks, before it is read)."""

    run_id: str
    decision: Decision
    by: str
    reason: str


def refusal(pause: Pause | None, request: DecideRequest, now: datetime) -> str | None:
    """Why this decision may not be sent (None: it may). Each message names the run and what is wrong."""
    run = request.run_id
    if pause is None:
        return f"runId: no run {run} is waiting for a decision (not supervised, approved at start, or unknown)"
    if pause.status is PauseStatus.TIMED_OUT:
        return (
            f"runId: run {run} stopped waiting at its deadline {pause.deadline.isoformat()} "
            f"(onTimeout {pause.on_timeout.value}): a decision now is too late, nothing sent"
        )
    if pause.status is not PauseStatus.WAITING:
        return (
            f"runId: run {run} was already {pause.status.value} by {pause.decided_by} at "
            f"{pause.decided_at.isoformat() if pause.decided_at else '?'}: nothing sent"
        )
    if now >= pause.deadline:
        return (
            f"runId: run {run}'s wait ended at {pause.deadline.isoformat()}: a decision now is too late, nothing sent"
        )
    return None


def decided(pause: Pause, request: DecideRequest, now: datetime) -> Pause:
    """The pause once a person decided (checked by `refusal` first)."""
    status = PauseStatus.APPROVED if request.decision is Decision.APPROVE else PauseStatus.REJECTED
    return replace(pause, status=status, decided_by=request.by, reason=request.reason, decided_at=now)


def timed_out(pause: Pause, now: datetime) -> Pause:
    """The pause once Step Functions ended the wait at its deadline: whatever came late is refused after it."""
    return replace(pause, status=PauseStatus.TIMED_OUT, decided_by="ferry (timeout)", decided_at=now)


def rejection_cause(request: DecideRequest) -> str:
    """The cause a rejected run's report shows: who, and why."""
    return f"rejected by {request.by}: {request.reason}"


def how_to_decide(run_id: str, decide_arn: str) -> str:
    """The notification's instructions: the same input from the console or the CLI."""
    approve = f'{{"runId": "{run_id}", "decision": "approve", "by": "<you>", "reason": "<why>"}}'
    return (
        "To decide, start the ferry-Decide state machine (Step Functions console: ferry-Decide, Start execution) "
        f"with the input\n  {approve}\n(decision: approve or reject), or from the CLI:\n"
        f"  aws stepfunctions start-execution --state-machine-arn {decide_arn} --input '{approve}'"
    )


@dataclass(frozen=True, slots=True)
class RetryTerms:
    """Whether a retry of an unfinished run starts, and the approval it carries (`input`) if it does."""

    start: bool
    why: str
    approved_by: str | None = None

    @property
    def input(self) -> dict[str, Any]:
        """What the retry's input adds: the approval it carries (`"approved": true` skips the wait, the
        approver's name goes to the run's audit), or nothing."""
        return {"approved": True, "approvedBy": self.approved_by} if self.approved_by else {}


def retry_terms(pause: Pause | None) -> RetryTerms:
    """What the decision on a run (its pause record; None: it never waited) means for a retry of it.

    A person's decision was about this evacuation, not about one execution of it: an approval stands for the
    retry (which goes on without asking again), a rejection or a timeout that aborted stands too (no retry:
    the person said no, or nobody said yes). A run that went on at its deadline (`onTimeout` proceed) was
    approved by nobody: its retry asks again, and proceeds again if nobody answers. While the run still
    waits, a retry would ask the same question twice: none starts until the person decides.
    """
    if pause is None:
        return RetryTerms(start=True, why="the run never waited for a decision")
    if pause.status is PauseStatus.WAITING:
        return RetryTerms(start=False, why=f"{pause.run_id} still waits for a decision: no retry before it")
    decision = f"{pause.run_id} {pause.status.value} by {pause.decided_by}"
    if pause.status is PauseStatus.APPROVED:
        by = pause.decided_by or "?"  # `decided` always names who
        return RetryTerms(start=True, why=f"{decision}: the retry carries the approval", approved_by=by)
    if pause.status is PauseStatus.REJECTED:
        return RetryTerms(start=False, why=f"{decision}: a rejected evacuation is not retried")
    if pause.on_timeout is OnTimeout.ABORT:
        return RetryTerms(start=False, why=f"{decision}: aborted at its deadline, it is not retried")
    return RetryTerms(start=True, why=f"{decision}: it proceeded unapproved, the retry asks again")
