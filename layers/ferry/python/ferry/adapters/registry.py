"""Reading and writing cluster registrations in the Ferry table (`REGISTRY` / `CLUSTER#<name>`).

All registrations share one partition so that listing them is a single Query, never a scan of a table that
also holds signals and audit records.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.clusters import ClusterRegistration

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize
_PK = "REGISTRY"


class Registry:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def register(self, registration: ClusterRegistration) -> None:
        item = {"pk": _PK, "sk": f"CLUSTER#{registration.name}", "registration": registration.to_dict()}
        try:
            self._dynamodb.put_item(TableName=self._table, Item={k: _serialize(v) for k, v in item.items()})
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    def clusters(self) -> list[ClusterRegistration]:
        found: list[ClusterRegistration] = []
        try:
            pages = self._dynamodb.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": _PK}},
            )
            for page in pages:
                found.extend(ClusterRegistration.from_dict(_deserialize(i["registration"])) for i in page["Items"])
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        return found
