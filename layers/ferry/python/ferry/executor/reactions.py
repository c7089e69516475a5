"""Carrying out the detector's reactions: start a runbook in act mode, record it in observe mode, alarm, tell.

A reaction's audit record is written before its notification: an action whose audit write fails is not
reported as done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from ferry.adapters.reporting import AuditLog, Notifier
from ferry.adapters.stepfunctions import RunbookStarter
from ferry.domain.conventions import SUPERVISED_RUNBOOKS
from ferry.domain.errors import FerryError
from ferry.domain.modes import Mode
from ferry.domain.reactions import Notice, Reaction, RunbookRequest
from ferry.executor import may_act
from ferry.observability import NAMESPACE, logger


class Outcome(StrEnum):
    STARTED = "started"
    ALREADY_RUNNING = "already-running"  # a second start of the same run: success, nothing new started
    OBSERVED = "observe-mode-not-started"
    NOT_DEPLOYED = "runbook-not-deployed"  # no state machine for this runbook in this stack: told, by hand
    NOTHING_TO_START = "nothing-to-start"
    TOLD = "told"  # a notice (a drill) sent to operators; nothing to start
    ALREADY_TOLD = "already-told"  # the same notice again (a redelivered event): not sent twice


@dataclass(frozen=True, slots=True)
class Done:
    """What the executor did about one action: its outcome, and the run it started if any."""

    action_id: str
    outcome: Outcome
    execution_arn: str | None = None


class Executor:
    def __init__(
        self,
        mode: Mode,
        *,
        starter: RunbookStarter,
        audit: AuditLog,
        notifier: Notifier,
        clock: Callable[[], datetime],
    ) -> None:
        self._mode = mode
        self._starter = starter
        self._audit = audit
        self._notifier = notifier
        self._clock = clock

    def _start(self, request: RunbookRequest | None) -> tuple[Outcome, str | None]:
        """Start the run if the mode and the stack allow it: the one place that decides whether to act."""
        if request is None:
            return Outcome.NOTHING_TO_START, None
        if not may_act(self._mode):
            return Outcome.OBSERVED, None
        if not self._starter.deployed(request.runbook):
            return Outcome.NOT_DEPLOYED, None
        started = self._starter.start(request.runbook, request.name, request.input)
        return (Outcome.ALREADY_RUNNING if started.already_started else Outcome.STARTED), started.execution_arn

    def start_run(self, request: RunbookRequest, *, who: str, why: str) -> Done:
        """Start a run that no transition asked for (a retry of unfinished work): audited and told alike."""
        done = self._start_audited(request, who=who, why=why)
        if done.outcome is Outcome.STARTED:
            self._notifier.notify(
                f"Ferry: {request.runbook.value} started again ({request.input.get('zone', '')})",
                f"{why}\naction: started {request.runbook.value} as {request.name}",
                {"outcome": done.outcome},
            )
        return done

    def drain(self, request: RunbookRequest, *, why: str) -> Done:
        """Start DrainNode for a node warning: audited, and told whatever the outcome (in observe mode: what
        would have started)."""
        done = self._start_audited(request, who="ferry-ingest", why=why)
        target = request.input.get("node") or request.input.get("instanceId")
        self._notifier.notify(
            f"Ferry: node {request.input.get('cluster')}/{target} warned ({why.split(' ', 1)[0]})",
            f"{why}\n{_run_line(request, done.outcome)}",
            {"outcome": done.outcome},
        )
        return done

    def tell(self, notice: Notice) -> Done:
        """Send a notice once, observe or act mode alike: its audit record (keyed by the event) is written first
        and only if absent, so a redelivered event tells no one twice; a send that fails withdraws the record,
        so the retry tells."""
        record = {"what": notice.subject, "who": "ferry-ingest", "mode": self._mode.value, "outcome": Outcome.TOLD}
        if not self._audit.record_once(notice.action_id, notice.at, {**record, "message": notice.message}):
            return Done(action_id=notice.action_id, outcome=Outcome.ALREADY_TOLD)
        try:
            self._notifier.notify(notice.subject, notice.message, notice.attributes)
        except FerryError:
            self._audit.withdraw(notice.action_id, notice.at)
            raise
        return Done(action_id=notice.action_id, outcome=Outcome.TOLD)

    def _start_audited(self, request: RunbookRequest, *, who: str, why: str) -> Done:
        """Start a run no transition asked for, and leave its audit record (written before anyone is told)."""
        outcome, execution_arn = self._start(request)
        action_id = f"run:{request.name}"
        self._audit.record(
            action_id,
            self._clock(),
            {
                "what": f"start {request.runbook.value} as {request.name}",
                "who": who,
                "why": why,
                "mode": self._mode.value,
                "runbook": request.runbook.value,
                "execution_name": request.name,
                "input": request.input,
                "outcome": outcome,
                "execution_arn": execution_arn,
            },
        )
        return Done(action_id=action_id, outcome=outcome, execution_arn=execution_arn)

    def carry_out(self, reaction: Reaction) -> Done:
        transition = reaction.transition
        outcome, execution_arn = self._start(reaction.start)
        if reaction.raise_alarm:
            # Ferry's own alarm (ferry-static-stability) watches this metric.
            with single_metric(name="StaticStabilityHold", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as m:
                m.add_dimension(name="subject", value=transition.subject)
        done = Done(action_id=reaction.action_id, outcome=outcome, execution_arn=execution_arn)
        record: dict[str, Any] = {
            "what": f"{transition.subject_kind.value} {transition.subject} -> {transition.to_status.value}",
            "who": "ferry-detector",
            "why": transition.reason.value,
            "mode": self._mode.value,
            "transition": transition.to_dict(),
            "runbook": reaction.start.runbook.value if reaction.start else None,
            "execution_name": reaction.start.name if reaction.start else None,
            "input": reaction.start.input if reaction.start else None,
            "outcome": outcome,
            "execution_arn": execution_arn,
            "alarm_raised": reaction.raise_alarm,
        }
        self._audit.record(reaction.action_id, self._clock(), record)
        waits = (
            self._mode is Mode.SUPERVISED
            and outcome is Outcome.STARTED
            and reaction.start is not None
            and reaction.start.runbook.value in SUPERVISED_RUNBOOKS
        )
        then = "\nsupervised mode: it waits for a person's ferry-Decide before its first change" if waits else ""
        self._notifier.notify(
            reaction.subject_line,
            f"{reaction.summary}\n{_outcome_line(reaction, outcome)}{then}",
            {"subject": transition.subject, "status": transition.to_status.value, "outcome": outcome},
        )
        logger.info("reaction carried out", extra={"action_id": done.action_id, "outcome": outcome})
        return done


def _outcome_line(reaction: Reaction, outcome: Outcome) -> str:
    if reaction.start is None:
        return "action: none (notification only)" + (
            "; Ferry's static-stability alarm raised" if reaction.raise_alarm else ""
        )
    return _run_line(reaction.start, outcome)


def _run_line(request: RunbookRequest, outcome: Outcome) -> str:
    run = f"{request.runbook.value} as {request.name}"
    return {
        Outcome.STARTED: f"action: started {run}",
        Outcome.ALREADY_RUNNING: f"action: {run} was already running; nothing new started",
        Outcome.OBSERVED: f"action: observe mode, would have started {run} (switch to act mode to let Ferry act)",
        Outcome.NOT_DEPLOYED: f"action: none, no state machine for {run} is deployed here: act by hand",
    }[outcome]
