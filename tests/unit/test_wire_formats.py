"""Every model's JSON, byte for byte: what the state machines pass between Tasks, what DynamoDB keeps, what the
journal and the outbox hold. A changed key, key order, null-versus-absent or int-versus-float shows up here
as a diff against a pinned file (tests/unit/wire/, events/stepfunctions/) or against docs/REHOMING.md."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ferry.domain.rehoming.models import NodeJob, NodeReport, PetJob, PetReport, PlanOutput, ReportInput, RunReport
from tests.conftest import EVENTS, ROOT
from tests.unit import wire_samples as samples
from tests.unit.wire_samples import SAMPLES, WIRE, wire_text


def reader(model: Any) -> Callable[[Any], Any] | None:
    """How the model is read back; None for the three written only (Plan, Skipped, Taint)."""
    return getattr(type(model), "from_dict", None)


READABLE = [name for name, model in SAMPLES.items() if reader(model) is not None]


def test_every_sample_has_its_pinned_file_and_every_file_its_sample() -> None:
    assert sorted(p.stem for p in WIRE.glob("*.json")) == sorted(SAMPLES)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_model_writes_its_pinned_json(name: str) -> None:
    assert wire_text(SAMPLES[name]) == (WIRE / f"{name}.json").read_text()


@pytest.mark.parametrize("name", READABLE)
def test_every_model_reads_its_pinned_json_back(name: str) -> None:
    text = (WIRE / f"{name}.json").read_text()
    parsed = reader(SAMPLES[name])(json.loads(text))  # type: ignore[misc]

    assert parsed == SAMPLES[name]
    assert wire_text(parsed) == text


STEP_SAMPLES: list[tuple[str, Callable[[Any], Any]]] = [
    ("runbook-plan-output", PlanOutput.from_dict),
    ("runbook-fence-input", NodeJob.from_dict),
    ("runbook-fence-output", NodeReport.from_dict),
    ("runbook-rehome-input", PetJob.from_dict),
    ("runbook-rehome-output", PetReport.from_dict),
    ("runbook-report-input", ReportInput.from_dict),
    ("runbook-report-output", RunReport.from_dict),
]


@pytest.mark.parametrize(("name", "parse"), [pytest.param(n, p, id=n) for n, p in STEP_SAMPLES])
def test_every_step_sample_round_trips_byte_for_byte(name: str, parse: Callable[[Any], Any]) -> None:
    text = (EVENTS / "stepfunctions" / f"{name}.json").read_text()
    assert wire_text(parse(json.loads(text))) == text


def documented_shapes(doc: Path) -> dict[str, list[str]]:
    """docs/REHOMING.md's shapes, `Name`: `{key, key?: ..., ...}`, as each model's top-level keys in order."""
    text = doc.read_text()
    shapes = dict(re.findall(r"^- `(\w+)`: `(\{.*\})`$", text, re.MULTILINE))
    shapes["ReportInput"] = re.search(r"\| `(\{runId, runbook, input, .*?\})` \| `RunReport` \|", text).group(1)  # type: ignore[union-attr]
    return {name: top_level_keys(shape) for name, shape in shapes.items()}


def top_level_keys(shape: str) -> list[str]:
    keys, depth, token = [], 0, ""
    for char in shape[1:-1] + ",":
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        if char == "," and depth == 0:
            keys.append(token.split(":", maxsplit=1)[0].strip())
            token = ""
        else:
            token += char
    return keys


FULL = {
    "NodeJob": samples.NODE_JOB,
    "NodeReport": samples.NODE_REPORT_DRAINED,
    "PetJob": samples.PET_JOB,
    "PetReport": samples.PET_REPORT_FAILED,
    "PlanOutput": samples.PLAN_OUTPUT,
    "ReportInput": samples.REPORT_INPUT,
    "RunReport": samples.RUN_REPORT,
}
BARE = {
    "NodeReport": samples.NODE_REPORT,
    "PetReport": samples.PET_REPORT,
    "PlanOutput": samples.PLAN_OUTPUT_NO_ZONE,
    "ReportInput": samples.REPORT_INPUT_BARE,
    "RunReport": samples.RUN_REPORT_BARE,
}
SHAPES = documented_shapes(ROOT / "docs" / "REHOMING.md")


def test_every_documented_shape_is_checked() -> None:
    assert sorted(SHAPES) == sorted(FULL)


@pytest.mark.parametrize("name", list(FULL))
def test_a_full_step_model_writes_the_documented_keys_in_the_documented_order(name: str) -> None:
    assert list(FULL[name].to_dict()) == [key.rstrip("?") for key in SHAPES[name]]


@pytest.mark.parametrize("name", list(BARE))
def test_a_step_model_leaves_out_only_the_keys_documented_as_optional(name: str) -> None:
    written = list(BARE[name].to_dict())
    documented = [key.rstrip("?") for key in SHAPES[name]]
    required = [key for key in SHAPES[name] if not key.endswith("?")]

    assert [key for key in documented if key in written] == written
    assert set(required) <= set(written)
