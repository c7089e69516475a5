"""The re-homing invariants on the sandbox, each with a drill that breaks it if the code does.

Every run goes through the stack's own state machines (`sandbox.stepfunctions.Runbooks`: the synthesized
definitions in moto's interpreter, with their Maps, Retry and Catch), each Task run by the step services in this
process, so that a drill can hand them a lying or failing EC2, two lock owners, or kill them in the middle:

1. At most one pod per pet identity, and nothing forced before a confirmed fence: also while EC2 lies about
   an instance's state for a while, and while every step runs twice at once (two executors of one plan).
3. Killing a step after any of its actions, the state machine's retry runs it again and the run ends as an
   uninterrupted run does: every pet Running in a healthy zone, on exactly one new volume and one new PV, its
   claim bound to that PV.
(2, no data loss, is asserted in each drill: no volume deleted, old volumes kept and tagged; 4, dry run, in
tests/e2e/test_rehoming.py.)
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest

import ferry.services.rehoming as steps_module
from ferry.domain.rehoming.models import PetStatus, RunOutcome, RunReport
from ferry.domain.rehoming.policies import RehomeLimits
from ferry.executor.effects import ClusterEffects
from sandbox.aws import FaultScope
from sandbox.lambdas import Invocation
from sandbox.scenario import StatefulSetSpec
from sandbox.stepfunctions import InvocationLost, InvocationTimedOut, Runbooks, in_process
from sandbox.world import World
from tests.conftest import load_event
from tests.e2e.rehoming_world import (
    ZONE_A,
    drill_world,
    pods_per_identity,
    run,
    runtime,
    state,
    steps_in_process,
    zone_outage,
)

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # one sandbox world per process at a time

EVACUATE = {"zone": ZONE_A, "reason": "drill", "dryRun": False}


class Crash(BaseException):
    """The step's invocation dies (its environment lost, the container killed) between two of its actions."""


def moved_pets(world: World, run_id: str, statefulset: str) -> dict[str, tuple[Any, ...]]:
    """Per pet of the zone: (zone, phase, pods, new volumes made by the run, Ferry PVs for its claim, bound)."""
    inventory = world.inventory()
    cluster = world.clusters["east-1"]
    shape = {}
    for pet in world.pets():
        if not pet.name.startswith(f"{statefulset}-"):
            continue
        made = [
            v
            for v in inventory.volumes
            if v.tags.get("ferry:run") == run_id and v.tags.get("ferry:pet") == f"shop/{pet.claim}"
        ]
        if not made:
            continue
        pvs = [
            v["metadata"]["name"]
            for v in cluster.list("PersistentVolume")
            if v["metadata"]["name"].startswith("ferry-") and (v["spec"].get("claimRef") or {}).get("name") == pet.claim
        ]
        claim = cluster.get("PersistentVolumeClaim", pet.claim, "shop") or {}
        bound = claim.get("spec", {}).get("volumeName") in pvs and pet.volume_id == made[0].id
        shape[pet.name] = (pet.zone != ZONE_A, pet.phase, pet.pods, len(made), len(pvs), bound)
    return shape


# --- 3. killed after any step ---------------------------------------------------------------------------------


@pytest.fixture
def crowded() -> Iterator[World]:
    """24 pets of `db` and 3 of `kv`, one in three of each in zone a; zone a down."""
    world = drill_world(
        (StatefulSetSpec("east-1", "shop", "db", replicas=24), StatefulSetSpec("east-1", "shop", "kv", replicas=3))
    )
    try:
        zone_outage(world)
        yield world
    finally:
        world.stop()


