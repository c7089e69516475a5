"""Completing an Auto Scaling lifecycle action (CONTINUE), at the adapter boundary: moto has no
complete_lifecycle_action, so botocore's Stubber stands in for Auto Scaling and checks the exact request."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ferry.adapters.lifecycle import LifecycleActions
from ferry.domain.errors import FerryError

REQUEST = {
    "AutoScalingGroupName": "east-1-workers-b",
    "LifecycleHookName": "ferry-drain-and-fence",
    "LifecycleActionToken": "19cc4d4a-e450-4d1c-b448-0de67EXAMPLE",
    "InstanceId": "i-0b5e3c1d2a4f60718",
    "LifecycleActionResult": "CONTINUE",
}


def complete(stubbed: Stubber, client: object) -> bool:
    with stubbed:
        return LifecycleActions(client).complete(
            group="east-1-workers-b",
            hook="ferry-drain-and-fence",
            token="19cc4d4a-e450-4d1c-b448-0de67EXAMPLE",
            instance_id="i-0b5e3c1d2a4f60718",
        )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(None, True, id="continue-sent"),
        pytest.param("ValidationError", False, id="no-longer-pending-is-not-an-error"),
    ],
)
def test_the_hook_is_told_continue(aws: None, error: str | None, expected: bool) -> None:
    client = boto3.client("autoscaling", region_name="us-east-1")
    stubbed = Stubber(client)
    if error is None:
        stubbed.add_response("complete_lifecycle_action", {}, REQUEST)
    else:
        stubbed.add_client_error("complete_lifecycle_action", error, "No active Lifecycle Action found", 400, REQUEST)

    assert complete(stubbed, client) is expected
    stubbed.assert_no_pending_responses()


def test_throttling_is_a_ferry_error_for_the_step_to_retry(aws: None) -> None:
    client = boto3.client("autoscaling", region_name="us-east-1")
    stubbed = Stubber(client)
    stubbed.add_client_error("complete_lifecycle_action", "Throttling", "Rate exceeded", 400, REQUEST)

    with pytest.raises(FerryError):
        complete(stubbed, client)
