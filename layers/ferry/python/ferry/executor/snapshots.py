"""Carrying out the snapshot schedule's decision: take and prune snapshots in act mode, nothing in observe mode.

`ferry.services.snapshotting` finds the pets and decides (`ferry.domain.rehoming.schedules`); this takes the
snapshots the decision asks for and prunes the schedule's own beyond retention (`Volumes` re-checks the
schedule's tag on each snapshot before it deletes it). One snapshot that cannot be taken costs that volume
this round, not the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry.adapters.volumes import Volumes
from ferry.domain.errors import FerryError
from ferry.domain.modes import Mode
from ferry.domain.rehoming.schedules import ScheduleDecision
from ferry.executor import may_act


@dataclass(frozen=True, slots=True)
class SnapshotsDone:
    """What a round did: `acted` is False in observe mode, when nothing was taken or pruned."""

    acted: bool
    taken: tuple[str, ...] = ()
    pruned: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # "<volume>: <error>" for each snapshot that could not be taken


class SnapshotTaker:
    def __init__(self, mode: Mode, *, volumes: Volumes) -> None:
        self._mode = mode
        self._volumes = volumes

    def carry_out(self, decision: ScheduleDecision) -> SnapshotsDone:
        if not may_act(self._mode):
            return SnapshotsDone(acted=False)
        taken, failed = [], []
        for take in decision.take:
            try:
                made = self._volumes.create_snapshot(
                    take.volume.volume_id, take.tags(), f"ferry scheduled snapshot of {take.volume.pet}"
                )
                taken.append(made.snapshot_id)
            except FerryError as error:
                failed.append(f"{take.volume.volume_id}: {error}")
        pruned = [p.snapshot_id for p in decision.prune if self._volumes.delete_scheduled_snapshot(p.snapshot_id)]
        return SnapshotsDone(acted=True, taken=tuple(taken), pruned=tuple(pruned), failed=tuple(failed))