def test_killing_a_step_after_any_action_then_retrying_it_ends_as_an_uninterrupted_run(crowded, monkeypatch) -> None:
    """However the invocation dies (its environment lost, or the function's own timeout: the deaths alternate),
    the Task's Retry runs the step again before the Map's per-item Catch could report it failed, and the
    journal makes it finish."""
    world = crowded
    volumes_before = {v.id for v in world.inventory().volumes}
    # Each node's fence dies before its 1st, 2nd or 3rd action, each db pet before a different one of its 8;
    # kv's pet is never interrupted: the control.
    node_budgets, pet_budgets = itertools.cycle(range(3)), iter(range(8))
    budgets: dict[str, int] = {}  # subject -> actions it performs before its invocation dies (once)
    performed: Counter[str] = Counter()
    crashed: Counter[str] = Counter()
    deaths = itertools.cycle((InvocationLost, InvocationTimedOut))  # Lambda.ServiceException, Sandbox.Timedout
    died_of: Counter[str] = Counter()
    subject = [""]  # whose step runs now (the world's thread runs one Task at a time)

    class Dying(ClusterEffects):
        def perform(self, action: Any, results: Any) -> Any:
            if budgets.get(subject[0]) == performed[subject[0]]:
                del budgets[subject[0]]
                raise Crash(action.step_id)
            done = super().perform(action, results)  # a step that is not done yet (pending) is not counted
            performed[subject[0]] += 1
            return done

    monkeypatch.setattr(steps_module, "ClusterEffects", Dying)
    steps = in_process(steps_in_process(world))

    def invoke(function: str, event: Mapping[str, Any]) -> Invocation:
        subject[0] = str(event.get("pod") or event.get("node") or "")  # a pet's job names its node too
        if subject[0] not in performed:
            performed[subject[0]] = 0
            if function == "runbook-fence":
                budgets[subject[0]] = next(node_budgets)
            elif function == "runbook-rehome" and event["statefulSet"] == "db":
                budgets[subject[0]] = next(pet_budgets)
        try:
            return steps(function, event)
        except Crash as died:
            crashed[str(died).split("/")[1]] += 1
            death = next(deaths)
            died_of[death.__name__] += 1
            return Invocation(function, "killed", event, None, death(f"killed at {died}"), "", 0.0, False)

    with Runbooks(world, invoke) as runbooks:
        done = run(runbooks, "EvacuateZone", EVACUATE, "evacuate-crash")

    assert done.outcome is RunOutcome.SUCCEEDED, done.summary
    assert len(done.nodes) == 4 and len([p for p in done.pets if p.pod.startswith("db-")]) == 8
    assert set(crashed) == {
        "fence", "cordon", "out-of-service", "create-volume", "tag-old-volume", "create-pv", "retain-pv",
        "await-pod-released", "delete-pvc", "bind-pvc", "verify-running",
    }  # fmt: skip
    assert set(died_of) == {"InvocationLost", "InvocationTimedOut"}
    interrupted, control = moved_pets(world, "evacuate-crash", "db"), moved_pets(world, "evacuate-crash", "kv")
    assert len(interrupted) == 8 and len(control) == 1
    assert set(interrupted.values()) == set(control.values()) == {(True, "Running", 1, 1, 1, True)}
    assert volumes_before <= {v.id for v in world.inventory().volumes}  # nothing deleted, ever


# --- 1. one pod per identity ----------------------------------------------------------------------------------


@pytest.fixture
def one_pet() -> Iterator[World]:
    world = drill_world()
    try:
        yield world
    finally:
        world.stop()


def test_every_step_running_twice_at_once_makes_one_of_everything(one_pet) -> None:
    """Lambda runs an invocation at least once, and a retry may start while the first still runs: here every
    Task's function runs twice at once, in two execution environments (two lock owners) on the same plan."""
    world = one_pet
    zone_outage(world)
    executors = [in_process(steps_in_process(world, owner=owner)) for owner in ("first", "second")]
    reports: list[RunReport] = []
    seen: list[dict[str, int]] = []

    def twice(function: str, event: Mapping[str, Any]) -> Invocation:
        results: list[Invocation] = []
        threads = [threading.Thread(target=lambda e=e: results.append(e(function, event))) for e in executors]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            seen.append(pods_per_identity(world))
            threads[0].join(0.05)
        for thread in threads:
            thread.join()
        if function == "runbook-report":
            reports.extend(RunReport.from_dict(r.result) for r in results if r.ok)
        return next((r for r in results if r.ok), results[0])

    with Runbooks(world, twice) as runbooks:
        run(runbooks, "EvacuateZone", EVACUATE, "evacuate-twice")

    assert [r.outcome for r in reports] == [RunOutcome.SUCCEEDED, RunOutcome.SUCCEEDED], [r.summary for r in reports]
    assert {count for sample in seen for count in sample.values()} <= {0, 1}
    assert moved_pets(world, "evacuate-twice", "db") == {"db-0": (True, "Running", 1, 1, 1, True)}


