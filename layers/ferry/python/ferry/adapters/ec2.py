"""What EC2 knows about Ferry's instances, volumes and zones.

An EC2 state-change event names an instance but no zone or cluster; an AWS Health issue lists instances or
volumes; an ARC zonal shift or a Health description names a zone id (use1-az1) but Kubernetes labels speak
zone names (us-east-1a). This adapter answers all three with batched describes. The zone map is the
account's own (a zone id maps to a different name in each account; no suffix can be assumed): fetched on
first need, not at cold start, and cached for the life of the container (it never changes within a region).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.conventions import CLUSTER_TAG
from ferry.domain.errors import NotFound

FILTER_VALUES_LIMIT = 200  # EC2 accepts at most 200 values in one filter
_K8S_CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"


@dataclass(frozen=True, slots=True)
class InstanceLocation:
    """Where EC2 says an instance is: its zone, its cluster (from Ferry's cluster tag) and its state."""

    instance_id: str
    zone: str
    cluster: str | None
    state: str


def cluster_from_tags(tags: Iterable[dict[str, str]]) -> str | None:
    by_key = {tag["Key"]: tag.get("Value", "") for tag in tags}
    if by_key.get(CLUSTER_TAG):
        return by_key[CLUSTER_TAG]
    for key in by_key:
        if key.startswith(_K8S_CLUSTER_TAG_PREFIX):
            return key.removeprefix(_K8S_CLUSTER_TAG_PREFIX)
    return None


class InstanceDirectory:
    """Looks up instances and zones through an EC2 client (passed in; a `LazyClient` keeps it off the
    cold start of a function that rarely needs it)."""

    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2
        self._zone_names: dict[str, str] | None = None

    def locate(self, instance_ids: Iterable[str]) -> dict[str, InstanceLocation]:
        """Zone, cluster and state of each instance EC2 still knows; unknown ids are simply absent."""
        ids = sorted(set(instance_ids))
        found: dict[str, InstanceLocation] = {}
        if not ids:
            return found
        try:
            pages = (
                page
                for start in range(0, len(ids), FILTER_VALUES_LIMIT)
                for page in self._ec2.get_paginator("describe_instances").paginate(
                    Filters=[{"Name": "instance-id", "Values": ids[start : start + FILTER_VALUES_LIMIT]}]
                )
            )
            for page in pages:
                for reservation in page["Reservations"]:
                    for instance in reservation["Instances"]:
                        found[instance["InstanceId"]] = InstanceLocation(
                            instance_id=instance["InstanceId"],
                            zone=instance["Placement"]["AvailabilityZone"],
                            cluster=cluster_from_tags(instance.get("Tags", [])),
                            state=instance["State"]["Name"],
                        )
        except (ClientError, BotoCoreError) as error:
            translated = translate_error(error)
            if isinstance(translated, NotFound):
                return found
            raise translated from error
        return found

    def locate_volumes(self, volume_ids: Iterable[str]) -> dict[str, str]:
        """The zone of each EBS volume EC2 still knows; unknown ids are simply absent."""
        ids = sorted(set(volume_ids))
        found: dict[str, str] = {}
        try:
            for start in range(0, len(ids), FILTER_VALUES_LIMIT):
                pages = self._ec2.get_paginator("describe_volumes").paginate(
                    Filters=[{"Name": "volume-id", "Values": ids[start : start + FILTER_VALUES_LIMIT]}]
                )
                for page in pages:
                    found.update({volume["VolumeId"]: volume["AvailabilityZone"] for volume in page["Volumes"]})
        except (ClientError, BotoCoreError) as error:
            translated = translate_error(error)
            if isinstance(translated, NotFound):
                return found
            raise translated from error
        return found

    def zone_name(self, zone_id: str) -> str | None:
        if self._zone_names is None:
            try:
                zones = self._ec2.describe_availability_zones(AllAvailabilityZones=False)["AvailabilityZones"]
            except (ClientError, BotoCoreError) as error:
                raise translate_error(error) from error
            self._zone_names = {zone["ZoneId"]: zone["ZoneName"] for zone in zones}
        return self._zone_names.get(zone_id)
