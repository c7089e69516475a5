"""Supervised mode's steps: a run's pause (`runbook-await`: record, tell, and apply a timeout) and a person's
decision (`decide`, the one Task of ferry-Decide).

A decision is checked before anything is sent: the input against its schema, then the run's pause as the table
holds it (`ferry.domain.decisions.refusal`: waiting, not decided, not past its deadline). A refused decision
raises InputError naming the problem; its state machine ends in InputRejected with that message, and no token
is sent. Two Decides at once: the pause's conditional write lets one win; the other reads what won and is
refused the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferry.adapters.aws import LazyClient, client
from ferry.adapters.decisions import Pauses
from ferry.adapters.reporting import AuditLog, Notifier
from ferry.adapters.stepfunctions import TaskTokens
from ferry.domain.decisions import DecideRequest, Pause, how_to_decide, refusal
from ferry.domain.errors import Conflict, InputError, NotFound
from ferry.domain.rehoming.models import PlanOutput
from ferry.domain.rehoming.reports import plan_summary
from ferry.domain.runbooks import Runbook
from ferry.executor.decisions import Decider
from ferry.services.clocks import Clock
from ferry.services.inputs import validate_input
from ferry.services.settings.decisions import DecisionSettings


class Decisions:
    def __init__(self, settings: DecisionSettings, *, pauses: Pauses, decider: Decider, clock: Clock) -> None:
        self._settings = settings
        self._pauses = pauses
        self._decider = decider
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: DecisionSettings, *, clock: Clock) -> Decisions:
        dynamodb = client("dynamodb")
        pauses = Pauses(dynamodb, settings.table_name)
        decider = Decider(
            pauses=pauses,
            tokens=TaskTokens(LazyClient("stepfunctions")),
            audit=AuditLog(dynamodb, settings.table_name),
            notifier=Notifier(LazyClient("sns"), settings.topic_arn),
        )
        return cls(settings, pauses=pauses, decider=decider, clock=clock)

    # --- runbook-await -------------------------------------------------------------------------------------------

    def on_pause(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """runbook-await's two calls from the pause: the wait begins (`{token, plan}`), or it timed out
        (`{timedOut: true, runId}`)."""
        return self.time_out(event) if event.get("timedOut") else self.await_decision(event)

    def await_decision(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """`{token, plan}`: the run's wait begins; the state machine waits for the token, not for this result."""
        plan = PlanOutput.from_dict(event.get("plan") or {})
        now = self._clock()
        pause = Pause(
            run_id=plan.run_id,
            runbook=plan.runbook.value,
            token=str(event.get("token") or ""),
            summary=plan_summary(plan),
            waiting_since=now,
            deadline=now + self._settings.timeout,
            on_timeout=self._settings.on_timeout,
        )
        self._decider.pause(pause, how_to_decide=how_to_decide(plan.run_id, self._settings.decide_arn))
        return {"runId": plan.run_id, "waitingUntil": pause.deadline.isoformat()}

    def time_out(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """`{runId}`: Step Functions ended the wait; `onTimeout` decides (abort raises DecisionTimedOut)."""
        run_id = str(event.get("runId") or "")
        pause = self._pauses.get(run_id)
        if pause is None:
            raise NotFound(f"run {run_id} has no recorded pause")
        return self._decider.time_out(pause, self._clock())

    # --- decide -----------------------------------------------------------------------------------------------------

    def decide(self, event: Mapping[str, Any]) -> dict[str, Any]:
        validate_input(Runbook.DECIDE, dict(event))
        request = DecideRequest.from_dict(event)
        now = self._clock()
        pause = self._pauses.get(request.run_id)
        problem = refusal(pause, request, now)
        if problem is not None or pause is None:
            raise InputError([problem or "runId: no pause"])
        try:
            settled = self._decider.decide(pause, request, now)
        except Conflict:  # another decision (or the timeout) settled it first: say which, send nothing
            raise InputError([refusal(self._pauses.get(request.run_id), request, now) or "runId: decided"]) from None
        except NotFound:
            raise InputError(
                [f"runId: run {request.run_id} stopped waiting before the decision reached it: nothing sent"]
            ) from None
        return {
            "runId": request.run_id,
            "runbook": pause.runbook,
            "decision": request.decision.value,
            "by": request.by,
            "reason": request.reason,
            "status": settled.status.value,
            "decidedAt": now.isoformat(),
        }
