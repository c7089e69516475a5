"""The probe remembers where the pets' volumes are, and ingest places an AWS Health volume issue with it (issue
13): on the sandbox, one probe round writes every pet's EBS volume with its zone (from the PVs' CSI
volumeHandle and zone affinity) beside the nodes' instances; a Health EBS issue naming only a pet's volume then
impairs that volume's zone, placed from what the probe remembered, without asking EC2."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sandbox.world import World
from tests.conftest import load_event
from tests.e2e.rehoming_world import drill_world

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # one sandbox world per process at a time


@pytest.fixture
def world() -> Iterator[World]:
    started = drill_world()
    try:
        yield started
    finally:
        started.stop()


def volume_placements(world: World) -> dict[str, tuple[str, str, str]]:
    items = world.aws.client("dynamodb").scan(TableName=world.aws.names.table)["Items"]
    return {
        i["volume_id"]["S"]: (i["zone"]["S"], i["cluster"]["S"], i["pv"]["S"])
        for i in items
        if i["pk"]["S"].startswith("VOLUME#")
    }


def test_a_probe_round_remembers_each_pets_volume_and_ingest_places_a_volume_issue_with_it(world: World) -> None:
    pets = [p for p in world.pets() if p.volume_id]
    assert pets

    probe = world.invoke("probe", world.events.scheduled("ferry-probe-every-minute", world.clock.now()))
    assert probe.ok, probe.error

    placed = volume_placements(world)
    assert {p.volume_id: (p.zone, p.cluster) for p in pets} == {
        v: (zone, cluster) for v, (zone, cluster, _) in placed.items() if v in {p.volume_id for p in pets}
    }
    for volume, (_, cluster, pv) in placed.items():  # each names the PersistentVolume holding that volume
        assert (world.clusters[cluster].get("PersistentVolume", pv) or {})["spec"]["csi"]["volumeHandle"] == volume

    pet = next(p for p in pets if p.zone == "us-east-1b")
    event = load_event("health-ebs-volume-issue")
    event["time"] = (world.clock.now() - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"]["affectedEntities"] = [{"entityValue": pet.volume_id}]
    event["resources"] = [pet.volume_id]
    ec2_before = world.aws.proxy.requests["ec2"]

    world.aws.put_events([event])
    world.deliver_events()

    (signal,) = [s for s in world.table_items("SIGNAL#us-east-1b") if s["kind"] == "health-issue"]
    assert signal["evidence"]["zoneFrom"] == "affectedResources"
    assert (world.zone_state("us-east-1b") or {}).get("status") == "impaired"
    assert world.aws.proxy.requests["ec2"] == ec2_before, "placed from the probe's record, EC2 not asked"