def test_an_unconfirmed_fence_forces_nothing_until_ec2_confirms_then_a_failing_step_stops_the_pet() -> None:
    """With EC2 clients that give up fast, so that EC2 failing for a zone costs seconds of this test, not
    minutes of botocore back-off."""
    world = drill_world()
    try:
        zone_outage(world, ec2_failing=True)  # EC2 answers nothing about zone a
        runbooks = Runbooks(world, in_process(steps_in_process(world)))
        with runbooks:
            before = state(world)
            evacuated = run(runbooks, "EvacuateZone", EVACUATE, "evacuate-us-east-1a-2")

            assert evacuated.outcome is RunOutcome.PARTIAL
            assert len(evacuated.nodes) == 4
            assert all(not n.fenced and n.identity_freed is None for n in evacuated.nodes)
            assert all("nothing forced" in (n.reason or "") for n in evacuated.nodes)
            # Its volume cannot even be described: the pet is left whole, with the reason, not half-moved.
            assert evacuated.pets == ()
            assert "east-1/shop/db-0: volume-unknown: EC2 could not describe" in evacuated.summary
            after = state(world)["kube"]["east-1"]
            assert (after["pods"], after["claims"]) == (
                before["kube"]["east-1"]["pods"],
                before["kube"]["east-1"]["claims"],
            )
            assert all(
                "ferry.io/fence-unconfirmed:NoSchedule" in after["nodes"][n.node][1]
                for n in evacuated.nodes
                if n.cluster == "east-1"
            )
            assert not any("out-of-service" in t for _, taints in after["nodes"].values() for t in taints)

            # EC2 answers for zone a again, but fails for the target zone: the restore keeps failing, the pet
            # stops there (its node is fenced and freed now; its claim is untouched), the run says so.
            world.aws.fail_ec2_for_zone(ZONE_A, False)
            world.aws.fail_ec2_for_zone("us-east-1b", True, scope=FaultScope.ZONE)
            rehome = {"cluster": "east-1", "namespace": "shop", "statefulSet": "db", "ordinal": 0}
            rehome |= {"targetZone": "us-east-1b", "reason": "retry", "dryRun": False}
            failed = run(runbooks, "RehomePet", rehome, "rehome-db-0-1")
            (pet,) = failed.pets
            assert failed.outcome is RunOutcome.FAILED and pet.status is PetStatus.FAILED
            assert "Unavailable" in (pet.reason or "")
            claim = world.clusters["east-1"].get("PersistentVolumeClaim", "data-db-0", "shop") or {}
            assert claim["metadata"]["uid"] == before["kube"]["east-1"]["claims"][("shop", "data-db-0")][0]
            assert set(pods_per_identity(world).values()) == {1}

            # Both zones answer: a person's next RehomePet (a new execution, so a new run) finishes the move.
            world.aws.fail_ec2_for_zone("us-east-1b", False)
            done = run(runbooks, "RehomePet", rehome, "rehome-db-0-2")
            assert done.outcome is RunOutcome.SUCCEEDED, done.summary
            assert next(p for p in world.pets() if p.name == "db-0").zone == "us-east-1b"
    finally:
        world.stop()


# --- 2. no snapshot deleted but the schedule's own beyond retention ---------------------------------------------


