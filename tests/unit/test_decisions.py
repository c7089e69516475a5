"""Supervised mode's decision rules: when a run waits (the executor's `must_wait`), when a decision may be sent
(`refusal`: each refused case named), what a decision and a timeout do to the pause, what the decision on an
evacuation means for its retries (`retry_terms`), and the Decider's order (settle, audit, then send; a lost race
or a wait already over sends nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferry.domain.conventions import DECISION_REJECTED
from ferry.domain.decisions import (
    DecideRequest,
    Decision,
    OnTimeout,
    Pause,
    PauseStatus,
    decided,
    how_to_decide,
    refusal,
    retry_terms,
    timed_out,
)
from ferry.domain.errors import Conflict, DecisionTimedOut, InputError, NotFound
from ferry.domain.modes import Mode
from ferry.domain.runbooks import Runbook
from ferry.executor import may_act, must_wait
from ferry.executor.decisions import Decider
from ferry.services.decisions import Decisions
from ferry.services.inputs import validate_input
from ferry.services.settings.decisions import DecisionSettings

NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
PAUSE = Pause(
    run_id="evacuate-us-east-1a-1",
    runbook="EvacuateZone",
    token="token-1",
    summary="EvacuateZone evacuate-us-east-1a-1 (us-east-1a): 4 nodes, 1 pet",
    waiting_since=NOW - timedelta(minutes=5),
    deadline=NOW + timedelta(minutes=10),
    on_timeout=OnTimeout.ABORT,
)
APPROVE = DecideRequest(run_id=PAUSE.run_id, decision=Decision.APPROVE, by="alice@example.com", reason="plan checked")
REJECT = replace(APPROVE, decision=Decision.REJECT, by="bob@example.com", reason="not now")


# --- when a run waits -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "dry_run", "approved", "pausable", "changes", "waits"),
    [
        pytest.param(Mode.SUPERVISED, False, False, True, True, True, id="supervised-automatic-run-waits"),
        pytest.param(Mode.SUPERVISED, False, True, True, True, False, id="approved-at-start-does-not-wait"),
        pytest.param(Mode.SUPERVISED, True, False, True, True, False, id="a-dry-run-changes-nothing-so-no-wait"),
        pytest.param(Mode.SUPERVISED, False, False, False, True, False, id="a-runbook-without-the-pause"),
        pytest.param(Mode.SUPERVISED, False, False, True, False, False, id="nothing-to-change-nothing-to-decide"),
        pytest.param(Mode.ACT, False, False, True, True, False, id="act-mode-goes-on"),
        pytest.param(Mode.OBSERVE, False, False, True, True, False, id="observe-mode-changes-nothing"),
    ],
)
def test_a_run_waits_only_in_supervised_mode_before_a_change_nobody_approved(
    mode: Mode, dry_run: bool, approved: bool, pausable: bool, changes: bool, waits: bool
) -> None:
    assert must_wait(mode, dry_run=dry_run, approved=approved, pausable=pausable, changes=changes) is waits


@pytest.mark.parametrize(("mode", "acts"), [(Mode.OBSERVE, False), (Mode.SUPERVISED, True), (Mode.ACT, True)])
def test_supervised_mode_may_act_once_its_state_machine_let_the_run_go_on(mode: Mode, acts: bool) -> None:
    assert may_act(mode) is acts and may_act(mode, dry_run=True) is False


# --- when a decision may be sent -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pause", "now", "problem"),
    [
        pytest.param(PAUSE, NOW, None, id="waiting-before-its-deadline"),
        pytest.param(None, NOW, "is waiting for a decision", id="no-such-run"),
        pytest.param(decided(PAUSE, APPROVE, NOW), NOW, "already approved by alice@example.com", id="twice"),
        pytest.param(decided(PAUSE, REJECT, NOW), NOW, "already rejected by bob@example.com", id="after-a-reject"),
        pytest.param(timed_out(PAUSE, NOW), NOW, "stopped waiting at its deadline", id="after-the-timeout"),
        pytest.param(PAUSE, PAUSE.deadline, "wait ended at", id="at-the-deadline-before-the-timeout-is-recorded"),
    ],
)
def test_a_decision_is_refused_unless_the_run_waits_naming_the_problem(
    pause: Pause | None, now: datetime, problem: str | None
) -> None:
    found = refusal(pause, APPROVE, now)

    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith("runId: ") and problem in found
        assert APPROVE.run_id in found


def test_a_decision_and_a_timeout_record_who_and_when() -> None:
    approved, rejected, late = decided(PAUSE, APPROVE, NOW), decided(PAUSE, REJECT, NOW), timed_out(PAUSE, NOW)

    assert (approved.status, approved.decided_by, approved.reason) == (
        PauseStatus.APPROVED,
        "alice@example.com",
        "plan checked",
    )
    assert (rejected.status, rejected.decided_by) == (PauseStatus.REJECTED, "bob@example.com")
    assert (late.status, late.decided_at) == (PauseStatus.TIMED_OUT, NOW)
    assert Pause.from_dict(approved.to_dict()) == approved


# --- what the decision on an evacuation means for its retries -------------------------------------------------


PROCEEDS = replace(PAUSE, on_timeout=OnTimeout.PROCEED)


@pytest.mark.parametrize(
    ("pause", "starts", "carried"),
    [
        pytest.param(decided(PAUSE, APPROVE, NOW), True, "alice@example.com", id="approved-carries-the-approval"),
        pytest.param(decided(PAUSE, REJECT, NOW), False, None, id="rejected-is-not-retried"),
        pytest.param(timed_out(PAUSE, NOW), False, None, id="timed-out-abort-is-not-retried"),
        pytest.param(None, True, None, id="never-waited-retries-as-any-automatic-run"),
        pytest.param(timed_out(PROCEEDS, NOW), True, None, id="timed-out-proceed-nobody-approved-asks-again"),
        pytest.param(PAUSE, False, None, id="still-waiting-no-second-question"),
    ],
)
def test_a_retry_follows_the_decision_on_the_run_it_retries(
    pause: Pause | None, starts: bool, carried: str | None
) -> None:
    terms = retry_terms(pause)

    assert terms.start is starts and terms.approved_by == carried
    assert terms.input == ({"approved": True, "approvedBy": carried} if carried else {})
    if pause is not None:
        assert pause.run_id in terms.why  # the log and the retry's reason say which decision holds
    if carried:
        retry = {"zone": "us-east-1a", "reason": "retry", "requestedBy": "ferry-probe", **terms.input}
        validate_input(Runbook.EVACUATE_ZONE, retry)  # what the state machine accepts
        approved = bool(retry.get("approved"))
        assert not must_wait(Mode.SUPERVISED, dry_run=False, approved=approved, pausable=True, changes=True)


def test_the_notification_says_how_to_decide_from_the_console_and_the_cli() -> None:
    text = how_to_decide("run-1", "arn:aws:states:us-east-1:123456789012:stateMachine:ferry-Decide")

    assert "ferry-Decide" in text and '"runId": "run-1"' in text
    assert "aws stepfunctions start-execution --state-machine-arn arn:aws:states:" in text


# --- the Decider: settle, audit, then send --------------------------------------------------------------------


@dataclass
class FakePauses:
    pause: Pause | None = None
    lose_race: bool = False

    def wait(self, pause: Pause) -> None:
        self.pause = pause

    def settle(self, pause: Pause, *, whatever_it_says: bool = False) -> None:
        if self.lose_race and not whatever_it_says:
            raise Conflict("ConditionalCheckFailedException")
        self.pause = pause

    def get(self, run_id: str) -> Pause | None:
        return self.pause


@dataclass
class FakeTokens:
    gone: bool = False
    sent: list[tuple[str, ...]] = field(default_factory=list)

    def succeed(self, token: str, output: dict[str, Any]) -> None:
        if self.gone:
            raise NotFound("TaskTimedOut")
        self.sent.append(("success", token, output["decision"]))

    def fail(self, token: str, error: str, cause: str) -> None:
        if self.gone:
            raise NotFound("TaskTimedOut")
        self.sent.append(("failure", token, error, cause))


@dataclass
class FakeLog:
    records: list[dict[str, Any]] = field(default_factory=list)
    told: list[str] = field(default_factory=list)

    def record(self, action_id: str, at: datetime, record: dict[str, Any]) -> None:
        self.records.append(record)

    def notify(self, subject: str, message: str, attributes: dict[str, str] | None = None) -> None:
        self.told.append(f"{subject}\n{message}")


def decider(pauses: FakePauses, tokens: FakeTokens, log: FakeLog) -> Decider:
    return Decider(pauses=pauses, tokens=tokens, audit=log, notifier=log)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("request_", "sent"),
    [
        pytest.param(APPROVE, ("success", "token-1", "approve"), id="approve-sends-success"),
        pytest.param(
            REJECT, ("failure", "token-1", DECISION_REJECTED, "rejected by bob@example.com: not now"), id="reject"
        ),
    ],
)
def test_a_decision_is_audited_with_who_and_why_then_sent(request_: DecideRequest, sent: tuple[str, ...]) -> None:
    pauses, tokens, log = FakePauses(PAUSE), FakeTokens(), FakeLog()

    decider(pauses, tokens, log).decide(PAUSE, request_, NOW)

    assert tokens.sent == [sent]
    assert (log.records[-1]["who"], log.records[-1]["why"]) == (request_.by, request_.reason)
    assert pauses.pause is not None and pauses.pause.decided_by == request_.by


def test_a_decision_that_loses_the_race_sends_nothing() -> None:
    pauses, tokens, log = FakePauses(PAUSE, lose_race=True), FakeTokens(), FakeLog()

    with pytest.raises(Conflict):
        decider(pauses, tokens, log).decide(PAUSE, APPROVE, NOW)

    assert tokens.sent == [] and log.records == []


def test_the_pause_is_recorded_and_told_with_its_summary_and_how_to_decide() -> None:
    pauses, log = FakePauses(), FakeLog()

    decider(pauses, FakeTokens(), log).pause(PAUSE, how_to_decide="start ferry-Decide")

    assert pauses.pause == PAUSE
    (told,) = log.told
    assert PAUSE.summary in told and "start ferry-Decide" in told and "then: abort" in told


@pytest.mark.parametrize(
    ("on_timeout", "goes_on"), [(OnTimeout.ABORT, False), (OnTimeout.PROCEED, True)], ids=["abort", "proceed"]
)
def test_a_timeout_is_recorded_audited_and_told_either_way(on_timeout: OnTimeout, goes_on: bool) -> None:
    pause = replace(PAUSE, on_timeout=on_timeout)
    # A decision that reached the record but not the run (its token timed out first) is overwritten.
    pauses, log = FakePauses(decided(pause, APPROVE, NOW), lose_race=True), FakeLog()
    keeper = decider(pauses, FakeTokens(), log)

    if goes_on:
        assert keeper.time_out(pause, NOW)["decision"] == "proceed"
    else:
        with pytest.raises(DecisionTimedOut):
            keeper.time_out(pause, NOW)

    assert pauses.pause is not None and pauses.pause.status is PauseStatus.TIMED_OUT
    assert log.records[-1]["decision"] == on_timeout.value
    (told,) = log.told
    assert "not decided in time" in told


# --- ferry-Decide's step: the input and the run checked before anything is sent ------------------------------


def decisions(pauses: FakePauses, tokens: FakeTokens) -> Decisions:
    settings = DecisionSettings(
        table_name="t", topic_arn="arn", timeout=timedelta(minutes=15), on_timeout=OnTimeout.ABORT, decide_arn="arn"
    )
    return Decisions(settings, pauses=pauses, decider=decider(pauses, tokens, FakeLog()), clock=lambda: NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "pause", "gone", "problem"),
    [
        pytest.param({"decision": "approve", "by": "a", "reason": "r"}, PAUSE, False, "runId", id="no-run-id"),
        pytest.param({**APPROVE.to_dict(), "decision": "maybe"}, PAUSE, False, "decision", id="unknown-decision"),
        pytest.param({**APPROVE.to_dict(), "by": ""}, PAUSE, False, "by", id="nobody-decided"),
        pytest.param(APPROVE.to_dict(), None, False, "is waiting for a decision", id="not-waiting"),
        pytest.param(APPROVE.to_dict(), PAUSE, True, "stopped waiting before the decision", id="wait-over-meanwhile"),
    ],
)
def test_a_bad_decide_is_rejected_naming_the_problem_and_sends_nothing(
    event: dict[str, Any], pause: Pause | None, gone: bool, problem: str
) -> None:
    tokens = FakeTokens(gone=gone)

    with pytest.raises(InputError) as raised:
        decisions(FakePauses(pause), tokens).decide(event)

    assert problem in str(raised.value)
    assert tokens.sent == []
