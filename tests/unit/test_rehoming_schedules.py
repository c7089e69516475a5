"""The snapshot schedule's decision: snapshot before the RPO runs out, one at a time, prune only its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ferry.domain.rehoming.inventory import EbsSnapshot
from ferry.domain.rehoming.schedules import SCHEDULE_TAG, ScheduledVolume, decide
from tests.unit.rehoming_builders import NOW

PERIOD = timedelta(minutes=5)
RPO = timedelta(minutes=15)


def snap(name: str, age_minutes: float, *, state: str = "completed", own: bool = True) -> EbsSnapshot:
    tags = {SCHEDULE_TAG: "max-rpo-900s"} if own else {}
    return EbsSnapshot(name, "vol-1", state, NOW - timedelta(minutes=age_minutes), tags)


def pet(*snapshots: EbsSnapshot) -> ScheduledVolume:
    return ScheduledVolume("east-1", "shop", "data-db-0", "vol-1", RPO, snapshots)


@pytest.mark.parametrize(
    ("snapshots", "take", "at_risk"),
    [
        pytest.param((), True, True, id="never-snapshotted"),
        pytest.param((snap("s1", 3),), False, False, id="fresh-enough"),
        pytest.param((snap("s1", 10),), True, False, id="would-be-too-old-by-the-next-run"),
        pytest.param((snap("s1", 20),), True, True, id="already-too-old"),
        pytest.param((snap("s1", 20), snap("s2", 1, state="pending")), False, True, id="one-in-progress"),
        pytest.param((snap("s1", 3, own=False),), False, False, id="the-users-snapshot-counts"),
    ],
)
def test_when_to_take_a_snapshot(snapshots: tuple[EbsSnapshot, ...], take: bool, at_risk: bool) -> None:
    decision = decide([pet(*snapshots)], NOW, PERIOD, retention=7)

    assert bool(decision.take) is take
    assert bool(decision.at_risk) is at_risk


def test_what_is_taken_is_tagged_as_the_schedules_own() -> None:
    (take,) = decide([pet()], NOW, PERIOD, retention=7).take
    assert take.tags() == {
        "ferry:managed": "true",
        "ferry:cluster": "east-1",
        "ferry:pet": "shop/data-db-0",
        SCHEDULE_TAG: "max-rpo-900s",
    }


def test_only_the_schedules_own_completed_snapshots_beyond_retention_are_pruned() -> None:
    own = [snap(f"own-{n}", 5 * n + 1) for n in range(5)]
    others = [snap("user", 500, own=False), snap("pending", 600, state="pending")]

    decision = decide([pet(*own, *others)], NOW, PERIOD, retention=3)

    assert [p.snapshot_id for p in decision.prune] == ["own-3", "own-4"]


def test_the_snapshot_taken_now_counts_towards_retention() -> None:
    own = [snap(f"own-{n}", 12 + 15 * n) for n in range(7)]

    decision = decide([pet(*own)], NOW, PERIOD, retention=7)

    assert len(decision.take) == 1 and [p.snapshot_id for p in decision.prune] == ["own-6"]
