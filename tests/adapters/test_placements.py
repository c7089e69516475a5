"""Placements on moto: the probe's record of where nodes' instances and pets' volumes are, read back by id in
batches; a placement is written again only when it changed (a steady fleet costs no writes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ferry.adapters.placements import Placement, Placements, VolumePlacement
from tests.adapters.conftest import FerryTable

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_instances_and_volumes_are_read_back_by_id_each_under_its_own_key(moto_table: FerryTable) -> None:
    placements = Placements(moto_table.client, moto_table.name)
    node = Placement(instance_id="i-0a1b2c3d4e5f60718", zone="us-east-1a", cluster="east-1", node="w-a-1")
    volumes = [
        VolumePlacement(volume_id=f"vol-0{n:016x}", zone="us-east-1b", cluster="east-1", pv=f"pvc-{n}")
        for n in range(130)  # more than one BatchGetItem's hundred keys
    ]

    assert placements.remember([node, *volumes], now=NOW) == 131

    assert placements.lookup(["i-0a1b2c3d4e5f60718", "vol-00000000000000000"]) == {node.instance_id: node}
    found = placements.lookup_volumes([v.volume_id for v in volumes] + ["vol-0ffffffffffffffff", node.instance_id])
    assert found == {v.volume_id: v for v in volumes}


def test_an_unchanged_placement_is_not_written_again_a_moved_one_is(moto_table: FerryTable) -> None:
    placements = Placements(moto_table.client, moto_table.name)
    volume = VolumePlacement(volume_id="vol-0123456789abcdef0", zone="us-east-1a", cluster="east-1", pv="pvc-1")
    placements.remember([volume], now=NOW)

    assert placements.remember([volume], now=NOW + timedelta(minutes=1)) == 0
    moved = VolumePlacement(volume_id=volume.volume_id, zone="us-east-1c", cluster="east-1", pv="pv-restored")
    assert placements.remember([moved], now=NOW + timedelta(minutes=2)) == 1
    assert placements.lookup_volumes([volume.volume_id]) == {volume.volume_id: moved}
