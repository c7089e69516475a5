"""Re-homing end to end on the sandbox, through the stack's synthesized state machines (sandbox.stepfunctions
`Runbooks`: plan -> fence Map -> re-home Map -> report, with their Retry and Catch) calling the real Lambda
handlers: a dry run that changes nothing, zone a's pet back Running in zone b on a volume restored from its
snapshot, an evacuation started again that does nothing twice, RehomePet through the Eviction API, FenceNode,
and a rejected input. (A fence EC2 cannot confirm, and a step that keeps failing:
tests/e2e/test_rehoming_invariants.py, one sandbox world at a time.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.domain.rehoming.models import FencedBy, IdentityFreed, PetStatus, RunOutcome
from sandbox.stepfunctions import Runbooks
from sandbox.world import World
from tests.e2e.rehoming_world import (
    KUBE_BACKENDS,
    ZONE_A,
    drill_world,
    planned,
    pods_per_identity,
    run,
    runtime,
    state,
    wait_until,
    zone_outage,
)

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # the tests share one world, in this order

EVACUATE = {"zone": ZONE_A, "reason": "AWS Health: EC2 operational issue in us-east-1a", "dryRun": False}


@pytest.fixture(scope="module", params=KUBE_BACKENDS)
def evacuated(request: pytest.FixtureRequest) -> Iterator[tuple[World, dict, dict]]:
    """Zone a goes dark; a dry run, then the real EvacuateZone. Yields the world and the state before/after."""
    world = drill_world(kube=request.param)
    try:
        # The double's scheduler puts db-0 in zone a; a real one may choose another of the three.
        (pet,) = [p for p in world.pets() if p.zone == ZONE_A]
        zone_outage(world)
        with Runbooks(world, runtime(world).invoke) as runbooks:
            before = state(world)
            dry = run(runbooks, "EvacuateZone", {**EVACUATE, "dryRun": True}, "evacuate-us-east-1a-dry")
            after_dry = state(world)
            real = run(runbooks, "EvacuateZone", EVACUATE, "evacuate-us-east-1a-1")
            runs = {
                "dry": (dry, planned(runbooks, "evacuate-us-east-1a-dry")),
                "real": (real, planned(runbooks, "evacuate-us-east-1a-1")),
                "runbooks": runbooks,
                "pet": pet,
            }
            yield world, {"before": before, "after_dry": after_dry}, runs
    finally:
        world.stop()


def test_dry_run_returns_the_full_plan_and_changes_nothing(evacuated) -> None:
    _, states, runs = evacuated
    report, plan = runs["dry"]
    name = runs["pet"].name

    assert states["after_dry"] == states["before"]
    assert report.outcome is RunOutcome.DRY_RUN and plan is not None and plan.dry_run
    assert [p.pod for p in plan.pets] == [name] and plan.pets[0].target_zone == "us-east-1b"
    steps = plan.plan["pets"][f"east-1/shop/{name}"]["steps"]
    assert any("create a 10 GiB gp3 volume in us-east-1b from snap-" in s for s in steps)
    assert len(plan.nodes) == 4 and all(p.status is PetStatus.PLANNED for p in report.pets)


def test_zone_a_pet_runs_in_zone_b_on_a_volume_restored_from_its_snapshot(evacuated) -> None:
    world, _, runs = evacuated
    report, _ = runs["real"]
    (pet,) = report.pets
    moved = next(p for p in world.pets() if p.name == runs["pet"].name)
    new_volume = world.inventory().volume(moved.volume_id or "")
    old_volume = world.inventory().volume(pet.old_volume or "")

    assert report.outcome is RunOutcome.SUCCEEDED, report.summary
    assert (moved.zone, moved.phase, moved.pods) == ("us-east-1b", "Running", 1)
    assert pet.status is PetStatus.MOVED and (pet.from_zone, pet.to_zone) == (ZONE_A, "us-east-1b")
    assert new_volume is not None and new_volume.id == pet.new_volume and new_volume.zone == "us-east-1b"
    assert new_volume.snapshot_id == pet.snapshot == world.snapshots[f"east-1/shop/{moved.claim}"]  # its data
    assert old_volume is not None and old_volume.tags["ferry:rehomed-to"] == new_volume.id  # kept, says where
    assert pet.rpo_seconds is not None and not pet.rpo_breached and pet.time_to_running_seconds is not None
    assert all(n.fenced and n.fenced_by is FencedBy.ALREADY_STOPPED for n in report.nodes)
    assert all(n.identity_freed is IdentityFreed.OUT_OF_SERVICE_TAINT and n.cordoned for n in report.nodes)
    assert f"{moved.name}: moved (snapshot) us-east-1a -> us-east-1b" in report.summary


def test_no_volume_is_deleted_and_every_pet_has_one_pod(evacuated) -> None:
    world, states, runs = evacuated
    volumes_before = set(states["before"]["volumes"])
    claim_name = runs["pet"].claim

    assert volumes_before <= {v.id for v in world.inventory().volumes}
    assert set(pods_per_identity(world).values()) == {1}
    claim = world.clusters["east-1"].get("PersistentVolumeClaim", claim_name, "shop") or {}
    old_pv = next(
        v
        for v in world.clusters["east-1"].list("PersistentVolume")
        if (v["spec"].get("csi") or {}).get("volumeHandle")
        in {k for k, t in states["before"]["volumes"].items() if t[0] == ZONE_A}
        and (v["spec"].get("claimRef") or {}).get("name") == claim_name
    )
    assert old_pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert claim["spec"]["volumeName"].startswith("ferry-")


def test_evacuating_the_zone_again_does_nothing_twice(evacuated) -> None:
    """Step Functions refuses to start an execution under a name it has used: the evacuation started again (by
    the detector or a person) is a new execution, a new run, over what the first one did."""
    world, _, runs = evacuated
    before = state(world)
    report = run(runs["runbooks"], "EvacuateZone", EVACUATE, "evacuate-us-east-1a-again")

    assert report.outcome is RunOutcome.SUCCEEDED
    assert (
        state(world)["volumes"] == before["volumes"]
        and state(world)["kube"]["east-1"]["volumes"] == before["kube"]["east-1"]["volumes"]
    )


def test_the_audit_log_has_a_record_per_step(evacuated) -> None:
    world, _, runs = evacuated
    claim = runs["pet"].claim
    day = world.clock.now().date().isoformat()
    records = [
        r["action_id"]
        for r in world.table_items(f"AUDIT#{day}")
        if str(r["action_id"]).startswith("evacuate-us-east-1a-1/")
    ]

    assert any(r.endswith(f"/create-volume/shop/{claim}") for r in records)
    assert any(r.endswith(f"/delete-pvc/shop/{claim}") for r in records)
    assert "evacuate-us-east-1a-1/report" in records


def test_rehome_pet_moves_a_live_pet_through_the_eviction_api_and_fence_node_frees_a_node(evacuated) -> None:
    world, _, runs = evacuated
    runbooks: Runbooks = runs["runbooks"]
    before = world.clusters["east-1"].request_count().get("create pods/eviction", 0)

    # The pet that was in zone b before the evacuation brought another there: to zone c, spread kept.
    (live,) = [p for p in world.pets() if p.zone == "us-east-1b" and p.name != runs["pet"].name]
    ordinal = int(live.name.rsplit("-", 1)[1])
    pet = {
        "cluster": "east-1",
        "namespace": "shop",
        "statefulSet": "db",
        "ordinal": ordinal,
        "targetZone": "us-east-1c",
    }
    moved = run(runbooks, "RehomePet", {**pet, "reason": "rebalance", "dryRun": False}, f"rehome-{live.name}-1")

    assert moved.outcome is RunOutcome.SUCCEEDED, moved.summary
    assert world.clusters["east-1"].request_count().get("create pods/eviction", 0) > before
    after = next(p for p in world.pets() if p.name == live.name)
    assert (after.zone, after.phase, after.pods) == ("us-east-1c", "Running", 1)

    fenced = run(
        runbooks,
        "FenceNode",
        {"cluster": "east-2", "node": "east-2-c-w1", "reason": "drill", "dryRun": False},
        "fence-1",
    )
    (node,) = fenced.nodes
    assert (node.fenced, node.fenced_by, node.identity_freed) == (
        True,
        FencedBy.STOPPED_BY_FERRY,
        IdentityFreed.OUT_OF_SERVICE_TAINT,
    )
    wait_until(world, lambda: world.inventory().instance_states("us-east-1c")["stopped"] >= 1)


def test_bad_input_is_rejected_naming_every_wrong_field(evacuated) -> None:
    """The plan step refuses the input; the state machine ends in its InputRejected Fail state with the step's
    message (no report: nothing was planned or done)."""
    _, _, runs = evacuated
    runbooks: Runbooks = runs["runbooks"]
    execution = runbooks.run("EvacuateZone", {"zone": "mars-1a", "dryRun": "yes"}, "evacuate-bad")

    assert planned(runbooks, "evacuate-bad") is None
    assert not [r for r in runbooks.sandbox.task_runs if r.run_id == "evacuate-bad" and r.function != "runbook-plan"]
    assert (execution.status, execution.error) == ("FAILED", "InputError")
    assert all(field in (execution.cause or "") for field in ("reason: required", "zone:", "dryRun:"))
