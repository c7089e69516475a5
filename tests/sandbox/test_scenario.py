"""The scenario loader: every shipped scenario loads, and a broken file is refused with file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ferry.domain.modes import Mode
from sandbox import scenario
from sandbox.scenario import (
    ControlPlaneOutage,
    InstanceStop,
    PetsRehomed,
    PetsUnmoved,
    RunbookRuns,
    ScenarioError,
    SignalSources,
    UnknownScenario,
    ZoneOutage,
    load,
    parse_duration,
)

VALID = {
    "name": "drill",
    "clusters": [{"name": "east-1"}, {"name": "east-2", "workers_per_zone": 1, "control_planes_per_zone": 0}],
    "statefulsets": [{"cluster": "east-1", "namespace": "shop", "name": "db"}],
    "federated": [{"name": "web", "namespace": "shop", "total_replicas": 5, "weights": {"east-1": 2, "east-2": 1}}],
    "steps": [{"at": "60s", "action": "zone-outage", "zone": "us-east-1a"}],
    "expect": [{"check": "zone-observed", "zone": "us-east-1a", "min_sources": 2}],
}


def write(tmp_path: Path, document: object, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load(path)
    return caught.value.problems


def with_changes(**changes: object) -> dict[str, object]:
    return {**VALID, **changes}


@pytest.mark.parametrize("name", scenario.available())
def test_every_shipped_scenario_loads(name: str) -> None:
    loaded = load(name)
    assert loaded.name == name
    assert loaded.steps, "a game day without steps shows nothing"
    assert loaded.duration >= max(step.at for step in loaded.steps)


def test_the_default_scenario_is_two_clusters_a_zone_outage_at_one_minute() -> None:
    loaded = load("az-outage")
    assert [c.name for c in loaded.clusters] == ["east-1", "east-2"]
    assert loaded.zones == ("us-east-1a", "us-east-1b", "us-east-1c")
    assert loaded.statefulsets[0].name == "db" and loaded.statefulsets[0].replicas == 3
    assert loaded.federated[0].name == "web"
    assert loaded.steps == (ZoneOutage(at=60.0, zone="us-east-1a", ec2_api_failing=False),)


def test_the_default_scenario_runs_ferry_in_act_mode_and_expects_the_zones_pets_back_with_their_data() -> None:
    loaded = load("az-outage")
    assert loaded.mode is Mode.ACT
    assert RunbookRuns(runbook="EvacuateZone", count=1, outcomes=("succeeded",)) in loaded.expect
    assert PetsRehomed(zone="us-east-1a", within=300.0) in loaded.expect


def test_the_observe_scenario_is_the_same_outage_in_observe_mode_expecting_nothing_to_move() -> None:
    observe, act = load("az-outage-observe"), load("az-outage")
    assert observe.mode is Mode.OBSERVE
    assert (observe.clusters, observe.statefulsets, observe.steps) == (act.clusters, act.statefulsets, act.steps)
    assert RunbookRuns(runbook="EvacuateZone", count=0) in observe.expect
    assert PetsUnmoved() in observe.expect


def test_a_scenario_without_a_mode_runs_ferry_in_observe_mode_as_a_fresh_deployment(tmp_path: Path) -> None:
    assert load(write(tmp_path, VALID, "drill.yaml")).mode is Mode.OBSERVE
    assert load(write(tmp_path, with_changes(mode="act"), "act.yaml")).mode is Mode.ACT


def test_a_noisy_signal_scenario_expects_a_single_source() -> None:
    loaded = load("noisy-signal")
    assert any(isinstance(s, InstanceStop) for s in loaded.steps)
    assert any(isinstance(c, SignalSources) and c.max_sources == 1 for c in loaded.expect)


def test_a_control_plane_scenario_stages_the_outage() -> None:
    assert any(isinstance(s, ControlPlaneOutage) and s.down for s in load("control-plane-outage").steps)


def test_a_valid_file_loads_with_defaults_filled_in(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, VALID, "drill.yaml"))
    assert loaded.clusters[0].workers_per_zone == 2
    assert loaded.federated[0].replicas() == {"east-1": 4, "east-2": 1}
    assert loaded.duration == 180.0  # last step + 2 minutes
    assert [n.name for n in loaded.clusters[1].nodes(loaded.zones)] == ["east-2-a-w0", "east-2-b-w0", "east-2-c-w0"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            with_changes(steps=[{"at": "1m", "action": "zone-outage", "zone": "us-east-1z"}]),
            "steps[0].zone: expected one of us-east-1a, us-east-1b, us-east-1c, got 'us-east-1z'",
            id="unknown-zone",
        ),
        pytest.param(
            with_changes(steps=[{"at": "soon", "action": "zone-outage", "zone": "us-east-1a"}]),
            "steps[0].at: expected a duration like 90s, 5m or 1m30s, got 'soon'",
            id="bad-duration",
        ),
        pytest.param(
            with_changes(steps=[{"at": "1m", "action": "explode"}]),
            "steps[0].action: expected one of zone-outage, zone-recovery, instance-stop, control-plane-outage, "
            "api-errors, api-latency, got 'explode'",
            id="unknown-action",
        ),
        pytest.param(
            with_changes(steps=[{"at": "1m", "action": "zone-outage", "zone": "us-east-1a", "colour": "red"}]),
            "steps[0].colour: unknown field; expected one of at, action, zone, ec2_api_failing, ec2_api_scope, "
            "send_events, health_event_after",
            id="unknown-field",
        ),
        pytest.param(
            with_changes(steps=[{"at": "1m", "action": "zone-outage"}]),
            "steps[0].zone: expected a value (required)",
            id="missing-field",
        ),
        pytest.param(
            with_changes(steps=[{"at": "1m", "action": "instance-stop", "cluster": "east-1", "node": "east-1-z-w9"}]),
            "steps[0].node: expected one of east-1-a-cp0, east-1-a-w0, east-1-a-w1, east-1-b-cp0, east-1-b-w0, "
            "east-1-b-w1, east-1-c-cp0, east-1-c-w0, east-1-c-w1, got 'east-1-z-w9'",
            id="unknown-node",
        ),
        pytest.param(
            with_changes(steps=[{"at": "1m", "action": "api-errors", "cluster": "east-1", "rate": 2}]),
            "steps[0].rate: expected a number from 0 to 1, got 2",
            id="rate-out-of-range",
        ),
        pytest.param(
            with_changes(statefulsets=[{"cluster": "west-9", "namespace": "shop", "name": "db"}]),
            "statefulsets[0].cluster: expected one of east-1, east-2, got 'west-9'",
            id="unknown-cluster",
        ),
        pytest.param(
            with_changes(statefulsets=[{"cluster": "east-1", "namespace": "shop", "name": "db", "rehome": "teleport"}]),
            "statefulsets[0].rehome: expected one of snapshot, fresh, stay, got 'teleport'",
            id="bad-rehome-policy",
        ),
        pytest.param(
            with_changes(clusters=[{"name": "east-1", "workers_per_zone": 0}]),
            "clusters[0].workers_per_zone: expected a whole number >= 1, got 0",
            id="no-workers",
        ),
        pytest.param(
            with_changes(clusters=[{"name": "east-1"}, {"name": "east-1"}]),
            "clusters: expected distinct cluster names, got 'east-1 twice'",
            id="duplicate-cluster",
        ),
        pytest.param(with_changes(name="Bad_Name"), "name: expected a DNS-1123 name", id="bad-name"),
        pytest.param(
            with_changes(expect=[{"check": "zone-state", "zone": "us-east-1a", "in": ["BROKEN"]}]),
            "expect[0].in: expected a non-empty list of healthy, suspect, impaired, recovering, got ['BROKEN']",
            id="unknown-zone-state",
        ),
        pytest.param(
            with_changes(expect=[{"check": "telepathy"}]),
            "expect[0].check: expected one of zone-observed, signal-sources, zone-quiet, nodes-not-ready, "
            "nodes-ready, zone-state, control-plane-state, pets-rehomed, pets-unmoved, readiness-kept, "
            "runbook-runs, federated-replicas, got 'telepathy'",
            id="unknown-check",
        ),
        pytest.param(
            with_changes(mode="yolo"),
            "mode: expected one of observe, supervised, act, got 'yolo'",
            id="unknown-mode",
        ),
        pytest.param(
            with_changes(expect=[{"check": "runbook-runs", "runbook": "Evacuate", "count": 1}]),
            "expect[0].runbook: expected one of EvacuateZone, FailbackZone, FailoverCluster, "
            "ReplaceControlPlaneMember, RehomePet, FenceNode, DrainNode, SetZone, Decide, Readiness, ShiftReplicas, "
            "FailbackCluster, got 'Evacuate'",
            id="unknown-runbook",
        ),
        pytest.param(
            with_changes(expect=[{"check": "runbook-runs", "runbook": "EvacuateZone", "count": 1, "outcomes": ["ok"]}]),
            "expect[0].outcomes: expected a list of succeeded, partial, failed, rejected, dry-run, got ['ok']",
            id="unknown-outcome",
        ),
        pytest.param(
            with_changes(expect=[{"check": "pets-rehomed", "zone": "us-east-1a"}]),
            "expect[0].within: expected a value (required)",
            id="rehomed-without-a-bound",
        ),
        pytest.param(
            with_changes(duration="10s"), "duration: expected at least the last step's time (60s)", id="short"
        ),
        pytest.param(with_changes(steps=[]), "steps: expected a non-empty list", id="no-steps"),
        pytest.param(["a", "list"], "(top level): expected a mapping", id="not-a-mapping"),
        pytest.param("name: [unclosed", "not valid YAML", id="not-yaml"),
    ],
)
def test_an_invalid_file_is_refused_naming_file_field_and_expectation(
    tmp_path: Path, document: object, expected: str
) -> None:
    path = write(tmp_path, document)
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: ") and expected in p for p in problems), problems


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    document = with_changes(
        name="Bad_Name",
        steps=[{"at": "1m", "action": "zone-outage", "zone": "us-east-1z"}, {"at": "x", "action": "api-latency"}],
    )
    problems = problems_of(write(tmp_path, document))
    assert len(problems) >= 4  # name, zone, at, cluster, seconds
    assert str(ScenarioError("f.yaml", ["a: b", "c: d"])) == "f.yaml: a: b\nf.yaml: c: d"


def test_an_unknown_scenario_name_lists_the_available_ones() -> None:
    with pytest.raises(UnknownScenario) as caught:
        load("no-such-drill")
    message = str(caught.value)
    assert "no-such-drill" in message
    assert all(name in message for name in scenario.available())


@given(st.integers(0, 5), st.integers(0, 59), st.integers(0, 59))
def test_durations_read_as_people_write_them(hours: int, minutes: int, seconds: int) -> None:
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + f"{seconds}s"
    assert parse_duration(text) == hours * 3600 + minutes * 60 + seconds


@pytest.mark.parametrize("value", ["", "5 minutes", "-3s", "m", True, -1, None])
def test_what_is_not_a_duration_is_refused(value: object) -> None:
    assert parse_duration(value) is None
