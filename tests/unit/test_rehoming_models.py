"""The re-homing step models and inputs: every runbook sample is valid, a bad input or a malformed step payload
names every wrong field, and reports read as a person needs them. (Every step sample in events/stepfunctions/
round-trips byte for byte: test_wire_formats.py.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ferry.domain.errors import InputError
from ferry.domain.rehoming.models import (
    PetJob,
    PetReport,
    PetStatus,
    ReportInput,
    RunOutcome,
    StepError,
)
from ferry.domain.rehoming.planner import plan_evacuation
from ferry.domain.rehoming.policies import RehomePolicy
from ferry.domain.rehoming.reports import outcome, pet_report, run_report
from ferry.domain.runbooks import INPUT_SCHEMAS, Runbook
from ferry.services.inputs import validate_input
from tests.conftest import load_event
from tests.unit.rehoming_builders import NOW, ZONES, request, three_pets

SAMPLES = {Runbook.REHOME_PET: "rehome-pet", Runbook.FENCE_NODE: "fence-node", Runbook.EVACUATE_ZONE: "evacuate-zone"}


@pytest.mark.parametrize("runbook", list(SAMPLES), ids=lambda r: r.value)
def test_runbook_samples_are_valid(runbook: Runbook) -> None:
    validate_input(runbook, load_event(f"stepfunctions/{SAMPLES[runbook]}"))


def test_the_plan_input_sample_is_the_evacuate_input_plus_run_id_and_runbook() -> None:
    sample = load_event("stepfunctions/runbook-plan-input")
    validate_input(sample.pop("runbook"), {k: v for k, v in sample.items() if k != "runId"})


REHOME_PROBLEMS = [
    "ordinal: must be bigger than or equal to 0",
    "targetZone: must match pattern",
    "statefulSet: must be string",
    "colour: not a field of RehomePet",
]


@pytest.mark.parametrize(
    ("runbook", "change", "problems"),
    [
        pytest.param(
            Runbook.REHOME_PET,
            {"ordinal": -1, "targetZone": "mars", "statefulSet": None, "colour": "red"},
            REHOME_PROBLEMS,
            id="rehome-pet-four-problems",
        ),
        pytest.param(
            Runbook.FENCE_NODE,
            {"node": "Node_1", "dryRun": "yes"},
            ["node: must match", "dryRun: must be boolean"],
            id="fence-node",
        ),
        pytest.param(Runbook.EVACUATE_ZONE, {"reason": ""}, ["reason: must be longer than"], id="empty-reason"),
    ],
)
def test_a_bad_input_names_every_wrong_field(runbook: Runbook, change: dict, problems: list[str]) -> None:
    base = load_event(f"stepfunctions/{SAMPLES[runbook]}")
    with pytest.raises(InputError) as raised:
        validate_input(runbook, {**base, **change})
    for problem in problems:
        assert any(p.startswith(problem) for p in raised.value.problems), (problem, raised.value.problems)
    assert len(raised.value.problems) == len(problems)


def test_missing_fields_are_named_too() -> None:
    with pytest.raises(InputError) as raised:
        validate_input(Runbook.REHOME_PET, {"cluster": "east-1"})
    assert raised.value.problems[:4] == [
        "namespace: required",
        "statefulSet: required",
        "ordinal: required",
        "reason: required",
    ]
    assert set(INPUT_SCHEMAS) >= {Runbook.REHOME_PET, Runbook.FENCE_NODE, Runbook.EVACUATE_ZONE}


def test_a_malformed_step_payload_names_each_field() -> None:
    with pytest.raises(InputError) as raised:
        PetJob.from_dict({"runId": "r", "cluster": 3, "ordinal": "0", "policy": "teleport", "dryRun": False})
    assert raised.value.problems == [
        "cluster: expected str, got 3",
        "namespace: required",
        "statefulSet: required",
        "ordinal: expected int, got '0'",
        "pod: required",
        "policy: expected one of snapshot, fresh, stay, got 'teleport'",
    ]


# --- reports --------------------------------------------------------------------------------------------------


def moved_results(plan: Any) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    statuses = {a.step_id: "done" for a in plan.actions}
    statuses[next(a.step_id for a in plan.actions if a.kind.value == "quarantine")] = "gated"
    results: dict[str, dict[str, Any]] = {a.step_id: {} for a in plan.actions}
    results[plan.actions[0].step_id] = {"fenced": True}
    for action in plan.actions:
        if action.kind.value == "create-volume":
            results[action.step_id] = {"volumeId": "vol-new", "createdAt": (NOW).isoformat()}
        if action.kind.value == "verify-running":
            results[action.step_id] = {"zone": "us-east-1b", "runningAt": NOW.replace(minute=2).isoformat()}
    return statuses, results


def test_a_moved_pet_reports_volumes_rpo_and_time_to_running() -> None:
    plan = plan_evacuation(ZONES[0], [three_pets().build()], request()).pets[0]
    report = pet_report(plan, *moved_results(plan), began=NOW.replace(minute=1))

    assert (report.status, report.from_zone, report.to_zone, report.new_volume) == (
        PetStatus.MOVED,
        ZONES[0],
        ZONES[1],
        "vol-new",
    )
    assert report.old_volume == plan.moves[0].old_volume and report.snapshot == plan.moves[0].snapshot_id
    assert report.rpo_seconds == 300 and not report.rpo_breached and report.time_to_running_seconds == 60


def test_an_old_snapshot_is_an_rpo_breach() -> None:
    plan = plan_evacuation(ZONES[0], [three_pets(snapshot_age=timedelta(hours=1)).build()], request()).pets[0]
    report = pet_report(plan, *moved_results(plan), began=NOW)
    assert report.rpo_seconds == 3600 and report.rpo_breached


def test_a_pet_on_an_unfenced_node_is_reported_skipped_with_the_reason() -> None:
    plan = plan_evacuation(ZONES[0], [three_pets().build()], request()).pets[0]
    fence = plan.actions[0].step_id
    statuses = {a.step_id: ("gated" if a.when.value == "fenced" else "done") for a in plan.actions}
    report = pet_report(plan, statuses, {fence: {"fenced": False, "detail": "EC2 still reports running"}}, NOW)

    assert report.status is PetStatus.SKIPPED and "EC2 still reports running" in (report.reason or "")


@pytest.mark.parametrize(
    ("error", "pets", "expected"),
    [
        pytest.param(StepError("InputError", "zone: required"), (), RunOutcome.REJECTED, id="rejected"),
        pytest.param(StepError("States.Timeout", "x"), (), RunOutcome.FAILED, id="failed"),
        pytest.param(None, (PetStatus.MOVED, PetStatus.FREED), RunOutcome.SUCCEEDED, id="succeeded"),
        pytest.param(None, (PetStatus.MOVED, PetStatus.FAILED), RunOutcome.PARTIAL, id="partial"),
        pytest.param(None, (PetStatus.FAILED,), RunOutcome.FAILED, id="every-pet-failed"),
    ],
)
def test_run_outcomes(error: StepError | None, pets: tuple[PetStatus, ...], expected: RunOutcome) -> None:
    reports = tuple(PetReport("east-1", "shop", f"db-{n}", RehomePolicy.SNAPSHOT, s) for n, s in enumerate(pets))
    request_ = ReportInput("run", Runbook.EVACUATE_ZONE, {"zone": ZONES[0], "reason": "x"}, pets=reports, error=error)
    assert outcome(request_, dry_run=False) is expected
    assert run_report(request_).summary.startswith(f"EvacuateZone run (us-east-1a): {expected.value}")


@pytest.mark.parametrize(("value", "valid"), [(10, True), (1, True), (40, True), (0, False), (41, False), ("5", False)])
def test_the_rehome_maps_concurrency_is_part_of_the_input(value: object, valid: bool) -> None:
    for runbook in (Runbook.EVACUATE_ZONE, Runbook.REHOME_PET):
        payload = {**load_event(f"stepfunctions/{SAMPLES[runbook]}"), "maxConcurrency": value}
        if valid:
            validate_input(runbook, payload)
        else:
            with pytest.raises(InputError, match="maxConcurrency"):
                validate_input(runbook, payload)
