"""The snapshot-schedule function as EventBridge calls it (the real handler through the sandbox's Lambda
runtime, on the sandbox's moto and a sandbox Kubernetes cluster): it snapshots a pet's volume only when the
newest snapshot would be older than the RPO before the next run, prunes only the snapshots it tagged itself,
and in observe mode takes none.

The world is the re-homing drill's (tests/e2e/rehoming_world.py): StatefulSet shop/db with `ferry.io/max-rpo:
15m`, three pets, each volume with a Ferry-managed (not scheduled) snapshot seeded a moment ago. moto stamps
snapshots with wall-clock time while the world's clock is moved forward, so advancing the world by 11 minutes
ages every existing snapshot by 11 minutes (over the 15-minute RPO minus the 5-minute period)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.lambdas import LambdaRuntime
from sandbox.world import World
from tests.conftest import load_event
from tests.e2e.rehoming_world import drill_world

pytestmark = [
    pytest.mark.xdist_group("rehoming-drill"),  # one sandbox world per process at a time
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

AGED = 660  # seconds: older than 15m RPO - 5m period, younger than the RPO itself


@pytest.fixture
def world() -> Iterator[World]:
    started = drill_world()
    try:
        yield started
    finally:
        started.stop()


def schedule(world: World, *, mode: str = "act", retention: int | None = None) -> Any:
    extra = {"FERRY_SNAPSHOT_RETENTION": str(retention)} if retention is not None else {}
    lambdas = LambdaRuntime(  # as tests.e2e.rehoming_world.runtime, plus what the stack would set
        account_id=world.aws.account_id,
        endpoint_url=world.aws.endpoint_url,
        table=world.aws.names.table,
        topic_arn=world.aws.topic_arn,
        mode=mode,
        clock=world.clock.now,
        stack_variables=lambda _: extra,
    )

    def run() -> dict[str, Any]:
        invocation = lambdas.invoke("snapshot-schedule", load_event("scheduled-event"))
        assert invocation.ok, invocation.error
        return dict(invocation.result)

    return run


def snapshots(world: World) -> dict[str, dict[str, str]]:
    return {s.id: dict(s.tags) for s in world.inventory().snapshots}


def age(world: World, seconds: float = AGED) -> None:
    world.advance_to(world.offset() + seconds)


def test_a_snapshot_is_taken_only_when_the_newest_is_older_than_the_rpo_allows(world: World) -> None:
    run = schedule(world)
    volumes = {p.volume_id for p in world.pets()}

    fresh = run()
    assert (fresh["volumes"], fresh["taken"], fresh["atRisk"]) == (3, [], [])  # seeded a moment ago

    age(world, 540)  # 9 minutes: still fresh enough to last until the next run (15m RPO - 5m period)
    young = run()
    assert (young["taken"], young["pruned"], young["atRisk"]) == ([], [], [])

    age(world, AGED - 540)  # 11 minutes: it would be older than the RPO before the next run
    due = run()
    assert len(due["taken"]) == 3 and due["failed"] == [] and due["pruned"] == []
    made = {s.id: s for s in world.inventory().snapshots if s.id in due["taken"]}
    assert {s.volume_id for s in made.values()} == volumes  # one per pet volume
    for snapshot in made.values():
        assert snapshot.tags["ferry:managed"] == "true" and snapshot.tags["ferry:schedule"]
        assert snapshot.tags["ferry:pet"].startswith("shop/data-db-") and snapshot.tags["ferry:cluster"] == "east-1"


def test_only_the_schedules_own_snapshots_are_ever_pruned(world: World) -> None:
    ec2 = world.aws.client("ec2")
    users = {
        ec2.create_snapshot(VolumeId=pet.volume_id, Description="a user's own backup")["SnapshotId"]
        for pet in world.pets()
    }
    tagged_by_user = ec2.create_snapshot(
        VolumeId=world.pets()[0].volume_id,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "ferry:managed", "Value": "true"}]}],
    )["SnapshotId"]
    seeded = set(world.snapshots.values())  # Ferry-managed, but not the schedule's
    untouchable = users | seeded | {tagged_by_user}
    run = schedule(world, retention=1)

    taken: list[str] = []
    pruned: list[str] = []
    for _ in range(3):
        age(world)
        ran = run()
        assert len(ran["taken"]) == 3
        taken += ran["taken"]
        pruned += ran["pruned"]

    left = snapshots(world)
    assert untouchable <= set(left)  # never deleted, however old and however many
    assert pruned and set(pruned) <= set(taken) and not set(pruned) & set(left)
    # Retention (1) is applied to the snapshots a round finds, before it takes its own: after three rounds,
    # each volume keeps the newest of the first two rounds' plus the third round's.
    assert len(pruned) == 3
    kept = [s for s in taken if s in left]
    assert len(kept) == 6 and all(left[s]["ferry:schedule"] for s in kept)
    per_volume = {s.volume_id: 0 for s in world.inventory().snapshots}
    for snapshot in world.inventory().snapshots:
        if snapshot.id in kept:
            per_volume[snapshot.volume_id] += 1
    assert sorted(n for n in per_volume.values() if n) == [2, 2, 2]


def test_observe_mode_takes_and_prunes_nothing(world: World) -> None:
    before = snapshots(world)
    age(world)

    watched = schedule(world, mode="observe", retention=1)()

    assert watched["observeMode"] is True
    assert len(watched["wouldTake"]) == 3 and "taken" not in watched
    assert snapshots(world) == before
