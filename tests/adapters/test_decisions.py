"""Supervised runs' pauses in Ferry's table (moto) and task tokens on moto's Step Functions: one decision wins
(the second settle of a waiting pause is a Conflict), the timeout is recorded over a decision that came too late,
a retried await step records its new token, and a token whose wait is over reads as NotFound."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ferry.adapters.decisions import Pauses
from ferry.adapters.stepfunctions import TaskTokens
from ferry.domain.decisions import DecideRequest, Decision, OnTimeout, Pause, PauseStatus, decided, timed_out
from ferry.domain.errors import Conflict, NotFound
from tests.adapters.conftest import FerryTable

NOW = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
PAUSE = Pause(
    run_id="evacuate-us-east-1a-1",
    runbook="EvacuateZone",
    token="token-1",
    summary="EvacuateZone evacuate-us-east-1a-1",
    waiting_since=NOW,
    deadline=NOW + timedelta(minutes=15),
    on_timeout=OnTimeout.ABORT,
)
APPROVE = DecideRequest(run_id=PAUSE.run_id, decision=Decision.APPROVE, by="alice@example.com", reason="ok")


@pytest.fixture
def pauses(moto_table: FerryTable) -> Pauses:
    return Pauses(moto_table.client, moto_table.name)


def test_one_decision_wins_and_the_second_is_a_conflict(pauses: Pauses) -> None:
    pauses.wait(PAUSE)
    pauses.settle(decided(PAUSE, APPROVE, NOW))

    with pytest.raises(Conflict):
        pauses.settle(decided(PAUSE, replace(APPROVE, decision=Decision.REJECT, by="bob"), NOW))
    with pytest.raises(Conflict):
        pauses.wait(replace(PAUSE, token="token-2"))  # a decided run is not waited on again
    stored = pauses.get(PAUSE.run_id)
    assert stored is not None and (stored.status, stored.decided_by) == (PauseStatus.APPROVED, "alice@example.com")


def test_a_retried_await_records_its_new_token_and_the_timeout_is_recorded_whatever_the_pause_says(
    pauses: Pauses,
) -> None:
    pauses.wait(PAUSE)
    pauses.wait(replace(PAUSE, token="token-2"))
    assert (pauses.get(PAUSE.run_id) or PAUSE).token == "token-2"

    pauses.settle(decided(PAUSE, APPROVE, NOW))  # reached the record, not the run: its token timed out first
    pauses.settle(timed_out(PAUSE, NOW), whatever_it_says=True)

    assert (pauses.get(PAUSE.run_id) or PAUSE).status is PauseStatus.TIMED_OUT
    assert pauses.get("no-such-run") is None


def test_a_token_whose_wait_is_over_reads_as_not_found(aws: None) -> None:
    from moto import mock_aws

    # moto answers task tokens only with its interpreter on (otherwise SendTask* do nothing).
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        tokens = TaskTokens(boto3.client("stepfunctions", region_name="us-east-1"))
        with pytest.raises(NotFound, match="no longer waits"):
            tokens.succeed("no-such-token", {"decision": "approve"})
        with pytest.raises(NotFound):
            tokens.fail("no-such-token", "DecisionRejected", "rejected by bob: no")
