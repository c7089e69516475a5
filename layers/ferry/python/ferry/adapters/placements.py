"""Where each cluster node's instance lives, remembered in the Ferry table (`INSTANCE#<id>` / `PLACEMENT`).

An EC2 state-change event names only an instance. Asking EC2 where it is fails exactly when it matters most
(a zone whose EC2 API is down) and costs ~140 ms of client creation; the probe already knows every node's
instance, zone and cluster from Kubernetes (the node's providerID and labels), so it writes them here and
ingest reads them back with one BatchGetItem. Writes happen only when a placement is new or changed, or its
TTL is a day from expiring, so a steady fleet costs no writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
    instance_id: str
    zone: str
    cluster: str
    node: str


class Placements:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._written: dict[str, tuple[Placement, datetime]] = {}

    def remember(self, placements: Iterable[Placement], *, now: datetime) -> int:
        """Write the placements that are new, changed or due for a TTL refresh; return how many."""
        due = [
            p
            for p in placements
            if (seen := self._written.get(p.instance_id)) is None or seen[0] != p or now - seen[1] > _REFRESH
        ]
        put_in_batches(self._dynamodb, self._table, [self._item(p, now) for p in due])
        self._written.update({p.instance_id: (p, now) for p in due})
        return len(due)

    def lookup(self, instance_ids: Iterable[str]) -> dict[str, Placement]:
        ids = sorted(set(instance_ids))
        found: dict[str, Placement] = {}
        for start in range(0, len(ids), 100):
            keys = [{"pk": {"S": f"INSTANCE#{i}"}, "sk": {"S": _SK}} for i in ids[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys}}
            while request:
                response = self._call("batch_get_item", RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    placement = Placement(
                        instance_id=item["instance_id"]["S"],
                        zone=item["zone"]["S"],
                        cluster=item["cluster"]["S"],
                        node=item["node"]["S"],
                    )
                    found[placement.instance_id] = placement
                request = response.get("UnprocessedKeys") or {}
        return found

    def _item(self, placement: Placement, now: datetime) -> dict[str, Any]:
        return {
            "pk": {"S": f"INSTANCE#{placement.instance_id}"},
            "sk": {"S": _SK},
            "instance_id": {"S": placement.instance_id},
            "zone": {"S": placement.zone},
            "cluster": {"S": placement.cluster},
            "node": {"S": placement.node},
            "expires_at": {"N": str(int((now + RETENTION).timestamp()))},
        }

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._dynamodb, operation)(**kwargs)
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
