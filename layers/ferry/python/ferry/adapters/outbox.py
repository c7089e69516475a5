"""Reactions decided but not yet carried out, kept until they are (`OUTBOX` / `<action id>`).

The detector's transition is committed with the zone state; the reaction (start a run, audit, notify)
follows. A crash or a failing SNS between the two would lose the hand-off for good, since replaying the
signal makes no new transition. So the reaction is written here first, removed once carried out, and every
probe round carries out what is left (the executor is idempotent: runs are started by name, audit records
have deterministic keys).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error

_PK = "OUTBOX"
RETENTION = timedelta(days=7)


class Outbox:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def put(self, action_id: str, payload: dict[str, Any], *, now: datetime) -> None:
        item = {
            "pk": {"S": _PK},
            "sk": {"S": action_id},
            "payload": {"S": json.dumps(payload, default=str)},
            "created_at": {"S": now.isoformat()},
            "expires_at": {"N": str(int((now + RETENTION).timestamp()))},
        }
        self._call("put_item", TableName=self._table, Item=item)

    def remove(self, action_id: str) -> None:
        self._call("delete_item", TableName=self._table, Key={"pk": {"S": _PK}, "sk": {"S": action_id}})

    def pending(self, *, created_before: datetime) -> list[tuple[str, dict[str, Any]]]:
        """Reactions written before `created_before` and still not carried out, oldest first."""
        found = []
        pages = self._call_paginated(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            FilterExpression="created_at < :before",
            ExpressionAttributeValues={":pk": {"S": _PK}, ":before": {"S": created_before.isoformat()}},
        )
        for item in pages:
            found.append((item["created_at"]["S"], item["sk"]["S"], json.loads(item["payload"]["S"])))
        return [(action_id, payload) for _, action_id, payload in sorted(found)]

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._dynamodb, operation)(**kwargs)
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    def _call_paginated(self, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            return [i for page in self._dynamodb.get_paginator("query").paginate(**kwargs) for i in page["Items"]]
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
