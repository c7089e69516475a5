"""The shift executor: the one place a shift of federated replicas changes anything.

Observe mode and dry runs lock, record and scale nothing; in act mode an app's lock keeps a second shift out
until the first lets go or its lease ends; the count before the shift is recorded once (the first shift's),
in the journal and on the Deployment, before the first scale call; API errors are retried in the step, then
raised for the service to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferry.domain.errors import Throttled, Unavailable
from ferry.domain.federation.shifting import BEFORE_SHIFT_ANNOTATION, AppShift, Scale, Scaled, ScaleStatus
from ferry.domain.modes import Mode
from ferry.executor.plans import RetryPolicy
from ferry.executor.shifts import ShiftExecutor

AT = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
SHIFT = AppShift("shop/web", "shop", "web", ups=(Scale("east-1", 3, 6),), downs=(Scale("east-2", 3, 0),))


@dataclass
class FakeJournal:
    locks: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    origins: dict[str, Mapping[str, int]] = field(default_factory=dict)

    def acquire(self, name: str, owner: str, now: datetime, lease: timedelta) -> bool:
        held = self.locks.get(name)
        if held is not None and held[0] != owner and held[1] >= now:
            return False
        self.locks[name] = (owner, now + lease)
        return True

    def release(self, name: str, owner: str) -> None:
        if self.locks.get(name, ("", AT))[0] == owner:
            del self.locks[name]

    def record_origin(self, app: str, counts: Mapping[str, int], run_id: str, at: datetime) -> Mapping[str, int]:
        return self.origins.setdefault(app, dict(counts))


@dataclass
class FakeAudit:
    records: list[str] = field(default_factory=list)

    def record(self, action_id: str, at: datetime, record: dict[str, Any]) -> None:
        self.records.append(action_id)


@dataclass
class FakeKube:
    """One member's Deployment; `failures` are raised by the next scale calls, in order."""

    replicas: int = 3
    annotations: dict[str, str] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def deployment_object(self, namespace: str, name: str) -> dict[str, Any]:
        self.calls.append("get")
        return {"metadata": {"annotations": dict(self.annotations)}, "spec": {"replicas": self.replicas}}

    def annotate_deployment(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self.calls.append("annotate")
        self.annotations |= annotations

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.calls.append("scale")
        if self.failures:
            raise self.failures.pop(0)
        self.replicas = replicas


class Clock:
    def __init__(self) -> None:
        self.now = AT

    def __call__(self) -> datetime:
        return self.now


def executor(mode: Mode = Mode.ACT, clock: Clock | None = None) -> tuple[ShiftExecutor, FakeJournal, FakeAudit]:
    journal, audit = FakeJournal(), FakeAudit()
    return (
        ShiftExecutor(
            mode,
            journal=journal,  # type: ignore[arg-type]
            audit=audit,  # type: ignore[arg-type]
            clock=clock or Clock(),
            lease=timedelta(minutes=30),
            retry=RetryPolicy(attempts=3),
            sleep=lambda seconds: None,
        ),
        journal,
        audit,
    )


@pytest.mark.parametrize(
    ("mode", "dry_run"),
    [pytest.param(Mode.OBSERVE, False, id="observe-mode"), pytest.param(Mode.ACT, True, id="dry-run")],
)
def test_nothing_is_locked_recorded_or_scaled_unless_acting(mode: Mode, dry_run: bool) -> None:
    shifts, journal, audit = executor(mode)
    kube = FakeKube()

    assert shifts.acts(dry_run) is False
    assert shifts.claim("run-1", SHIFT, dry_run=dry_run) is True
    scaled = shifts.scale(kube, "run-1", SHIFT, SHIFT.ups[0], dry_run=dry_run, why="make")  # type: ignore[arg-type]
    shifts.release("run-1", SHIFT.app, dry_run=dry_run)

    assert scaled == Scaled("east-1", 3, 6, ScaleStatus.PLANNED)
    assert (journal.locks, journal.origins, audit.records, kube.calls) == ({}, {}, [], [])


def test_a_second_shift_of_the_app_is_kept_out_until_the_first_lets_go_or_its_lease_ends() -> None:
    clock = Clock()
    shifts, journal, _ = executor(clock=clock)

    assert shifts.claim("run-1", SHIFT, dry_run=False) is True
    assert shifts.claim("run-1", SHIFT, dry_run=False) is True  # its own: renewed
    assert shifts.claim("run-2", SHIFT, dry_run=False) is False
    shifts.release("run-2", SHIFT.app, dry_run=False)  # not its lock: nothing let go
    assert shifts.claim("run-2", SHIFT, dry_run=False) is False
    clock.now += timedelta(minutes=31)  # run-1 died: its lease ends
    assert shifts.claim("run-2", SHIFT, dry_run=False) is True
    shifts.release("run-2", SHIFT.app, dry_run=False)
    assert journal.locks == {}


def test_the_counts_before_the_first_shift_are_kept() -> None:
    shifts, journal, _ = executor()
    again = AppShift("shop/web", "shop", "web", ups=(Scale("east-1", 6, 8),))

    shifts.claim("run-1", SHIFT, dry_run=False)
    shifts.release("run-1", SHIFT.app, dry_run=False)
    shifts.claim("run-2", again, dry_run=False)

    assert journal.origins == {"shop/web": {"east-1": 3, "east-2": 3}}


def test_a_scale_call_records_the_count_before_once_then_scales_retrying_api_errors() -> None:
    shifts, _, audit = executor()
    kube = FakeKube(failures=[Throttled("429"), Unavailable("503")])

    scaled = shifts.scale(kube, "run-1", SHIFT, SHIFT.ups[0], dry_run=False, why="make")  # type: ignore[arg-type]
    shifts.scale(kube, "run-2", SHIFT, Scale("east-1", 6, 8), dry_run=False, why="make")  # type: ignore[arg-type]

    assert scaled == Scaled("east-1", 3, 6, ScaleStatus.DONE)
    assert kube.replicas == 8 and kube.annotations == {BEFORE_SHIFT_ANNOTATION: "3"}
    assert kube.calls[:3] == ["get", "annotate", "scale"]  # recorded before the first scale call
    assert audit.records == ["run-1/scale/east-1/shop/web/6", "run-2/scale/east-1/shop/web/8"]


def test_an_api_that_keeps_failing_leaves_the_error_to_the_caller() -> None:
    shifts, _, audit = executor()
    kube = FakeKube(failures=[Unavailable("refused")] * 3)

    with pytest.raises(Unavailable):
        shifts.scale(kube, "run-1", SHIFT, SHIFT.downs[0], dry_run=False, why="break")  # type: ignore[arg-type]
    assert kube.replicas == 3 and audit.records == []