def test_the_snapshot_schedule_keeps_rpos_and_prunes_only_its_own_beyond_retention(one_pet) -> None:
    world = one_pet
    lambdas = runtime(world)
    seeded = set(world.snapshots.values())  # tagged ferry:managed, but not the schedule's: never pruned

    fresh = lambdas.invoke("snapshot-schedule", load_event("scheduled-event"))
    assert fresh.ok and fresh.result["taken"] == [] and fresh.result["atRisk"] == []  # seeded a moment ago
    assert fresh.result["volumes"] == 3

    taken: list[str] = []
    for _ in range(9):  # every 11 minutes, with a 15-minute RPO and a 5-minute period: one snapshot per pet
        world.advance_to(world.offset() + 660)
        ran = lambdas.invoke("snapshot-schedule", load_event("scheduled-event"))
        assert ran.ok, ran.error
        # (moto stamps snapshots with wall-clock time, not the world's fast-forwarded clock: ages read high.)
        assert len(ran.result["taken"]) == 3
        taken += ran.result["taken"]

    left = {s.id: s for s in world.inventory().snapshots}
    assert seeded <= set(left)
    assert len(set(taken) & set(left)) == 3 * 7  # retention 7 per volume: the two oldest of each pruned
    assert all(
        left[t].tags["ferry:schedule"] and left[t].tags["ferry:pet"].startswith("shop/data-db-")
        for t in set(taken) & set(left)
    )

    observing = runtime(world, mode="observe")
    world.advance_to(world.offset() + 660)
    watched = observing.invoke("snapshot-schedule", load_event("scheduled-event"))
    assert watched.result["observeMode"] and len(watched.result["wouldTake"]) == 3
    assert {s.id for s in world.inventory().snapshots} == set(left)


class LyingEc2:
    """EC2 through the fault proxy, except that for a while it says `running` for instances that are not."""

    def __init__(self, real: Any, lies: int) -> None:
        self.real, self.lies = real, lies

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def get_paginator(self, name: str) -> Any:
        paginator = self.real.get_paginator(name)
        if name != "describe_instances" or self.lies <= 0:
            return paginator
        self.lies -= 1

        class Lying:
            def paginate(self, **kwargs: Any) -> Any:
                for page in paginator.paginate(**kwargs):
                    for reservation in page["Reservations"]:
                        for instance in reservation["Instances"]:
                            instance["State"] = {"Code": 16, "Name": "running"}
                    yield page

        return Lying()

    def stop_instances(self, **kwargs: Any) -> Any:
        return {"StoppingInstances": []}  # an API that accepts and does nothing: the instance "keeps running"


def test_ec2_lying_about_state_for_a_while_forces_nothing_until_it_tells_the_truth(one_pet) -> None:
    world = one_pet
    zone_outage(world)
    lying = LyingEc2(world.aws.client("ec2", through_proxy=True, max_attempts=2), lies=10**6)
    steps = steps_in_process(world, limits=RehomeLimits(fence_wait=timedelta(seconds=6)), ec2=lying)
    before = state(world)["kube"]["east-1"]

    with Runbooks(world, in_process(steps)) as runbooks:
        lied_to = run(runbooks, "EvacuateZone", EVACUATE, "evacuate-lies")

        assert lied_to.outcome is RunOutcome.PARTIAL and all(not n.fenced for n in lied_to.nodes)
        (pet,) = lied_to.pets
        assert pet.status is PetStatus.SKIPPED and "not fenced" in (pet.reason or "")
        after = state(world)["kube"]["east-1"]
        assert (after["pods"], after["claims"]) == (before["pods"], before["claims"])  # nothing forced or moved
        assert not any("out-of-service" in t for _, taints in after["nodes"].values() for t in taints)

        lying.lies = 0  # EC2 tells the truth now: the next evacuation fences, frees and moves the pet
        again = run(runbooks, "EvacuateZone", EVACUATE, "evacuate-lies-2")
    assert again.outcome is RunOutcome.SUCCEEDED, again.summary
    assert moved_pets(world, "evacuate-lies-2", "db") == {"db-0": (True, "Running", 1, 1, 1, True)}
    assert set(pods_per_identity(world).values()) == {1}
