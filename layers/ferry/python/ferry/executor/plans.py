"""Carrying out a re-homing plan, and deciding, once, whether anything may change.

`PlanExecutor.act_or_plan` is the one place a re-homing run's dry run and the deployment's mode are read:
journaling a plan (`journal_plans`), carrying out its actions (`execute`) and a whole re-home step all go
through it, so the services pass the requested `dryRun` along and report what the executor says it did.

`PlanExecutor` carries out a re-homing plan's actions (`ferry.domain.rehoming.plans`) in order: a step the journal
says is done is skipped; a step gated on a fence runs only if that fence was confirmed; the rest are
performed through an `Effects` (`ferry.executor.effects` in production), with bounded retries and backoff on
409/429/5xx, then journaled and audited. One executor works on a pet at a time (a lock with a lease), so two
executors of the same plan take turns instead of racing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from ferry.adapters.journal import Journal
from ferry.adapters.reporting import AuditLog
from ferry.domain.errors import Conflict, StepPending, Throttled, TransientError
from ferry.domain.modes import Mode
from ferry.domain.rehoming.plans import Action, Condition
from ferry.executor import may_act, must_wait
from ferry.observability import logger

Results = Mapping[str, Mapping[str, Any]]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Performed:
    """What an effect did. Only `done` steps are journaled: an unconfirmed fence is tried again next time."""

    done: bool
    result: Mapping[str, Any] = field(default_factory=dict)


class Effects(Protocol):
    def perform(self, action: Action, results: Results) -> Performed: ...


class StepStatus(StrEnum):
    DONE = "done"
    ALREADY_DONE = "already-done"  # found in the journal: not performed again
    NOT_CONFIRMED = "not-confirmed"  # performed, but not done (a fence EC2 did not confirm)
    GATED = "gated"  # its fence condition did not hold
    PLANNED = "planned"  # dry run or observe mode


@dataclass(frozen=True, slots=True)
class StepOutcome:
    step_id: str
    kind: str
    status: StepStatus
    result: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # when it was done (from the journal for a step done earlier)


@dataclass(frozen=True, slots=True)
class Execution:
    dry_run: bool
    steps: tuple[StepOutcome, ...]
    started_at: datetime | None = None  # when the first of these steps was done, in this run or an earlier one

    def result(self, step_id: str) -> Mapping[str, Any]:
        return next((s.result for s in self.steps if s.step_id == step_id), {})

    def status(self, step_id: str) -> StepStatus | None:
        return next((s.status for s in self.steps if s.step_id == step_id), None)


@dataclass(frozen=True, slots=True)
class JournaledPlans:
    """The plans a run's later steps will execute, by subject: the first written for the run and subject
    (ours or an earlier plan step's), or, in a dry run, the ones given, written nowhere. `await_decision`: the
    run pauses for a person's decision before carrying them out (supervised mode, `ferry.executor.must_wait`)."""

    dry_run: bool
    plans: Mapping[str, Mapping[str, Any]]
    await_decision: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """In-step retries of 409/429/5xx and EC2 throttling: bounded, with exponential backoff (capped);
    beyond them the error leaves the step (Step Functions retries transient ones again, later)."""

    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 2.0

    def delay(self, attempt: int, error: Exception) -> float:
        if isinstance(error, Throttled) and error.retry_after:
            return min(float(error.retry_after), self.max_delay * 4)
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class PlanExecutor:
    def __init__(
        self,
        mode: Mode,
        *,
        journal: Journal,
        audit: AuditLog,
        owner: str,
        lock_lease: timedelta = timedelta(minutes=3),
        clock: Callable[[], datetime],
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._mode = mode
        self._journal = journal
        self._audit = audit
        self._owner = owner
        self._lease = lock_lease
        self._clock = clock
        self._retry = retry
        self._sleep = sleep

    def act_or_plan(self, dry_run: bool, act: Callable[[], T], planned: Callable[[], T]) -> T:
        """`act()` if the world may change (act mode, and no dry run asked for), else `planned()`, which
        says what would have been done and changes nothing. Every other method here decides through this."""
        return act() if may_act(self._mode, dry_run=dry_run) else planned()

    def journal_plans(
        self,
        run_id: str,
        plans: Mapping[str, Mapping[str, Any]],
        *,
        dry_run: bool,
        approved: bool = False,
        pausable: bool = False,
    ) -> JournaledPlans:
        """Journal each subject's plan so the run's later steps execute it; the first one written wins. Says
        whether the run must wait for a decision first (`approved`: started with `"approved": true`;
        `pausable`: a runbook whose state machine can pause)."""

        def journal() -> JournaledPlans:
            at = self._clock()
            saved = {s: self._journal.save_plan(run_id, s, p, at) for s, p in plans.items()}
            wait = must_wait(self._mode, dry_run=dry_run, approved=approved, pausable=pausable, changes=bool(plans))
            return JournaledPlans(False, saved, wait)

        return self.act_or_plan(dry_run, journal, lambda: JournaledPlans(True, dict(plans)))

    def execute(
        self,
        run_id: str,
        actions: Sequence[Action],
        effects: Effects,
        *,
        dry_run: bool,
        why: str,
        lock: str | None = None,
    ) -> Execution:
        """Carry out `actions` in order. Raises StepPending (not yet: ask again later; what is done stays
        journaled), a transient error once in-step retries are spent, or Refused/FerryError (stop here).
        In a dry run or observe mode every step is PLANNED and nothing is read, locked or written."""
        return self.act_or_plan(
            dry_run,
            lambda: self._execute(run_id, actions, effects, why, lock),
            lambda: Execution(True, tuple(StepOutcome(a.step_id, a.kind.value, StepStatus.PLANNED) for a in actions)),
        )

    def _execute(
        self, run_id: str, actions: Sequence[Action], effects: Effects, why: str, lock: str | None
    ) -> Execution:
        owner = f"{self._owner}/{threading.get_ident()}"  # each thread of a local run is its own executor
        if lock and not self._journal.acquire(lock, owner, self._clock(), self._lease):
            raise StepPending(f"another executor is working on {lock}")
        try:
            started = self._clock()
            outcomes = self._run(run_id, actions, effects, why)
            earliest = [o.at for o in outcomes if o.at is not None]
            return Execution(False, tuple(outcomes), min([started, *earliest]))
        finally:
            if lock:
                self._journal.release(lock, owner)

    def _run(self, run_id: str, actions: Sequence[Action], effects: Effects, why: str) -> list[StepOutcome]:
        journaled = self._journal.steps(run_id, [a.step_id for a in actions])
        results: dict[str, Mapping[str, Any]] = {k: r.result for k, r in journaled.items()}
        outcomes: list[StepOutcome] = []
        for action in actions:
            if action.step_id in journaled:
                record = journaled[action.step_id]
                outcomes.append(
                    StepOutcome(action.step_id, action.kind.value, StepStatus.ALREADY_DONE, record.result, record.at)
                )
                continue
            if not _gate_open(action, results):
                outcomes.append(StepOutcome(action.step_id, action.kind.value, StepStatus.GATED))
                continue
            performed = self._perform(effects, action, results)
            results[action.step_id] = performed.result
            at = self._clock()
            if performed.done:
                self._journal.complete(run_id, action.step_id, action.kind.value, performed.result, at)
            status = StepStatus.DONE if performed.done else StepStatus.NOT_CONFIRMED
            self._audit.record(
                f"{run_id}/{action.step_id}",
                at,
                {
                    "what": action.describe(),
                    "who": "ferry-rehoming",
                    "why": why,
                    "run": run_id,
                    "step": action.step_id,
                    "outcome": status.value,
                    "result": dict(performed.result),
                },
            )
            logger.info("step carried out", extra={"run": run_id, "step": action.step_id, "outcome": status.value})
            outcomes.append(StepOutcome(action.step_id, action.kind.value, status, performed.result))
        return outcomes

    def _perform(self, effects: Effects, action: Action, results: Results) -> Performed:
        for attempt in range(1, self._retry.attempts + 1):
            try:
                return effects.perform(action, results)
            except StepPending:
                raise
            except (Conflict, TransientError) as error:
                if attempt == self._retry.attempts:
                    raise
                logger.info("step retried", extra={"step": action.step_id, "attempt": attempt, "error": str(error)})
                self._sleep(self._retry.delay(attempt, error))
        raise AssertionError("unreachable: the last attempt returns or raises")


def _gate_open(action: Action, results: Results) -> bool:
    if action.when is Condition.ALWAYS:
        return True
    fenced = bool((results.get(action.gate or "") or {}).get("fenced"))
    return fenced if action.when is Condition.FENCED else not fenced
