"""A voluntary move (RehomePet of a live pet in a healthy zone) goes through the Eviction API, so the pet's
PodDisruptionBudget has the last word: while the budget allows no disruption the API answers 429, the step
says "not yet" (StepPending) and the state machine asks again, and when its retries are spent the re-home Map's
Catch reports the pet failed with the budget's reason; nothing is forced (no pod deleted, the pod keeps running
where it was). Once the budget allows a disruption, the move asked again moves the pet: a new execution under
a new name (Step Functions refuses a name it has used, so an ended run is not resumed; the next one replans)
that takes the volume and PV the held run restored (same snapshot, same zone) instead of making a second PV
pre-bound to the same claim, which the recreated claim could bind to instead of the new run's.

The world is the re-homing drill's with one pet (a three-pet StatefulSet cannot move one pet to another zone
without breaking its zone spread, which the planner refuses before any eviction) in one cluster. Both halves
run in one world, on the double and on a real control plane (`real_kube`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from ferry.domain.rehoming.models import PetStatus, RunOutcome
from sandbox.scenario import load
from sandbox.stepfunctions import Runbooks
from sandbox.world import KubeBackend, World
from tests.e2e.rehoming_world import KUBE_BACKENDS, drill_world, planned, pods_per_identity, run, runtime

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
STEP_PENDING_RETRIES = 20  # MaxAttempts of the Tasks' StepPending Retry (ferry.domain.conventions.RUNBOOK_RETRIES)


def budget(max_unavailable: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"maxUnavailable": max_unavailable, "selector": {"matchLabels": {"app": "db"}}},
    }


@pytest.fixture
def world(kube: KubeBackend) -> Iterator[World]:
    scenario = load("az-outage")
    one_pet = dataclasses.replace(scenario.statefulsets[0], replicas=1)
    started = drill_world((one_pet,), clusters=scenario.clusters[:1], kube=kube)  # east-1, where the pet lives
    try:
        yield started
    finally:
        started.stop()


def pet(world: World) -> Any:
    return next(p for p in world.pets() if p.name == "db-0")


def target_of(world: World) -> str:
    """Zone b, or zone c when the pet is in b (a real scheduler may put the one pet in any zone)."""
    return "us-east-1c" if pet(world).zone == MOVE["targetZone"] else MOVE["targetZone"]


@pytest.mark.parametrize("kube", KUBE_BACKENDS)
def test_a_budget_holds_a_voluntary_move_until_it_allows_a_disruption_then_the_move_asked_again_moves_the_pet(
    world: World,
) -> None:
    cluster = world.clusters["east-1"]
    before = pet(world)
    uid = (cluster.get("Pod", "db-0", "shop") or {})["metadata"]["uid"]
    move = {**MOVE, "targetZone": target_of(world)}
    assert before.phase == "Running"
    with Runbooks(world, runtime(world).invoke) as runbooks:
        cluster.apply(budget(0))
        cluster.settle()
        assert (cluster.get("PodDisruptionBudget", "db", "shop") or {})["status"]["disruptionsAllowed"] == 0
        refused_run = run(runbooks, "RehomePet", move, RUN_ID)
        plan = planned(runbooks, RUN_ID)
        tries = [r.invocation for r in runbooks.sandbox.task_runs if r.function == "runbook-rehome"]
        held_requests = cluster.request_count()
        held_pet = pet(world)
        held_uid = (cluster.get("Pod", "db-0", "shop") or {})["metadata"]["uid"]
        claims = [c for c in cluster.list("PersistentVolumeClaim", "shop") if c["metadata"]["name"].endswith("db-0")]
        (left,) = ferry_volumes(cluster)  # the held run restored the volume and made its PV before the budget

        cluster.apply(budget(1))
        cluster.settle()
        moved = run(runbooks, "RehomePet", move, f"{RUN_ID}-2")  # a new execution: the name is used

    # While the budget allows no disruption: refused, asked again (StepPending, the Task's Retry) until the
    # retries are spent, then reported for the pet (the Map's Catch): not forced.
    assert plan is not None and [p.pod for p in plan.pets] == ["db-0"]
    assert len(tries) == 1 + STEP_PENDING_RETRIES  # MaxAttempts counts retries, not the first try
    assert all(type(i.error).__name__ == "StepPending" for i in tries)
    assert all("PodDisruptionBudget" in str(i.error) and "429" in str(i.error) for i in tries)
    assert held_requests.get("create pods/eviction", 0) == len(tries)  # one eviction asked per try
    assert held_requests.get("delete pods", 0) == 0  # never deleted around the budget
    (refused,) = refused_run.pets
    assert refused_run.outcome is RunOutcome.FAILED and refused.status is PetStatus.FAILED
    assert "StepPending" in (refused.reason or "") and "disruption budget" in (refused.reason or "")
    assert "disruption budget" in refused_run.summary
    assert (held_pet.zone, held_pet.phase, held_pet.pods, held_uid) == (before.zone, "Running", 1, uid)
    # The budget is asked (dry run) before any claim is let go: the pet's claim is not Terminating under it.
    assert claims and all("deletionTimestamp" not in c["metadata"] for c in claims)

    # Once it allows one, a new run moves the pet.
    assert moved.outcome is RunOutcome.SUCCEEDED, moved.summary
    (report,) = moved.pets
    assert report.status is PetStatus.MOVED and (report.from_zone, report.to_zone) == (before.zone, move["targetZone"])
    after = pet(world)
    assert (after.zone, after.phase, after.pods) == (move["targetZone"], "Running", 1)
    assert set(pods_per_identity(world).values()) == {1}
    assert cluster.request_count().get("create pods/eviction", 0) > len(tries)
    # One restored volume and one PV for the pet across both runs: the held run's, now bound to its claim.
    (kept,) = ferry_volumes(cluster)
    assert kept["metadata"]["name"] == left["metadata"]["name"] and report.new_volume == handle(left)
    claim = cluster.get("PersistentVolumeClaim", "data-db-0", "shop") or {}
    assert claim["spec"]["volumeName"] == left["metadata"]["name"] and after.volume_id == handle(left)


def ferry_volumes(cluster: Any) -> list[dict[str, Any]]:
    return [v for v in cluster.list("PersistentVolume") if v["metadata"].get("labels", {}).get("ferry.io/managed")]


def handle(volume: dict[str, Any]) -> str:
    return str(volume["spec"]["csi"]["volumeHandle"])
