"""The latest readiness answer per zone, kept in Ferry's table (`READINESS` / `ZONE#<zone>`).

Kept so that the next run knows whether a zone's grade got worse (the only news worth a notification), and so
that a person can read the last answer without finding the execution: the grade, when and by which run, the
count of each finding kind and the readable summary (cut to fit an item).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error

PARTITION = "READINESS"
SUMMARY_LIMIT = 100_000  # characters: an item holds at most 400 KB
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class ReadinessStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def grades(self) -> dict[str, str]:
        """Zone -> the grade of the latest answer kept for it."""
        return {zone: str(item["grade"]) for zone, item in self.latest().items()}

    def latest(self) -> dict[str, dict[str, Any]]:
        try:
            pages = self._dynamodb.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": PARTITION}},
                ConsistentRead=True,
            )
            items = [{k: _deserialize(v) for k, v in raw.items()} for page in pages for raw in page["Items"]]
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        return {str(item["zone"]): item for item in items}

    def keep(self, run_id: str, at: datetime, zones: Iterable[Mapping[str, Any]]) -> None:
        """One item per zone: `zone`, `grade`, `findings` (kind -> count) and `summary` of each mapping."""
        for zone in zones:
            item = {
                "pk": PARTITION,
                "sk": f"ZONE#{zone['zone']}",
                "zone": zone["zone"],
                "grade": zone["grade"],
                "findings": dict(zone["findings"]),
                "summary": str(zone["summary"])[:SUMMARY_LIMIT],
                "run_id": run_id,
                "at": at.isoformat(),
            }
            try:
                self._dynamodb.put_item(TableName=self._table, Item={k: _serialize(v) for k, v in item.items()})
            except (ClientError, BotoCoreError) as error:
                raise translate_error(error) from error
