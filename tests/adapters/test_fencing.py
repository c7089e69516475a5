"""Fencing through EC2 on moto: stop with force, confirm, and never call a fence confirmed that EC2 did not
confirm (an instance still running, EC2 failing for the zone, EC2 lying for a while, an unknown instance)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ferry.adapters.fencing import Fencer
from ferry.domain.rehoming.inventory import InstanceState

IMAGE = "ami-12c6146b"


@pytest.fixture
def ec2(aws: Any) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def launch(ec2: Any, zone: str = "us-east-1a") -> str:
    return str(
        ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": zone})["Instances"][0][
            "InstanceId"
        ]
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_running_instance_is_stopped_with_force_and_confirmed(ec2: Any) -> None:
    instance = launch(ec2)
    sent: list[dict[str, Any]] = []
    ec2.meta.events.register("provide-client-params.ec2.StopInstances", lambda params, **_: sent.append(params))

    result = Fencer(ec2).fence(instance, timedelta(seconds=30))

    assert (result.fenced, result.stopped_by_ferry, result.state) == (True, True, InstanceState.STOPPED)
    assert sent == [{"InstanceIds": [instance], "Force": True}]


@pytest.mark.parametrize("how", ["stop", "terminate"])
def test_an_instance_already_down_is_confirmed_without_a_stop(ec2: Any, how: str) -> None:
    instance = launch(ec2)
    getattr(ec2, f"{how}_instances")(InstanceIds=[instance])
    sent: list[Any] = []
    ec2.meta.events.register("provide-client-params.ec2.StopInstances", lambda params, **_: sent.append(params))

    result = Fencer(ec2).fence(instance, timedelta(seconds=30))

    assert result.fenced and not result.stopped_by_ferry and sent == []


def test_an_instance_ec2_does_not_know_is_not_fenced(ec2: Any) -> None:
    result = Fencer(ec2).fence("i-0123456789abcdef0", timedelta(seconds=30))

    assert (result.fenced, result.state) == (False, InstanceState.UNKNOWN)
    assert "does not know" in result.detail


class LyingEc2:
    """EC2 that keeps saying `running` for the first `lies` descriptions after a stop (eventual consistency
    at its worst), or fails every call for the zone."""

    def __init__(self, real: Any, *, lies: int = 0, failing: bool = False) -> None:
        self.real, self.lies, self.failing, self.stops = real, lies, failing, 0

    def _fail(self) -> None:
        if self.failing:
            raise ClientError(
                {"Error": {"Code": "Unavailable", "Message": "zone down"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
                "DescribeInstances",
            )

    def get_paginator(self, name: str) -> Any:
        self._fail()
        lying = self.stops and self.lies > 0
        if lying:
            self.lies -= 1
        real = self.real.get_paginator(name)

        class Pages:
            def paginate(self, **kwargs: Any) -> Any:
                for page in real.paginate(**kwargs):
                    for reservation in page["Reservations"]:
                        for instance in reservation["Instances"]:
                            if lying:
                                instance["State"] = {"Code": 16, "Name": "running"}
                    yield page

        return Pages()

    def stop_instances(self, **kwargs: Any) -> Any:
        self._fail()
        self.stops += 1
        return self.real.stop_instances(**kwargs)


def test_ec2_saying_running_after_the_stop_is_not_a_fence_until_it_says_stopped(ec2: Any) -> None:
    instance = launch(ec2)
    clock = Clock()
    lying = LyingEc2(ec2, lies=5)
    fencer = Fencer(lying, sleep=clock.sleep, monotonic=clock.monotonic, poll_seconds=2)

    first = fencer.fence(instance, timedelta(seconds=4))  # three looks, all lies
    assert (first.fenced, first.state) == (False, InstanceState.RUNNING)
    assert "still reports running" in first.detail and clock.now == 4

    second = fencer.fence(instance, timedelta(seconds=60))  # the lie ends within the wait
    assert second.fenced and second.state is InstanceState.STOPPED


def test_ec2_failing_for_the_zone_is_an_unconfirmed_fence_not_an_error(ec2: Any) -> None:
    instance = launch(ec2)
    result = Fencer(LyingEc2(ec2, failing=True)).fence(instance, timedelta(seconds=30))

    assert (result.fenced, result.stopped_by_ferry) == (False, False)
    assert "EC2 could not confirm" in result.detail


def test_one_failing_zone_does_not_hide_the_others_instances(ec2: Any) -> None:
    good, bad = launch(ec2, "us-east-1b"), launch(ec2, "us-east-1a")

    class ZoneFailing:
        def get_paginator(self, name: str) -> Any:
            real = ec2.get_paginator(name)

            class Pages:
                def paginate(self, Filters: list[dict[str, Any]]) -> Any:
                    if bad in Filters[0]["Values"]:
                        raise ClientError(
                            {
                                "Error": {"Code": "InternalError", "Message": "x"},
                                "ResponseMetadata": {"HTTPStatusCode": 500},
                            },
                            "DescribeInstances",
                        )
                    return real.paginate(Filters=Filters)

            return Pages()

    found = Fencer(ZoneFailing()).instances([good, bad])

    assert list(found) == [good] and found[good].zone == "us-east-1b"
