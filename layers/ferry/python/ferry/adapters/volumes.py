"""EBS volumes and snapshots: what a pet's data is, where it can be restored, and the snapshot schedule.

Ferry creates volumes (from snapshots, with a client token and its tags) and snapshots (its schedule's), and
tags old volumes with where their pet went. It deletes only snapshots its own schedule made, checked here
against the snapshot's tags right before the call, whatever the caller believes. It never deletes a volume:
this module has no such call, and a test fails if any module of the package gains one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.adapters.batching import describe_in_batches
from ferry.domain.conventions import REHOMED_TO_TAG, SCHEDULE_TAG  # only snapshots with SCHEDULE_TAG are deleted
from ferry.domain.errors import NotFound
from ferry.domain.rehoming.inventory import EbsSnapshot, EbsVolume


def _tags(raw: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in raw or ()}


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def volume_from(raw: Mapping[str, Any]) -> EbsVolume:
    return EbsVolume(
        volume_id=raw["VolumeId"],
        zone=raw["AvailabilityZone"],
        state=raw.get("State", "unknown"),
        volume_type=raw.get("VolumeType", "gp3"),
        size_gib=int(raw.get("Size", 0)),
        iops=raw.get("Iops"),
        throughput=raw.get("Throughput"),
        encrypted=bool(raw.get("Encrypted", False)),
        kms_key_id=raw.get("KmsKeyId"),
        tags=_tags(raw.get("Tags")),
    )


def snapshot_from(raw: Mapping[str, Any]) -> EbsSnapshot:
    started = raw.get("StartTime") or datetime.fromtimestamp(0, UTC)
    if isinstance(started, str):
        started = datetime.fromisoformat(started.replace("Z", "+00:00"))
    return EbsSnapshot(
        snapshot_id=raw["SnapshotId"],
        volume_id=raw.get("VolumeId", ""),
        state=raw.get("State", "unknown"),
        started_at=started if started.tzinfo else started.replace(tzinfo=UTC),
        tags=_tags(raw.get("Tags")),
    )


class Volumes:
    """EBS through an EC2 client (passed in)."""

    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2

    def _pages(self, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        try:
            for page in self._ec2.get_paginator(operation).paginate(**kwargs):
                found += page[key]
        except (ClientError, BotoCoreError) as error:
            translated = translate_error(error)
            if isinstance(translated, NotFound):
                return found
            raise translated from error
        return found

    # --- reading -----------------------------------------------------------------------------------------------

    def describe(self, volume_ids: Iterable[str]) -> dict[str, EbsVolume]:
        """The volumes EC2 describes; one it cannot (its zone's API failing) is absent, never guessed."""

        def batch(ids: list[str]) -> dict[str, EbsVolume]:
            raw = self._pages("describe_volumes", "Volumes", Filters=[{"Name": "volume-id", "Values": ids}])
            return {v["VolumeId"]: volume_from(v) for v in raw}

        return describe_in_batches(volume_ids, batch)

    def snapshots_of(self, volume_ids: Iterable[str]) -> dict[str, tuple[EbsSnapshot, ...]]:
        """This account's snapshots of each volume (any state, anyone's: the schedule's or the owner's)."""

        def batch(ids: list[str]) -> dict[str, list[EbsSnapshot]]:
            raw = self._pages(
                "describe_snapshots",
                "Snapshots",
                OwnerIds=["self"],
                Filters=[{"Name": "volume-id", "Values": ids}],
            )
            grouped: dict[str, list[EbsSnapshot]] = {i: [] for i in ids}
            for item in raw:
                grouped.setdefault(item.get("VolumeId", ""), []).append(snapshot_from(item))
            return grouped

        found = describe_in_batches(volume_ids, batch)
        return {volume: tuple(sorted(snaps, key=lambda s: s.started_at)) for volume, snaps in found.items()}

    def find_tagged(self, tags: Mapping[str, str]) -> list[EbsVolume]:
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in sorted(tags.items())]
        return sorted(
            (volume_from(v) for v in self._pages("describe_volumes", "Volumes", Filters=filters)),
            key=lambda v: v.volume_id,
        )

    def rehomed_from(self, zone: str) -> dict[str, str]:
        """New volume -> old volume, for every old volume in `zone` that Ferry tagged with where its pet went
        (`ferry:rehomed-to`): what failback reports as pets living away from their zone."""
        filters = [{"Name": "availability-zone", "Values": [zone]}, {"Name": "tag-key", "Values": [REHOMED_TO_TAG]}]
        found = (volume_from(v) for v in self._pages("describe_volumes", "Volumes", Filters=filters))
        return {v.tags[REHOMED_TO_TAG]: v.volume_id for v in found if v.tags.get(REHOMED_TO_TAG)}

    # --- re-homing ---------------------------------------------------------------------------------------------

    def create_from_snapshot(
        self,
        *,
        snapshot_id: str,
        zone: str,
        volume_type: str,
        size_gib: int,
        tags: Mapping[str, str],
        client_token: str,
        identity: Mapping[str, str],
        iops: int | None = None,
        throughput: int | None = None,
        encrypted: bool = False,
        kms_key_id: str | None = None,
    ) -> EbsVolume:
        """The volume for this restore: the one already made (found by its `identity` tags, so a replay
        or a second executor gets the same volume), or a new one. The client token makes EC2 itself return
        the same volume for a retried request whose answer was lost."""
        existing = self.find_tagged(identity)
        if existing:
            return existing[0]
        request: dict[str, Any] = {
            "AvailabilityZone": zone,
            "SnapshotId": snapshot_id,
            "VolumeType": volume_type,
            "Size": size_gib,
            "ClientToken": client_token,
            "TagSpecifications": [{"ResourceType": "volume", "Tags": _tag_list({**tags, **identity})}],
        }
        if iops:
            request["Iops"] = iops
        if throughput:
            request["Throughput"] = throughput
        if encrypted:
            request["Encrypted"] = True
            if kms_key_id:
                request["KmsKeyId"] = kms_key_id
        try:
            return volume_from(self._ec2.create_volume(**request))
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    def tag(self, resource_id: str, tags: Mapping[str, str]) -> None:
        try:
            self._ec2.create_tags(Resources=[resource_id], Tags=_tag_list(tags))
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    # --- the snapshot schedule ---------------------------------------------------------------------------------

    def create_snapshot(self, volume_id: str, tags: Mapping[str, str], description: str) -> EbsSnapshot:
        try:
            raw = self._ec2.create_snapshot(
                VolumeId=volume_id,
                Description=description[:255],
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": _tag_list(tags)}],
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        return snapshot_from(raw)

    def delete_scheduled_snapshot(self, snapshot_id: str) -> bool:
        """Delete a snapshot only if it carries the schedule's tag (read now, from EC2); False otherwise."""
        raw = self._pages("describe_snapshots", "Snapshots", SnapshotIds=[snapshot_id], OwnerIds=["self"])
        if not raw or SCHEDULE_TAG not in _tags(raw[0].get("Tags")):
            return False
        try:
            self._ec2.delete_snapshot(SnapshotId=snapshot_id)
        except (ClientError, BotoCoreError) as error:
            translated = translate_error(error)
            if isinstance(translated, NotFound):
                return False
            raise translated from error
        return True
