"""A voluntary move (RehomePet of a live pet in a healthy zone) goes through the Eviction API, so the pet's
PodDisruptionBudget has the last word: while the budget allows no disruption the API answers 429, the step
says "not yet" (StepPending) and the state machine asks again, and when it gives up the run is reported as
failed with the budget's reason; nothing is forced (no pod deleted, the pod keeps running where it was). Once
the budget allows a disruption, the same run, resumed, moves the pet.

The world is the re-homing drill's with one pet (a three-pet StatefulSet cannot move one pet to another zone
without breaking its zone spread, which the planner refuses before any eviction)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from ferry.domain.rehoming.models import PetStatus, RunOutcome
from sandbox.scenario import load
from sandbox.world import World
from tests.e2e.rehoming_world import StateMachine, drill_world, pods_per_identity, runtime

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # one sandbox world per process at a time

MOVE = {
    "cluster": "east-1",
    "namespace": "shop",
    "statefulSet": "db",
    "ordinal": 0,
    "targetZone": "us-east-1b",
    "reason": "rebalance",
    "dryRun": False,
}
RUN_ID = "rehome-db-0-pdb"


def budget(max_unavailable: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": {"app": "db"}}},
    }


@pytest.fixture
def world() -> Iterator[World]:
    one_pet = dataclasses.replace(load("az-outage").statefulsets[0], replicas=1)
    started = drill_world((one_pet,))
    try:
        yield started
    finally:
        started.stop()


def pet(world: World) -> Any:
    return next(p for p in world.pets() if p.name == "db-0")


def test_a_budget_that_allows_no_disruption_holds_a_voluntary_move_until_it_does(world: World) -> None:
    cluster = world.clusters["east-1"]
    cluster.apply(budget(0))
    cluster.settle()
    assert (cluster.get("PodDisruptionBudget", "db", "shop") or {})["status"]["disruptionsAllowed"] == 0
    before = pet(world)
    uid = (cluster.get("Pod", "db-0", "shop") or {})["metadata"]["uid"]
    assert before.zone == "us-east-1a" and before.phase == "Running"
    machine = StateMachine(world, runtime(world))

    held, plan = machine.run("RehomePet", MOVE, RUN_ID)

    # Refused, asked again (StepPending, the state machine's retry), then reported: not forced.
    assert plan is not None and [p.pod for p in plan.pets] == ["db-0"]
    tries = [i for i in machine.invocations if i.function == "runbook-rehome"]
    assert len(tries) > 1 and all(type(i.error).__name__ == "StepPending" for i in tries)
    assert all("PodDisruptionBudget" in str(i.error) and "429" in str(i.error) for i in tries)
    requests = cluster.request_count()
    assert requests.get("create pods/eviction", 0) == len(tries)  # one eviction asked per try
    assert requests.get("delete pods", 0) == 0  # never deleted around the budget
    assert held.outcome is RunOutcome.FAILED and held.error is not None
    assert held.error.error == "StepPending" and "disruption budget" in held.error.cause
    assert "disruption budget" in held.summary
    still = pet(world)
    assert (still.zone, still.phase, still.pods) == ("us-east-1a", "Running", 1)
    assert (cluster.get("Pod", "db-0", "shop") or {})["metadata"]["uid"] == uid
    # The budget is asked (dry run) before any claim is let go: the pet's claim is not Terminating under it.
    claims = [c for c in cluster.list("PersistentVolumeClaim", "shop") if c["metadata"]["name"].endswith("db-0")]
    assert claims and all("deletionTimestamp" not in c["metadata"] for c in claims)

    # The budget allows one disruption: the same run, resumed, moves the pet.
    cluster.apply(budget(1))
    cluster.settle()
    machine.invocations.clear()

    moved, _ = machine.run("RehomePet", MOVE, RUN_ID)

    assert moved.outcome is RunOutcome.SUCCEEDED, moved.summary
    (report,) = moved.pets
    assert report.status is PetStatus.MOVED and (report.from_zone, report.to_zone) == ("us-east-1a", "us-east-1b")
    after = pet(world)
    assert (after.zone, after.phase, after.pods) == ("us-east-1b", "Running", 1)
    assert set(pods_per_identity(world).values()) == {1}
    assert cluster.request_count().get("create pods/eviction", 0) > len(tries)
