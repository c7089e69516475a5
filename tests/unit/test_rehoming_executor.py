"""The plan executor with fakes: dry run and observe mode do nothing (no step, no plan journaled), the fence gate,
the journal, retries, locks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from ferry.adapters.journal import StepRecord
from ferry.domain.errors import Conflict, Refused, StepPending, Throttled, Unavailable
from ferry.domain.modes import Mode
from ferry.domain.rehoming.planner import plan_evacuation
from ferry.domain.rehoming.plans import Action, ActionKind
from ferry.executor.plans import Performed, PlanExecutor, RetryPolicy, StepStatus
from tests.unit.rehoming_builders import NOW, ZONES, request, three_pets


class MemoryJournal:
    """The journal's contract in memory (the DynamoDB one is tested on moto in tests/adapters)."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], StepRecord] = {}
        self.locks: dict[str, tuple[str, datetime]] = {}
        self.plans: dict[tuple[str, str], Mapping[str, Any]] = {}

    def steps(self, run_id: str, step_ids: Any) -> dict[str, StepRecord]:
        return {s: self.records[(run_id, s)] for s in step_ids if (run_id, s) in self.records}

    def complete(self, run_id: str, step_id: str, kind: str, result: Mapping[str, Any], at: datetime) -> None:
        self.records[(run_id, step_id)] = StepRecord(step_id, kind, dict(result), at)

    def save_plan(self, run_id: str, subject: str, plan: Mapping[str, Any], at: datetime) -> Mapping[str, Any]:
        return self.plans.setdefault((run_id, subject), plan)

    def acquire(self, name: str, owner: str, now: datetime, lease: timedelta) -> bool:
        holder = self.locks.get(name)
        if holder and holder[0] != owner and holder[1] > now:
            return False
        self.locks[name] = (owner, now + lease)
        return True

    def release(self, name: str, owner: str) -> None:
        if self.locks.get(name, ("",))[0] == owner:
            del self.locks[name]


class MemoryAudit:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def record(self, action_id: str, at: datetime, record: dict[str, Any]) -> None:
        self.records.append((action_id, record))


class CountingEffects:
    """Performs nothing, remembers every step it was asked to perform; fences as told."""

    def __init__(self, *, fenced: bool = True, fail: Mapping[str, list[Exception]] | None = None) -> None:
        self.fenced = fenced
        self.performed: list[str] = []
        self.fail = {k: list(v) for k, v in (fail or {}).items()}

    def perform(self, action: Action, results: Mapping[str, Mapping[str, Any]]) -> Performed:
        errors = self.fail.get(action.kind.value)
        if errors:
            raise errors.pop(0)
        self.performed.append(action.step_id)
        if action.kind is ActionKind.FENCE:
            return Performed(self.fenced, {"fenced": self.fenced, "detail": "" if self.fenced else "EC2 says running"})
        if action.kind is ActionKind.CREATE_VOLUME:
            return Performed(True, {"volumeId": "vol-new"})
        if action.kind is ActionKind.TAG_OLD_VOLUME:
            assert results[action.created_by]["volumeId"] == "vol-new"  # type: ignore[attr-defined]
        return Performed(True, {})


def pet_actions() -> tuple[Action, ...]:
    return plan_evacuation(ZONES[0], [three_pets().build()], request()).pets[0].actions


