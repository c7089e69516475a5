"""Which snapshots the schedule takes and which it prunes (pure).

A pet's RPO is set before anything fails: `ferry.io/max-rpo` says how old its newest snapshot may be. The
schedule runs every `period`; a volume gets a new snapshot when its newest completed one would be older
than the RPO before the next run (newer than `max_rpo - period` is fresh enough), unless one is already in
progress. Pruning touches only snapshots carrying `ferry:schedule` (the schedule's own), keeping the newest
`retention` of each volume (counting the one taken in the same run): a user's snapshot, a pending one, or
Ferry's re-homing snapshots are never pruned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ferry.domain.conventions import CLUSTER_TAG, MANAGED_TAG, MANAGED_VALUE, PET_TAG, SCHEDULE_TAG
from ferry.domain.rehoming.inventory import EbsSnapshot
from ferry.domain.rehoming.planner import newest_completed


@dataclass(frozen=True, slots=True)
class ScheduledVolume:
    cluster: str
    namespace: str
    claim: str
    volume_id: str
    max_rpo: timedelta
    snapshots: tuple[EbsSnapshot, ...] = ()

    @property
    def pet(self) -> str:
        return f"{self.namespace}/{self.claim}"


@dataclass(frozen=True, slots=True)
class Take:
    volume: ScheduledVolume
    age: timedelta | None  # of the newest completed snapshot; None when there is none

    def tags(self) -> dict[str, str]:
        return {
            MANAGED_TAG: MANAGED_VALUE,
            CLUSTER_TAG: self.volume.cluster,
            PET_TAG: self.volume.pet,
            SCHEDULE_TAG: f"max-rpo-{int(self.volume.max_rpo.total_seconds())}s",
        }


@dataclass(frozen=True, slots=True)
class Prune:
    snapshot_id: str
    volume_id: str


@dataclass(frozen=True, slots=True)
class AtRisk:
    """A pet that would lose more than its RPO if it failed now."""

    volume: ScheduledVolume
    age: timedelta | None


@dataclass(frozen=True, slots=True)
class ScheduleDecision:
    take: tuple[Take, ...]
    prune: tuple[Prune, ...]
    at_risk: tuple[AtRisk, ...]


def decide(volumes: Iterable[ScheduledVolume], now: datetime, period: timedelta, retention: int) -> ScheduleDecision:
    take: list[Take] = []
    prune: list[Prune] = []
    at_risk: list[AtRisk] = []
    for volume in sorted(volumes, key=lambda v: v.volume_id):
        newest = newest_completed(volume.snapshots)
        age = now - newest.started_at if newest else None
        in_progress = any(s.state == "pending" for s in volume.snapshots)
        taking = (age is None or age >= volume.max_rpo - period) and not in_progress
        if taking:
            take.append(Take(volume, age))
        if age is None or age > volume.max_rpo:
            at_risk.append(AtRisk(volume, age))
        own = sorted(
            (s for s in volume.snapshots if SCHEDULE_TAG in s.tags and s.completed),
            key=lambda s: (s.started_at, s.snapshot_id),
            reverse=True,
        )
        keep = max(1, retention - 1 if taking else retention)  # the one taken now counts towards retention
        prune += [Prune(s.snapshot_id, volume.volume_id) for s in own[keep:]]
    return ScheduleDecision(tuple(take), tuple(prune), tuple(at_risk))
