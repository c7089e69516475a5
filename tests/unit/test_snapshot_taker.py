"""The snapshot schedule's executor with a fake EBS: observe mode takes and prunes nothing; in act mode a
snapshot that cannot be taken costs only its volume, and only what EC2 lets it delete counts as pruned."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from ferry.domain.errors import Unavailable
from ferry.domain.modes import Mode
from ferry.domain.rehoming.inventory import EbsSnapshot
from ferry.domain.rehoming.schedules import Prune, ScheduleDecision, ScheduledVolume, Take
from ferry.executor.snapshots import SnapshotsDone, SnapshotTaker

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@dataclass
class FakeVolumes:
    broken: set[str] = field(default_factory=set)  # volumes whose snapshot EC2 refuses
    scheduled: set[str] = field(default_factory=set)  # snapshots that carry the schedule's tag
    calls: list[str] = field(default_factory=list)

    def create_snapshot(self, volume_id: str, tags: dict[str, str], description: str) -> EbsSnapshot:
        self.calls.append(f"create {volume_id}")
        if volume_id in self.broken:
            raise Unavailable("InternalError: try again")
        return EbsSnapshot(f"snap-of-{volume_id}", volume_id, "pending", NOW, tags)

    def delete_scheduled_snapshot(self, snapshot_id: str) -> bool:
        self.calls.append(f"delete {snapshot_id}")
        return snapshot_id in self.scheduled


def decision() -> ScheduleDecision:
    def take(volume_id: str) -> Take:
        return Take(ScheduledVolume("east-1", "shop", f"data-{volume_id}", volume_id, timedelta(minutes=15)), None)

    return ScheduleDecision(
        take=(take("vol-1"), take("vol-2")),
        prune=(Prune("snap-old", "vol-1"), Prune("snap-users", "vol-2")),
        at_risk=(),
    )


def taker(mode: Mode, volumes: FakeVolumes) -> SnapshotTaker:
    return SnapshotTaker(mode, volumes=volumes)  # type: ignore[arg-type]


def test_observe_mode_takes_and_prunes_nothing() -> None:
    volumes = FakeVolumes(scheduled={"snap-old"})

    done = taker(Mode.OBSERVE, volumes).carry_out(decision())

    assert done == SnapshotsDone(acted=False)
    assert volumes.calls == []


@pytest.mark.parametrize(
    ("broken", "taken", "failed"),
    [
        pytest.param(set(), ("snap-of-vol-1", "snap-of-vol-2"), (), id="all-taken"),
        pytest.param({"vol-1"}, ("snap-of-vol-2",), ("vol-1: InternalError: try again",), id="one-volume-fails"),
    ],
)
def test_act_mode_takes_what_it_can_and_prunes_only_the_schedules_own(
    broken: set[str], taken: tuple[str, ...], failed: tuple[str, ...]
) -> None:
    volumes = FakeVolumes(broken=broken, scheduled={"snap-old"})

    done = taker(Mode.ACT, volumes).carry_out(decision())

    assert done == SnapshotsDone(acted=True, taken=taken, pruned=("snap-old",), failed=failed)
    assert volumes.calls[-2:] == ["delete snap-old", "delete snap-users"], "a failed take does not stop pruning"
