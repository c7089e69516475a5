"""Drills are told (issue 13: "recorded, notified, never an evacuation unless drills=act"): an ARC practice run or
a FIS experiment, translated as AWS sends it, becomes one notice per event saying what the drill is, its zone,
and whether Ferry will act; the executor sends it once, observe or act mode alike."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from ferry.domain.errors import Unavailable
from ferry.domain.modes import Mode
from ferry.domain.reactions import drill_notice
from ferry.domain.signals import Signal
from ferry.domain.translators import Drills, translate
from ferry.executor.reactions import Executor, Outcome
from tests.conftest import load_event
from tests.unit.test_executor import AT, FakeNotifier, FakeStarter


def drill(sample: str, *, drills: Drills = Drills.RECORD, detail_type: str | None = None, **evidence: str) -> Signal:
    """The sample's signal, its zone id named as ingest names it (use1-az4 -> us-east-1d)."""
    event: dict[str, Any] = load_event(sample)
    if detail_type:
        event = {**event, "detail-type": detail_type}
    (signal,) = translate(event, drills=drills)  # type: ignore[misc]
    return dataclasses.replace(signal, zone="us-east-1d", evidence={**signal.evidence, **evidence})


@pytest.mark.parametrize(
    ("signal", "subject", "says"),
    [
        pytest.param(
            drill("arc-practice-run-started"),
            "Ferry: drill started in us-east-1d (ARC practice run)",
            "Ferry will not act: drills are recorded only",
            id="practice-run-recorded",
        ),
        pytest.param(
            drill("arc-fis-experiment-started"),
            "Ferry: drill started in us-east-1d (FIS experiment)",
            "Ferry will not act: drills are recorded only",
            id="fis-experiment-recorded",
        ),
        pytest.param(
            drill("arc-practice-run-started", detail_type="Practice Run Succeeded"),
            "Ferry: drill ended in us-east-1d (ARC practice run)",
            "Ferry will not act",
            id="practice-run-ended",
        ),
        pytest.param(
            drill("arc-fis-experiment-started", drills=Drills.ACT),
            "Ferry: drill started in us-east-1d (FIS experiment)",
            "Ferry will act (FERRY_DRILLS=act): it handles the drill as a real zonal shift, so the zone's verdict "
            "becomes IMPAIRED",
            id="fis-experiment-with-drills-act",
        ),
        pytest.param(
            drill("arc-practice-run-started", drills=Drills.ACT, stale="older than the 0:05:00 window"),
            "Ferry: drill started in us-east-1d (ARC practice run)",
            "Ferry will not act: older than the 0:05:00 window, it decides nothing",
            id="stale-drill-with-drills-act",
        ),
    ],
)
def test_a_drill_is_told_what_it_is_where_and_whether_ferry_acts(signal: Signal, subject: str, says: str) -> None:
    notice = drill_notice(signal)

    assert notice is not None
    assert notice.subject == subject
    assert "zone us-east-1d (use1-az4)" in notice.message and "This is a drill, not a failure." in notice.message
    assert f"action: {says}" in notice.message
    assert signal.source_id in notice.message and notice.at == signal.observed_at


@pytest.mark.parametrize(
    "sample", ["arc-zonal-shift-started", "arc-autoshift-started", "health-ec2-issue-described-zone"]
)
def test_what_is_not_a_drill_is_not_a_drill_notice(sample: str) -> None:
    translation: Any = translate(load_event(sample))
    assert all(drill_notice(signal) is None for signal in translation)


def test_a_drill_started_and_ended_are_two_notices_a_redelivery_is_the_same() -> None:
    started = drill("arc-practice-run-started")
    ended = drill("arc-practice-run-started", detail_type="Practice Run Failed")
    ids = {drill_notice(s).action_id for s in (started, started, ended)}  # type: ignore[union-attr]
    assert len(ids) == 2


@dataclass
class KeyedAudit:
    """An audit log keyed as the table keys it (action and time), with its conditional write."""

    records: dict[tuple[str, datetime], dict[str, Any]] = field(default_factory=dict)

    def record_once(self, action_id: str, at: datetime, record: dict[str, Any]) -> bool:
        if (action_id, at) in self.records:
            return False
        self.records[(action_id, at)] = record
        return True

    def withdraw(self, action_id: str, at: datetime) -> None:
        self.records.pop((action_id, at), None)


class FailingOnce(FakeNotifier):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def notify(self, subject: str, message: str, attributes: dict[str, str] | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise Unavailable("SNS: 503")
        super().notify(subject, message, attributes)


def telling(mode: Mode, notifier: FakeNotifier) -> tuple[Executor, FakeStarter, KeyedAudit]:
    starter, audit = FakeStarter(), KeyedAudit()
    run = Executor(mode, starter=starter, audit=audit, notifier=notifier, clock=lambda: AT)  # type: ignore[arg-type]
    return run, starter, audit


@pytest.mark.parametrize("mode", [Mode.OBSERVE, Mode.ACT], ids=["observe", "act"])
def test_a_drill_is_told_once_in_either_mode_and_starts_nothing(mode: Mode) -> None:
    notifier = FakeNotifier()
    run, starter, audit = telling(mode, notifier)
    notice = drill_notice(drill("arc-practice-run-started"))
    assert notice is not None

    first, again = run.tell(notice), run.tell(notice)

    assert (first.outcome, again.outcome) == (Outcome.TOLD, Outcome.ALREADY_TOLD)
    assert notifier.sent == [(notice.subject, notice.message)]
    assert starter.calls == []
    ((record),) = audit.records.values()
    assert (record["outcome"], record["mode"]) == ("told", mode.value)


def test_a_notice_that_could_not_be_sent_is_sent_on_the_retry() -> None:
    notifier = FailingOnce()
    run, _, audit = telling(Mode.OBSERVE, notifier)
    notice = drill_notice(drill("arc-fis-experiment-started"))
    assert notice is not None

    with pytest.raises(Unavailable):
        run.tell(notice)
    assert audit.records == {}, "a notice not sent is not recorded as told"
    assert run.tell(notice).outcome is Outcome.TOLD
    assert [subject for subject, _ in notifier.sent] == [notice.subject]