def executor(mode: Mode = Mode.ACT, **kwargs: Any) -> tuple[PlanExecutor, MemoryJournal, MemoryAudit, list[float]]:
    journal, audit, slept = MemoryJournal(), MemoryAudit(), []
    built = PlanExecutor(
        mode,
        journal=journal,
        audit=audit,
        owner="me",
        clock=lambda: NOW,
        sleep=slept.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return built, journal, audit, slept


@pytest.mark.parametrize(
    ("mode", "dry_run"),
    [pytest.param(Mode.ACT, True, id="dry-run"), pytest.param(Mode.OBSERVE, False, id="observe-mode")],
)
def test_dry_run_and_observe_mode_perform_nothing(mode: Mode, dry_run: bool) -> None:
    run, journal, audit, _ = executor(mode)
    effects = CountingEffects()

    execution = run.execute("r", pet_actions(), effects, dry_run=dry_run, why="t", lock="pet/x")

    journaled = run.journal_plans("r", {"pet/x": {"pod": "db-0"}}, dry_run=dry_run)
    acted = run.act_or_plan(dry_run, lambda: "acted", lambda: "planned")

    assert execution.dry_run and {s.status for s in execution.steps} == {StepStatus.PLANNED}
    assert len(execution.steps) == len(pet_actions())
    assert journaled.dry_run and journaled.plans == {"pet/x": {"pod": "db-0"}}
    assert acted == "planned"
    assert effects.performed == [] and journal.records == {} and journal.locks == {} and audit.records == []
    assert journal.plans == {}, "no plan journaled for later steps to execute"


def test_the_first_plan_journaled_for_a_run_is_the_one_kept() -> None:
    run, journal, _, _ = executor()

    first = run.journal_plans("r", {"pet/x": {"to": "b"}, "node/y": {"node": "y"}}, dry_run=False)
    again = run.journal_plans("r", {"pet/x": {"to": "c"}}, dry_run=False)

    assert not first.dry_run and first.plans == {"pet/x": {"to": "b"}, "node/y": {"node": "y"}}
    assert not again.dry_run and again.plans == {"pet/x": {"to": "b"}}, "a plan step run again reports the kept plan"
    assert journal.plans == {("r", "pet/x"): {"to": "b"}, ("r", "node/y"): {"node": "y"}}


def test_a_confirmed_fence_opens_the_gate_and_every_step_is_journaled_and_audited() -> None:
    run, journal, audit, _ = executor()
    execution = run.execute("r", pet_actions(), CountingEffects(fenced=True), dry_run=False, why="t")

    statuses = {s.step_id.split("/")[1]: s.status for s in execution.steps}
    assert statuses["out-of-service"] is StepStatus.DONE and statuses["quarantine"] is StepStatus.GATED
    assert statuses["verify-running"] is StepStatus.DONE
    done = [s.step_id for s in execution.steps if s.status is StepStatus.DONE]
    assert sorted(s for _, s in journal.records) == sorted(done)
    assert [a for a, _ in audit.records] == [f"r/{s}" for s in done]


def test_an_unconfirmed_fence_quarantines_and_forces_nothing() -> None:
    run, journal, _, _ = executor()
    effects = CountingEffects(fenced=False)
    execution = run.execute("r", pet_actions(), effects, dry_run=False, why="t")

    assert [p.split("/")[1] for p in effects.performed] == ["fence", "cordon", "quarantine"]
    gated = [s.step_id.split("/")[1] for s in execution.steps if s.status is StepStatus.GATED]
    assert "out-of-service" in gated and "delete-pvc" in gated and "create-volume" in gated
    assert not any("/fence/" in s for _, s in journal.records)  # tried again next time


def test_journaled_steps_are_skipped_and_their_results_feed_later_steps() -> None:
    run, _journal, _, _ = executor()
    actions = pet_actions()
    first = CountingEffects(fail={"create-pv": [Refused("stop here")]})
    with pytest.raises(Refused):
        run.execute("r", actions, first, dry_run=False, why="t")
    second = CountingEffects()
    run.execute("r", actions, second, dry_run=False, why="t")

    assert set(first.performed).isdisjoint(second.performed)
    assert sorted(first.performed + second.performed) == sorted(
        a.step_id for a in actions if a.kind.value != "quarantine"
    )


def test_not_yet_leaves_the_done_steps_journaled() -> None:
    run, journal, _, _ = executor()
    with pytest.raises(StepPending):
        run.execute(
            "r", pet_actions(), CountingEffects(fail={"verify-running": [StepPending("x")]}), dry_run=False, why="t"
        )
    assert not any("/verify-running/" in s for _, s in journal.records)
    assert any("/bind-pvc/" in s for _, s in journal.records)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(Conflict("409"), id="conflict"),
        pytest.param(Throttled("429"), id="throttled"),
        pytest.param(Unavailable("503"), id="unavailable"),
    ],
)
def test_transient_errors_are_retried_with_bounded_backoff(error: Exception) -> None:
    run, _, _, slept = executor(retry=RetryPolicy(attempts=4, base_delay=0.2, max_delay=0.5))
    effects = CountingEffects(fail={"cordon": [error, error, error]})
    run.execute("r", pet_actions(), effects, dry_run=False, why="t")

    assert slept == [0.2, 0.4, 0.5]
    with pytest.raises(type(error)):
        run.execute("r2", pet_actions(), CountingEffects(fail={"cordon": [error] * 4}), dry_run=False, why="t")


def test_retry_after_is_honoured() -> None:
    run, _, _, slept = executor()
    run.execute(
        "r", pet_actions(), CountingEffects(fail={"cordon": [Throttled("429", retry_after=3)]}), dry_run=False, why="t"
    )
    assert slept == [3.0]


def test_one_executor_per_pet_and_a_dead_holder_is_taken_over_after_its_lease() -> None:
    run, journal, _, _ = executor(lock_lease=timedelta(minutes=3))
    journal.locks["pet/x"] = ("someone-else", NOW + timedelta(minutes=1))
    with pytest.raises(StepPending, match="another executor"):
        run.execute("r", pet_actions(), CountingEffects(), dry_run=False, why="t", lock="pet/x")

    journal.locks["pet/x"] = ("someone-else", NOW - timedelta(seconds=1))
    run.execute("r", pet_actions(), CountingEffects(), dry_run=False, why="t", lock="pet/x")
    assert journal.locks == {}
