"""A node warning starts DrainNode (issue 13): each documented warning, translated as AWS sends it, becomes one
request under a deterministic name, with the deadline AWS gave; a rebalance recommendation only cordons unless
the setting says drain; what is not a warning, stale, or not about a registered cluster starts nothing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ferry.domain.reactions import drain_request
from ferry.domain.runbooks import INPUT_SCHEMAS, Runbook
from ferry.domain.signals import Signal
from ferry.domain.translators import Unplaced, translate
from ferry.services.inputs import validate_input
from tests.conftest import load_event


def warning(sample: str, *, cluster: str | None = "east-1") -> Signal:
    """The sample's first signal, placed in a registered cluster as ingest places it."""
    translation: Any = translate(load_event(sample))
    if isinstance(translation, Unplaced):
        translation = translation.place({})
    return dataclasses.replace(translation[0], cluster=cluster)


@pytest.mark.parametrize(
    ("sample", "deadline", "cordon_only"),
    [
        pytest.param("ec2-spot-interruption", "2026-11-25T10:17:00+00:00", False, id="spot-two-minutes"),
        pytest.param("health-scheduled-change", "2026-12-03T13:00:00+00:00", False, id="health-retirement"),
        pytest.param("autoscaling-terminate-lifecycle", None, False, id="asg-terminate-hook"),
        pytest.param("ec2-rebalance-recommendation", None, True, id="rebalance-cordons-only"),
    ],
)
def test_each_node_warning_starts_one_drain_with_a_valid_input(
    sample: str, deadline: str | None, cordon_only: bool
) -> None:
    signal = warning(sample)

    request = drain_request(signal, "east-1-b-w1", drain_on_rebalance=False)

    assert request is not None and request.runbook is Runbook.DRAIN_NODE
    validate_input(Runbook.DRAIN_NODE, request.input)  # what the state machine will accept
    assert (request.input["cluster"], request.input["node"]) == ("east-1", "east-1-b-w1")
    assert request.input.get("deadline") == deadline
    assert request.input.get("cordonOnly", False) is cordon_only
    assert request.input["dryRun"] is False
    assert request.name.startswith(f"drain-{signal.instance}-{signal.kind.value}-") and len(request.name) <= 80


def test_a_terminate_hook_is_passed_on_for_the_drain_to_complete() -> None:
    request = drain_request(warning("autoscaling-terminate-lifecycle"), "n", drain_on_rebalance=False)
    assert request is not None
    assert request.input["lifecycleAction"] == {
        "autoScalingGroupName": "ferry-prod-control-plane-us-east-1b",
        "lifecycleHookName": "ferry-drain-and-fence",
        "lifecycleActionToken": "19cc4d4a-e450-4d1c-b448-0de67EXAMPLE",
    }
    spot = drain_request(warning("ec2-spot-interruption"), "n", drain_on_rebalance=False)
    assert spot is not None and "lifecycleAction" not in spot.input


def test_the_setting_makes_a_rebalance_recommendation_drain() -> None:
    request = drain_request(warning("ec2-rebalance-recommendation"), "n", drain_on_rebalance=True)
    assert request is not None and "cordonOnly" not in request.input


def test_one_run_per_instance_and_warning() -> None:
    signal = warning("ec2-spot-interruption")
    again = drain_request(signal, "n", drain_on_rebalance=False)
    same = drain_request(signal, "n", drain_on_rebalance=False)
    other_event = drain_request(dataclasses.replace(signal, source_id="another-id"), "n", drain_on_rebalance=False)
    assert again is not None and same is not None and other_event is not None
    assert again.name == same.name, "a redelivered warning names the same run (Step Functions refuses the second)"
    assert other_event.name != again.name


def test_an_unplaced_node_is_named_by_its_instance() -> None:
    signal = warning("ec2-spot-interruption")
    request = drain_request(signal, None, drain_on_rebalance=False)
    assert request is not None and request.input["instanceId"] == signal.instance and "node" not in request.input


@pytest.mark.parametrize(
    "signal",
    [
        pytest.param(warning("ec2-spot-interruption", cluster=None), id="not-a-registered-clusters-instance"),
        pytest.param(warning("ec2-state-change-stopped"), id="not-a-warning"),
        pytest.param(
            dataclasses.replace(warning("ec2-spot-interruption"), evidence={"stale": "older than the window"}),
            id="stale",
        ),
    ],
)
def test_anything_else_starts_nothing(signal: Signal) -> None:
    assert drain_request(signal, "n", drain_on_rebalance=True) is None


def test_the_drain_schema_takes_a_node_or_an_instance() -> None:
    schema = INPUT_SCHEMAS[Runbook.DRAIN_NODE]
    assert schema["anyOf"] == [{"required": ["node"]}, {"required": ["instanceId"]}]
