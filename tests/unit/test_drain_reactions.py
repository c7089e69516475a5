"""A node warning starts DrainNode (issue 13): each documented warning, translated as AWS sends it, becomes one
request under a deterministic name (one per instance and warning: a redelivery, or AWS's update of a Health
event, names the same run), with the deadline AWS gave; a rebalance recommendation only cordons unless
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


def warning(sample: str | dict[str, Any], *, cluster: str | None = "east-1", instance: str | None = None) -> Signal:
    """The warning of a sample (by name, or as sent) about `instance` (its first if None), placed in a
    registered cluster as ingest places it."""
    translation: Any = translate(load_event(sample) if isinstance(sample, str) else sample)
    if isinstance(translation, Unplaced):
        translation = translation.place({})
    return dataclasses.replace(next(s for s in translation if instance in (None, s.instance)), cluster=cluster)


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


def sent(sample: str, *, event_id: str, **detail: Any) -> dict[str, Any]:
    """The sample as EventBridge delivers it once more: under `event_id`, with `detail` changed."""
    event = load_event(sample)
    return {**event, "id": event_id, "detail": {**event["detail"], **detail}}


HEALTH = "health-scheduled-change"
ARN = load_event(HEALTH)["detail"]["eventArn"]
RETIRED = "i-0a9b8c7d6e5f40312"  # one of the sample's two instances
UPDATE = {"lastUpdatedTime": "Sat, 21 Nov 2026 09:00:00 GMT", "statusCode": "upcoming"}


@pytest.mark.parametrize(
    ("first", "second", "instance", "one_run"),
    [
        pytest.param(
            sent(HEALTH, event_id="e-1"),
            sent(HEALTH, event_id="e-2", **UPDATE),
            RETIRED,
            True,
            id="health-two-updates-of-one-event",
        ),
        pytest.param(
            sent(HEALTH, event_id="e-1"),
            sent(HEALTH, event_id="e-2", eventArn=f"{ARN}-2", **UPDATE),
            RETIRED,
            False,
            id="health-two-events-for-one-instance",
        ),
        pytest.param(
            sent("autoscaling-terminate-lifecycle", event_id="e-1"),
            sent("autoscaling-terminate-lifecycle", event_id="e-2"),
            None,
            True,
            id="asg-one-lifecycle-action-sent-twice",
        ),
        pytest.param(
            sent("autoscaling-terminate-lifecycle", event_id="e-1"),
            sent("autoscaling-terminate-lifecycle", event_id="e-2", LifecycleActionToken="another-token"),
            None,
            False,
            id="asg-two-lifecycle-actions",
        ),
        pytest.param(
            sent("ec2-spot-interruption", event_id="e-1"),
            sent("ec2-spot-interruption", event_id="e-1"),
            None,
            True,
            id="spot-redelivered",
        ),
        pytest.param(
            sent("ec2-spot-interruption", event_id="e-1"),
            sent("ec2-spot-interruption", event_id="e-2"),
            None,
            False,
            id="spot-two-interruptions",
        ),
        pytest.param(
            sent("ec2-rebalance-recommendation", event_id="e-1"),
            sent("ec2-rebalance-recommendation", event_id="e-2"),
            None,
            False,
            id="rebalance-two-recommendations",
        ),
    ],
)
def test_one_run_per_instance_and_warning(
    first: dict[str, Any], second: dict[str, Any], instance: str | None, one_run: bool
) -> None:
    """Step Functions refuses a second start of a name: one name is one drain of the node."""
    names = [
        request.name
        for event in (first, second)
        if (request := drain_request(warning(event, instance=instance), "n", drain_on_rebalance=True))
    ]
    assert len(names) == 2
    assert (names[0] == names[1]) is one_run, names


def test_each_instance_of_one_health_event_has_its_own_run() -> None:
    requests = [
        drain_request(warning(HEALTH, instance=instance), None, drain_on_rebalance=False)
        for instance in ("i-0c7d1e2f3a4b5c6d7", RETIRED)
    ]
    names = {request.name for request in requests if request is not None}
    assert len(names) == 2 and all(len(name) <= 80 for name in names)


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
