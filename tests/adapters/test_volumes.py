"""EBS on moto: restores shaped like the old volume and made once, snapshots found per volume, and deletes
limited to the schedule's own snapshots. Also: no module of the Ferry package can delete a volume."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from ferry.adapters.volumes import Volumes

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "ferry" / "python" / "ferry"


@pytest.fixture
def ec2(aws: Any) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def volume(ec2: Any, zone: str = "us-east-1a", **tags: str) -> str:
    spec = [{"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    made = ec2.create_volume(
        AvailabilityZone=zone, Size=10, VolumeType="gp3", Iops=4000, Throughput=250, TagSpecifications=spec
    )
    return str(made["VolumeId"])


def snapshot(ec2: Any, volume_id: str, **tags: str) -> str:
    spec = [{"ResourceType": "snapshot", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    return str(ec2.create_snapshot(VolumeId=volume_id, TagSpecifications=spec)["SnapshotId"])


def test_no_module_of_ferry_deletes_a_volume() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\bdelete_volume\b|\bDeleteVolume\b", line)
    ]
    assert offenders == []


def test_volumes_and_their_snapshots_are_read_per_volume(ec2: Any) -> None:
    first, second = volume(ec2, team="shop"), volume(ec2, "us-east-1b")
    older, newer = snapshot(ec2, first), snapshot(ec2, first, **{"ferry:schedule": "x"})
    volumes = Volumes(ec2)

    described = volumes.describe([first, second, "vol-0000000000000000f"])
    snapshots = volumes.snapshots_of([first, second])

    assert sorted(described) == sorted([first, second])
    assert (described[first].zone, described[first].volume_type, described[first].size_gib) == ("us-east-1a", "gp3", 10)
    assert described[first].tags == {"team": "shop"}
    assert [s.snapshot_id for s in snapshots[first]] == [older, newer] and snapshots[second] == ()
    assert all(s.completed for s in snapshots[first])


def test_a_restore_is_shaped_like_the_old_volume_and_made_once(ec2: Any) -> None:
    source = snapshot(ec2, volume(ec2))
    sent: list[dict[str, Any]] = []
    ec2.meta.events.register("provide-client-params.ec2.CreateVolume", lambda params, **_: sent.append(params))
    volumes = Volumes(ec2)
    restore = {
        "snapshot_id": source,
        "zone": "us-east-1b",
        "volume_type": "gp3",
        "size_gib": 10,
        "iops": 4000,
        "throughput": 250,
        "tags": {"team": "shop", "ferry:managed": "true"},
        "client_token": "token-1",
        "identity": {"ferry:run": "run-1", "ferry:pet": "shop/data-db-0"},
    }

    made = volumes.create_from_snapshot(**restore)
    again = volumes.create_from_snapshot(**restore)

    assert again.volume_id == made.volume_id
    assert len(sent) == 1 and sent[0]["ClientToken"] == "token-1" and sent[0]["SnapshotId"] == source
    assert (sent[0]["Iops"], sent[0]["Throughput"], sent[0]["AvailabilityZone"]) == (4000, 250, "us-east-1b")
    stored = volumes.describe([made.volume_id])[made.volume_id]
    assert stored.zone == "us-east-1b"
    wanted = {"team": "shop", "ferry:managed": "true", "ferry:run": "run-1", "ferry:pet": "shop/data-db-0"}
    assert wanted.items() <= dict(stored.tags).items()


def test_an_encrypted_volume_is_restored_encrypted_with_its_key(ec2: Any) -> None:
    sent: list[dict[str, Any]] = []
    ec2.meta.events.register("provide-client-params.ec2.CreateVolume", lambda params, **_: sent.append(params))
    Volumes(ec2).create_from_snapshot(
        snapshot_id=snapshot(ec2, volume(ec2)),
        zone="us-east-1c",
        volume_type="gp2",
        size_gib=10,
        encrypted=True,
        kms_key_id="arn:aws:kms:us-east-1:123456789012:key/1",
        tags={},
        client_token="t",
        identity={"ferry:run": "r", "ferry:pet": "p"},
    )
    assert (sent[-1]["Encrypted"], sent[-1]["KmsKeyId"]) == (True, "arn:aws:kms:us-east-1:123456789012:key/1")
    assert "Iops" not in sent[-1] and "Throughput" not in sent[-1]


def test_only_the_schedules_own_snapshots_can_be_deleted(ec2: Any) -> None:
    source = volume(ec2)
    users = snapshot(ec2, source)
    rehoming = snapshot(ec2, source, **{"ferry:managed": "true"})
    scheduled = Volumes(ec2).create_snapshot(source, {"ferry:schedule": "max-rpo-900s", "ferry:managed": "true"}, "x")
    volumes = Volumes(ec2)

    assert not volumes.delete_scheduled_snapshot(users)
    assert not volumes.delete_scheduled_snapshot(rehoming)
    assert volumes.delete_scheduled_snapshot(scheduled.snapshot_id)
    assert not volumes.delete_scheduled_snapshot(scheduled.snapshot_id)  # gone already
    assert sorted(s.snapshot_id for s in volumes.snapshots_of([source])[source]) == sorted([users, rehoming])


def test_tagging_the_old_volume_keeps_it(ec2: Any) -> None:
    old = volume(ec2)
    Volumes(ec2).tag(old, {"ferry:rehomed-to": "vol-0123"})
    assert Volumes(ec2).describe([old])[old].tags["ferry:rehomed-to"] == "vol-0123"
