"""Supervised mode's pauses, carried out: a waiting run recorded and told, a person's decision sent, a timeout
applied. Each is audited before anyone is told or anything is sent (an action whose audit write fails is not
done).

The pause is a Step Functions task token (cdk/supervision.py): the run's state machine waits on it until
`ferry-Decide` sends it (SendTaskSuccess to approve, SendTaskFailure `DecisionRejected` to reject) or its
timeout ends the wait. The pause record's conditional writes (`ferry.adapters.decisions.Pauses`) make one
decision win: the record is settled before the token is sent, so a second Decide finds it settled and sends
nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ferry.adapters.decisions import Pauses
from ferry.adapters.reporting import AuditLog, Notifier
from ferry.adapters.stepfunctions import TaskTokens
from ferry.domain.conventions import DECISION_REJECTED
from ferry.domain.decisions import DecideRequest, Decision, OnTimeout, Pause, decided, rejection_cause, timed_out
from ferry.domain.errors import DecisionTimedOut
from ferry.observability import logger


class Decider:
    def __init__(self, *, pauses: Pauses, tokens: TaskTokens, audit: AuditLog, notifier: Notifier) -> None:
        self._pauses = pauses
        self._tokens = tokens
        self._audit = audit
        self._notifier = notifier

    def pause(self, pause: Pause, *, how_to_decide: str) -> None:
        """Record the run's wait (its token and plan summary), audit it, tell operators how to decide."""
        self._pauses.wait(pause)
        self._audit.record(
            f"{pause.run_id}/pause",
            pause.waiting_since,
            {
                "what": f"{pause.runbook} {pause.run_id} waits for a decision until {pause.deadline.isoformat()}",
                "who": "ferry-supervision",
                "why": "supervised mode: an automatic run pauses before its first change",
                "on_timeout": pause.on_timeout.value,
                "summary": pause.summary,
            },
        )
        self._notifier.notify(
            f"Ferry: {pause.runbook} {pause.run_id} waits for your decision",
            f"{pause.summary}\n\nWaiting until {pause.deadline.isoformat()}; then: {pause.on_timeout.value}.\n"
            f"{how_to_decide}",
            {"run": pause.run_id, "outcome": "waiting"},
        )
        logger.info("run paused for a decision", extra={"run": pause.run_id, "deadline": pause.deadline.isoformat()})

    def decide(self, pause: Pause, request: DecideRequest, now: datetime) -> Pause:
        """Settle the pause with the person's decision (Conflict: someone settled it first, nothing sent), audit
        who decided, then send the token. NotFound: the wait was over before the token reached it."""
        settled = decided(pause, request, now)
        self._pauses.settle(settled)
        self._audit.record(
            f"{pause.run_id}/decision",
            now,
            {
                "what": f"{pause.runbook} {pause.run_id} {settled.status.value}",
                "who": request.by,
                "why": request.reason,
                "decision": request.decision.value,
            },
        )
        if request.decision is Decision.APPROVE:
            self._tokens.succeed(pause.token, _decision(request.decision.value, request.by, request.reason))
        else:
            self._tokens.fail(pause.token, DECISION_REJECTED, rejection_cause(request))
        logger.info("decision sent", extra={"run": pause.run_id, "decision": request.decision.value})
        return settled

    def time_out(self, pause: Pause, now: datetime) -> dict[str, Any]:
        """The wait ended without a decision: recorded (over a decision that came too late to be delivered),
        audited and told. `abort` raises DecisionTimedOut (the run goes to its report, nothing changed);
        `proceed` returns the decision its state machine goes on with."""
        settled = timed_out(pause, now)
        self._pauses.settle(settled, whatever_it_says=True)
        then = "aborted: nothing changes" if pause.on_timeout is OnTimeout.ABORT else "proceeding without a decision"
        self._audit.record(
            f"{pause.run_id}/decision",
            now,
            {
                "what": f"{pause.runbook} {pause.run_id}: no decision by {pause.deadline.isoformat()}, {then}",
                "who": "ferry-supervision",
                "why": f"onTimeout is {pause.on_timeout.value}",
                "decision": pause.on_timeout.value,
            },
        )
        self._notifier.notify(
            f"Ferry: {pause.runbook} {pause.run_id} not decided in time, {then}",
            f"{pause.summary}\n\nNobody decided by {pause.deadline.isoformat()}; onTimeout is "
            f"{pause.on_timeout.value}: {then}.",
            {"run": pause.run_id, "outcome": f"timeout-{pause.on_timeout.value}"},
        )
        if pause.on_timeout is OnTimeout.ABORT:
            raise DecisionTimedOut(f"{pause.runbook} {pause.run_id}: no decision by {pause.deadline.isoformat()}")
        return _decision(pause.on_timeout.value, "ferry (timeout)", f"no decision by {pause.deadline.isoformat()}")


def _decision(decision: str, by: str, reason: str) -> dict[str, Any]:
    return {"decision": decision, "by": by, "reason": reason}
