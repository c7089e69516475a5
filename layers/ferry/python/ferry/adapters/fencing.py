"""Fencing through EC2: the proof that a node's pets cannot run twice.

A pod on a dead node may still be running for all Kubernetes knows. Ferry frees a pet's identity only after
EC2 says the node's instance is stopped or terminated, or after Ferry stopped it (with `Force`, because a
wedged instance may never shut down cleanly) and waited, within a bound, for EC2 to say so. Anything short
of that (EC2 failing for the zone, an instance still `running` or `stopping` when the wait ends, an
instance EC2 does not know) is an unconfirmed fence, reported as such and never turned into force.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.adapters.batching import describe_in_batches
from ferry.domain.errors import FerryError, NotFound
from ferry.domain.rehoming.inventory import Instance, InstanceState

POLL_SECONDS = 2.0
_STOPPABLE = (InstanceState.RUNNING, InstanceState.PENDING, InstanceState.STOPPING)


@dataclass(frozen=True, slots=True)
class FenceResult:
    instance_id: str
    fenced: bool
    stopped_by_ferry: bool
    state: InstanceState
    detail: str = ""


class Fencer:
    """EC2 instance states and stops, through an EC2 client (passed in)."""

    def __init__(
        self,
        ec2: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._ec2 = ec2
        self._sleep = sleep
        self._monotonic = monotonic
        self._poll = poll_seconds

    def instances(self, instance_ids: Iterable[str]) -> dict[str, Instance]:
        """The instances EC2 describes. One that cannot be described (EC2 failing for its zone, unknown to
        EC2) is absent: the caller treats it as UNKNOWN, never as stopped. A failing batch is retried id by
        id, so one broken zone does not hide the others."""
        return describe_in_batches(instance_ids, self._describe)

    def _describe(self, ids: list[str]) -> dict[str, Instance]:
        found = {}
        try:
            pages = self._ec2.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-id", "Values": ids}]
            )
            for page in pages:
                for reservation in page["Reservations"]:
                    for raw in reservation["Instances"]:
                        found[raw["InstanceId"]] = Instance(
                            instance_id=raw["InstanceId"],
                            zone=raw["Placement"]["AvailabilityZone"],
                            state=InstanceState.parse(raw["State"]["Name"]),
                            tags={t["Key"]: t.get("Value", "") for t in raw.get("Tags") or []},
                        )
        except (ClientError, BotoCoreError) as error:
            translated = translate_error(error)
            if isinstance(translated, NotFound):
                return found
            raise translated from error
        return found

    def state(self, instance_id: str) -> InstanceState:
        """One instance's state; UNKNOWN if EC2 does not know it. Transient EC2 errors are raised."""
        instance = self._describe([instance_id]).get(instance_id)
        return instance.state if instance else InstanceState.UNKNOWN

    def stop(self, instance_id: str) -> None:
        """Stop with Force: no clean shutdown, no waiting for a wedged OS. Idempotent in EC2."""
        try:
            self._ec2.stop_instances(InstanceIds=[instance_id], Force=True)
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    def fence(self, instance_id: str, wait: timedelta) -> FenceResult:
        """Confirm the instance stopped or terminated, stopping it first if it runs; wait at most `wait`."""
        stopped = False
        try:
            state = self.state(instance_id)
            if state in _STOPPABLE:
                self.stop(instance_id)
                stopped = True
            if not state.fenced and state is not InstanceState.UNKNOWN:
                state = self._wait_fenced(instance_id, wait)
        except FerryError as error:
            return FenceResult(instance_id, False, stopped, InstanceState.UNKNOWN, f"EC2 could not confirm: {error}")
        detail = "" if state.fenced else _unconfirmed(state, wait, stopped)
        return FenceResult(instance_id, state.fenced, stopped and state.fenced, state, detail)

    def _wait_fenced(self, instance_id: str, wait: timedelta) -> InstanceState:
        deadline = self._monotonic() + wait.total_seconds()
        state = self.state(instance_id)
        while not state.fenced and self._monotonic() < deadline:
            self._sleep(min(self._poll, max(0.0, deadline - self._monotonic())))
            state = self.state(instance_id)
        return state


def _unconfirmed(state: InstanceState, wait: timedelta, stopped: bool) -> str:
    if state is InstanceState.UNKNOWN:
        return "EC2 does not know the instance: cannot confirm it is down"
    if stopped:
        return f"EC2 still reports {state.value} {int(wait.total_seconds())}s after Ferry stopped it (force)"
    return f"EC2 reports {state.value}"
