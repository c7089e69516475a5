"""Splitting a batch by the state it is decided against: a watched region's zones together (zone-less signals
too, they let time pass), a registered cluster's control plane, other regions left out, a policy without
zones refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ferry.domain.detection import DetectionPolicy
from ferry.domain.detection.batches import ControlPlaneBatch, RegionBatch, split_batch, watched_zones
from ferry.domain.errors import ConfigError
from ferry.domain.signals import Signal, SignalKind, Source

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
POLICY = DetectionPolicy(zones=("us-west-2a", "us-west-2b", "us-east-1a", "us-east-1b", "us-east-1c"))


def signal(sid: str, kind: SignalKind, region: str, zone: str | None = None, cluster: str | None = None) -> Signal:
    return Signal(
        kind=kind, source=Source.PROBE, source_id=sid, observed_at=T0, region=region, zone=zone, cluster=cluster
    )


def test_a_batch_is_split_per_watched_region_then_per_cluster_each_in_name_order() -> None:
    west = signal("w", SignalKind.NODES_NOT_READY, "us-west-2", "us-west-2a", "west-1")
    tick = signal("t", SignalKind.SCHEDULE_TICK, "us-east-1")
    east = signal("e", SignalKind.API_UNREACHABLE, "us-east-1", cluster="east-1")
    foreign = signal("f", SignalKind.HEALTH_ISSUE, "eu-west-1", "eu-west-1a")
    api_west = signal("a", SignalKind.API_UNREACHABLE, "us-west-2", cluster="west-1")

    batches = split_batch([west, tick, east, foreign, api_west], POLICY)

    assert batches.regions == (
        RegionBatch("us-east-1", ("us-east-1a", "us-east-1b", "us-east-1c"), (tick, east)),
        RegionBatch("us-west-2", ("us-west-2a", "us-west-2b"), (west, api_west)),
    )
    assert batches.control_planes == (ControlPlaneBatch("east-1", (east,)), ControlPlaneBatch("west-1", (api_west,)))


@pytest.mark.parametrize(
    ("region", "zones"),
    [
        pytest.param("us-east-1", ("us-east-1a", "us-east-1b", "us-east-1c"), id="watched"),
        pytest.param("eu-west-1", (), id="not-watched"),
    ],
)
def test_the_watched_zones_of_a_region_are_the_policys(region: str, zones: tuple[str, ...]) -> None:
    assert watched_zones(region, POLICY) == zones


def test_a_policy_without_zones_fails_fast() -> None:
    with pytest.raises(ConfigError) as raised:
        split_batch([signal("h", SignalKind.HEALTH_ISSUE, "us-east-1", "us-east-1a")], DetectionPolicy())
    assert raised.value.setting == "zones"
