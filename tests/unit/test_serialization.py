"""The generic JSON converter (ferry.domain.serialization): what goes out comes back equal, a bad payload names
each wrong field by its path, and the per-class work is done once. The byte-for-byte formats of the real
models are pinned in test_wire_formats.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.domain import serialization
from ferry.domain.detection.facts import SignalRef
from ferry.domain.detection.transitions import ControlPlaneStatus, Transition, ZoneStatus
from ferry.domain.detection.zones import Authority, Observation, ZoneState
from ferry.domain.errors import InputError
from ferry.domain.rehoming.models import NodeJob, NodeReport, PetJob, PetReport, ReportInput, SkippedItem, StepError
from ferry.domain.rehoming.plans import ClaimMove, Cordon, CreateVolume, Fence, NodePlan
from ferry.domain.serialization import CamelJsonModel, wire
from tests.unit import wire_samples as samples

TEXT = st.text(max_size=12)
TIMES = st.datetimes(timezones=st.just(UTC))
FLOATS = st.none() | st.floats(allow_nan=False, allow_infinity=False)
# A key left out while empty comes back as None, not "": a property over those fields needs no empty text.
REASONS = st.none() | st.text(min_size=1, max_size=12)

ROUND_TRIPS = {
    "NodeJob": st.builds(NodeJob, TEXT, TEXT, TEXT, TEXT, TEXT, st.booleans()),
    "NodeReport": st.builds(NodeReport, reason=REASONS),
    "PetJob": st.builds(PetJob),
    "PetReport": st.builds(PetReport, rpo_seconds=FLOATS, time_to_running_seconds=FLOATS, reason=REASONS),
    "SkippedItem": st.builds(SkippedItem),
    "StepError": st.builds(StepError),
    "ClaimMove": st.builds(ClaimMove, snapshot_started_at=st.none() | TIMES),
    "SignalRef": st.builds(SignalRef, observed_at=TIMES),
    "Authority": st.builds(Authority, ref=st.builds(SignalRef, observed_at=TIMES)),
    "Observation": st.builds(Observation, ref=st.builds(SignalRef, observed_at=TIMES)),
    "Fence": st.builds(Fence, gate=st.none() | TEXT),
    "CreateVolume": st.builds(
        CreateVolume, tags=st.lists(st.tuples(TEXT, TEXT), max_size=3).map(tuple), iops=st.none() | st.integers()
    ),
}


@pytest.mark.parametrize("name", list(ROUND_TRIPS))
def test_what_a_model_writes_it_reads_back_equal(name: str) -> None:
    @settings(max_examples=50, deadline=None)
    @given(ROUND_TRIPS[name])
    def round_trip(model: Any) -> None:
        assert type(model).from_dict(model.to_dict()) == model

    round_trip()


@pytest.mark.parametrize(
    ("read", "payload", "problems"),
    [
        pytest.param(
            NodeJob.from_dict,
            {"runId": "r", "cluster": "c", "node": "n", "instanceId": "i", "zone": "z", "dryRun": "no"},
            ["dryRun: expected bool, got 'no'"],
            id="wrong-type",
        ),
        pytest.param(NodeJob.from_dict, ["runId"], ["NodeJob: expected an object, got list"], id="not-an-object"),
        pytest.param(
            ReportInput.from_dict,
            {
                "runId": "r",
                "runbook": "EvacuateZone",
                "input": {},
                "pets": [samples.PET_REPORT.to_dict(), {**samples.PET_REPORT.to_dict(), "rpoSeconds": "1m"}, 3],
                "plan": {**samples.PLAN_OUTPUT.to_dict(), "nodes": [{"runId": "r"}]},
                "error": {"Cause": "x"},
            },
            [
                "plan.nodes[0].cluster: required",
                "plan.nodes[0].node: required",
                "plan.nodes[0].instanceId: required",
                "plan.nodes[0].zone: required",
                "plan.nodes[0].dryRun: required",
                "pets[1].rpoSeconds: expected int or float, got '1m'",
                "pets[2]: expected an object, got 3",
                "error.Error: required",
            ],
            id="nested-paths",
        ),
        pytest.param(
            ZoneState.from_dict,
            {"zone": "us-east-1a", "status": "fine", "since": "yesterday", "last_bad": {"kind": "instance-down"}},
            [
                "status: expected one of healthy, suspect, impaired, recovering, got 'fine'",
                "since: expected an ISO 8601 time, got 'yesterday'",
                "last_bad.source_id: required",
                "last_bad.source: required",
                "last_bad.observed_at: required",
            ],
            id="stored-state",
        ),
        pytest.param(
            NodePlan.from_dict,
            {
                **samples.SAMPLES["node-plan"].to_dict(),
                "actions": [
                    {"kind": "teleport"},
                    Cordon(cluster="c", node="n").to_dict() | {"stepId": "c/cordon/other"},
                ],
            },
            [
                "actions[0].kind: expected one of fence, cordon, out-of-service, force-delete-pods, "
                "delete-volume-attachments, quarantine, await-pod-released, create-volume, tag-old-volume, create-pv, "
                "retain-pv, release-pv, delete-pvc, bind-pvc, recreate-pvc, ask-eviction, evict, drain-pod, "
                "complete-lifecycle-action, verify-running, lift, got 'teleport'",
                "actions[1].stepId: 'c/cordon/other' does not match the action ('c/cordon/n')",
            ],
            id="actions-by-kind",
        ),
    ],
)
def test_a_bad_payload_names_every_wrong_field_by_its_path(read: Any, payload: Any, problems: list[str]) -> None:
    with pytest.raises(InputError) as raised:
        read(payload)
    assert raised.value.problems == problems


def test_keys_a_model_does_not_know_are_ignored() -> None:
    payload = {**samples.PET_JOB.to_dict(), "maxConcurrency": 10, "requestedBy": "someone"}
    assert PetJob.from_dict(payload) == samples.PET_JOB


def test_an_action_class_reads_only_its_own_kind() -> None:
    assert Fence.from_dict(samples.FENCE.to_dict()) == samples.FENCE
    with pytest.raises(InputError, match="kind: expected one of fence, got 'cordon'"):
        Fence.from_dict(Cordon(cluster="c", node="n").to_dict())


def test_a_transition_status_reads_back_as_its_own_enum() -> None:
    # Transition's from/to is one union of two enums, read by value: that is only sound while no value is shared.
    assert not {s.value for s in ZoneStatus} & {s.value for s in ControlPlaneStatus}
    for sample in (samples.ZONE_TRANSITION, samples.MEMBER_TRANSITION):
        back = Transition.from_dict(sample.to_dict())
        assert type(back.from_status) is type(sample.from_status)
        assert type(back.to_status) is type(sample.to_status)


class Colour(StrEnum):
    RED = "red"


@dataclass(frozen=True, slots=True)
class Sample(CamelJsonModel):
    colour: Colour
    first_seen: datetime
    lasts: timedelta | None
    pairs: tuple[tuple[str, int], ...] = ()
    note: str | None = field(default=None, metadata=wire(key="Note", omit_empty=True))


def test_each_class_is_worked_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[type] = []
    types = serialization._types
    monkeypatch.setattr(serialization, "_types", lambda cls: calls.append(cls) or types(cls))
    monkeypatch.setattr(serialization, "_WRITERS", {})
    monkeypatch.setattr(serialization, "_READERS", {})
    sample = Sample(Colour.RED, datetime(2026, 11, 26, tzinfo=UTC), timedelta(minutes=15), (("a", 1),), "n")

    written = [sample.to_dict() for _ in range(3)]
    read = [Sample.from_dict(written[0]) for _ in range(3)]

    assert written[0] == {
        "colour": "red",
        "firstSeen": "2026-11-26T00:00:00+00:00",
        "lasts": 900,
        "pairs": [["a", 1]],
        "Note": "n",
    }
    assert read == [sample] * 3
    assert calls == [Sample, Sample]  # once to write, once to read


def test_a_type_without_a_json_form_fails_when_its_class_is_first_used() -> None:
    @dataclass(frozen=True)
    class Odd(CamelJsonModel):
        value: complex

    with pytest.raises(TypeError, match="no JSON form"):
        Odd(1j).to_dict()
