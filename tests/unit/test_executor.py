"""The executor: the one place that acts. Observe mode starts nothing; every reaction is audited and told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from ferry.adapters.stepfunctions import Started
from ferry.domain.detection.facts import SignalRef
from ferry.domain.detection.transitions import (
    ControlPlaneStatus,
    Handoff,
    SubjectKind,
    Transition,
    TransitionReason,
    ZoneStatus,
)
from ferry.domain.modes import Mode
from ferry.domain.reactions import react
from ferry.domain.signals import SignalKind, Source
from ferry.executor.reactions import Executor, Outcome

AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@dataclass
class FakeStarter:
    running: set[str] = field(default_factory=set)
    calls: list[tuple[Handoff, str, dict[str, Any]]] = field(default_factory=list)

    def start(self, runbook: Handoff, name: str, payload: dict[str, Any]) -> Started:
        self.calls.append((runbook, name, payload))
        already = name in self.running
        self.running.add(name)
        return Started(
            execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{runbook}:{name}", already_started=already
        )

    def deployed(self, runbook: Handoff) -> bool:
        return runbook is not Handoff.REPLACE_CONTROL_PLANE_MEMBER


@dataclass
class FakeAudit:
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, action_id: str, at: datetime, record: dict[str, Any]) -> None:
        self.records.append((action_id, record))


@dataclass
class FakeNotifier:
    sent: list[tuple[str, str]] = field(default_factory=list)

    def notify(self, subject: str, message: str, attributes: dict[str, str] | None = None) -> None:
        self.sent.append((subject, message))


def impaired(zone: str = "us-east-1a") -> Transition:
    return Transition(
        subject_kind=SubjectKind.ZONE,
        subject=zone,
        from_status=ZoneStatus.SUSPECT,
        to_status=ZoneStatus.IMPAIRED,
        at=AT,
        reason=TransitionReason.QUORUM,
        signals=(
            SignalRef("probe-1/east-1", SignalKind.NODES_NOT_READY, Source.PROBE, AT),
            SignalRef("probe-1/east-1/i-0a", SignalKind.INSTANCE_DOWN, Source.EC2, AT),
        ),
        handoff=Handoff.EVACUATE_ZONE,
        execution_name=f"evacuate-{zone}-{int(AT.timestamp())}",
    )


def executor(mode: Mode) -> tuple[Executor, FakeStarter, FakeAudit, FakeNotifier]:
    starter, audit, notifier = FakeStarter(), FakeAudit(), FakeNotifier()
    return Executor(mode, starter=starter, audit=audit, notifier=notifier, clock=lambda: AT), starter, audit, notifier  # type: ignore[arg-type]


def test_observe_mode_starts_nothing_but_says_what_it_would_do() -> None:
    run, starter, audit, notifier = executor(Mode.OBSERVE)

    done = run.carry_out(react(impaired()))

    assert done.outcome is Outcome.OBSERVED
    assert starter.calls == []
    ((_, record),) = audit.records
    assert (record["mode"], record["runbook"], record["outcome"]) == (
        "observe",
        "EvacuateZone",
        "observe-mode-not-started",
    )
    ((subject, message),) = notifier.sent
    assert "us-east-1a impaired" in subject
    assert "would have started EvacuateZone as evacuate-us-east-1a-" in message


def test_act_mode_starts_the_evacuation_with_the_signals_that_made_the_quorum() -> None:
    run, starter, audit, _ = executor(Mode.ACT)

    done = run.carry_out(react(impaired()))

    assert done.outcome is Outcome.STARTED
    ((runbook, name, payload),) = starter.calls
    assert (runbook, name) == (Handoff.EVACUATE_ZONE, "evacuate-us-east-1a-1795687200")
    assert payload == {
        "zone": "us-east-1a",
        "reason": "quorum: instance-down@aws.ec2, nodes-not-ready@ferry.probe",
        "dryRun": False,
        "requestedBy": "ferry-detector",
    }
    assert [s["kind"] for s in audit.records[0][1]["transition"]["signals"]] == ["nodes-not-ready", "instance-down"]


@pytest.mark.parametrize(("mode", "waits"), [(Mode.SUPERVISED, True), (Mode.ACT, False)], ids=["supervised", "act"])
def test_supervised_mode_starts_the_evacuation_and_says_it_waits_for_a_decision(mode: Mode, waits: bool) -> None:
    run, starter, _, notifier = executor(mode)

    done = run.carry_out(react(impaired()))

    assert done.outcome is Outcome.STARTED and len(starter.calls) == 1
    ((_, message),) = notifier.sent
    assert ("waits for a person's ferry-Decide" in message) is waits


def test_a_second_start_of_the_same_failure_is_success_and_starts_nothing_new() -> None:
    run, starter, audit, _ = executor(Mode.ACT)

    first = run.carry_out(react(impaired()))
    second = run.carry_out(react(impaired()))

    assert (first.outcome, second.outcome) == (Outcome.STARTED, Outcome.ALREADY_RUNNING)
    assert len(starter.running) == 1
    assert [r["outcome"] for _, r in audit.records] == ["started", "already-running"]


@pytest.mark.parametrize("mode", [Mode.OBSERVE, Mode.ACT], ids=["observe", "act"])
def test_static_stability_raises_the_alarm_and_starts_nothing(mode: Mode, capsys) -> None:
    held = Transition(
        subject_kind=SubjectKind.ZONE,
        subject="us-east-1b",
        from_status=ZoneStatus.HEALTHY,
        to_status=ZoneStatus.SUSPECT,
        at=AT,
        reason=TransitionReason.STATIC_STABILITY,
    )
    run, starter, audit, notifier = executor(mode)

    done = run.carry_out(react(held))

    assert done.outcome is Outcome.NOTHING_TO_START
    assert starter.calls == []
    assert audit.records[0][1]["alarm_raised"] is True
    assert "static-stability alarm raised" in notifier.sent[0][1]
    assert '"StaticStabilityHold"' in capsys.readouterr().out


def test_a_runbook_with_no_state_machine_is_reported_not_raised() -> None:
    member_down = Transition(
        subject_kind=SubjectKind.CONTROL_PLANE,
        subject="east-1",
        from_status=ControlPlaneStatus.UP,
        to_status=ControlPlaneStatus.DEGRADED,
        at=AT,
        reason=TransitionReason.MEMBER_UNHEALTHY,
        handoff=Handoff.REPLACE_CONTROL_PLANE_MEMBER,
        execution_name="replace-east-1-i-0cp1-1795687200",
        member="i-0cp1",
    )
    run, starter, audit, notifier = executor(Mode.ACT)

    done = run.carry_out(react(member_down))

    assert done.outcome is Outcome.NOT_DEPLOYED
    assert starter.calls == []
    assert audit.records[0][1]["outcome"] == "runbook-not-deployed"
    assert "no state machine for ReplaceControlPlaneMember" in notifier.sent[0][1]
