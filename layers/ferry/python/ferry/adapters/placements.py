"""Where each cluster node's instance and each pet's EBS volume lives, remembered in the Ferry table
(`INSTANCE#<id>` / `PLACEMENT` and `VOLUME#<id>` / `PLACEMENT`).

An EC2 state-change event names only an instance, an AWS Health issue only its instances or volumes. Asking EC2
where they are fails exactly when it matters most (a zone whose EC2 API is down) and costs ~140 ms of client
creation; the probe already knows every node's instance, zone and cluster from Kubernetes (the node's
providerID and labels), and every EBS-backed PersistentVolume's volume and zone (its CSI volumeHandle and zone
affinity), so it writes them here and ingest reads them back with one BatchGetItem per hundred. Writes happen
only when a placement is new or changed, or its TTL is a day from expiring, so a steady fleet costs no writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.adapters.batching import put_in_batches

RETENTION = timedelta(days=7)
_REFRESH = timedelta(days=1)
_SK = "PLACEMENT"


@dataclass(frozen=True, slots=True)
class Placement:
    """A node's instance."""

    instance_id: str
    zone: str
    cluster: str
    node: str

    @property
    def pk(self) -> str:
        return f"INSTANCE#{self.instance_id}"


@dataclass(frozen=True, slots=True)
class VolumePlacement:
    """An EBS volume behind one of a cluster's PersistentVolumes."""

    volume_id: str
    zone: str
    cluster: str
    pv: str

    @property
    def pk(self) -> str:
        return f"VOLUME#{self.volume_id}"


class Placements:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._written: dict[str, tuple[Placement | VolumePlacement, datetime]] = {}

    def remember(self, placements: Iterable[Placement | VolumePlacement], *, now: datetime) -> int:
        """Write the placements that are new, changed or due for a TTL refresh; return how many."""
        due = [
            p
            for p in placements
            if (seen := self._written.get(p.pk)) is None or seen[0] != p or now - seen[1] > _REFRESH
        ]
        put_in_batches(self._dynamodb, self._table, [self._item(p, now) for p in due])
        self._written.update({p.pk: (p, now) for p in due})
        return len(due)

    def lookup(self, instance_ids: Iterable[str]) -> dict[str, Placement]:
        """The placements of those instances the probe has seen."""
        found = self._get({f"INSTANCE#{i}" for i in instance_ids})
        return {
            p.instance_id: p
            for p in (
                Placement(
                    instance_id=i["instance_id"]["S"],
                    zone=i["zone"]["S"],
                    cluster=i["cluster"]["S"],
                    node=i["node"]["S"],
                )
                for i in found
            )
        }

    def lookup_volumes(self, volume_ids: Iterable[str]) -> dict[str, VolumePlacement]:
        """The placements of those volumes the probe has seen behind a PersistentVolume."""
        found = self._get({f"VOLUME#{v}" for v in volume_ids})
        return {
            p.volume_id: p
            for p in (
                VolumePlacement(
                    volume_id=i["volume_id"]["S"], zone=i["zone"]["S"], cluster=i["cluster"]["S"], pv=i["pv"]["S"]
                )
                for i in found
            )
        }

    def _get(self, pks: set[str]) -> list[dict[str, Any]]:
        ordered = sorted(pks)
        found: list[dict[str, Any]] = []
        for start in range(0, len(ordered), 100):
            keys = [{"pk": {"S": pk}, "sk": {"S": _SK}} for pk in ordered[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys}}
            while request:
                response = self._call("batch_get_item", RequestItems=request)
                found += response.get("Responses", {}).get(self._table, [])
                request = response.get("UnprocessedKeys") or {}
        return found

    def _item(self, placement: Placement | VolumePlacement, now: datetime) -> dict[str, Any]:
        fields = {name: {"S": value} for name, value in asdict(placement).items()}
        return {
            "pk": {"S": placement.pk},
            "sk": {"S": _SK},
            **fields,
            "expires_at": {"N": str(int((now + RETENTION).timestamp()))},
        }

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._dynamodb, operation)(**kwargs)
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
