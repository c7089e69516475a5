"""Reading and writing cluster registrations (`REGISTRY` / `CLUSTER#<name>`) and federated apps (`FEDERATION` /
`APP#<namespace>/<name>`) in the Ferry table; `cdk deploy` writes both from the configuration file.

Each kind shares one partition so that listing it is a single Query, never a scan of a table that also holds
signals and audit records.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.conventions import APP_KEY_PREFIX, CLUSTER_KEY_PREFIX, FEDERATION_PARTITION, REGISTRY_PARTITION

if TYPE_CHECKING:  # imported where apps are read (`apps`): ingest reads clusters only and never loads the federation
    from ferry.domain.federation.apps import FederatedApp

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def _plain(value: Any) -> Any:
    """DynamoDB's numbers come back as Decimal: the models' counts and weights are whole numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class Registry:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def register(self, registration: ClusterRegistration) -> None:
        key = {"pk": REGISTRY_PARTITION, "sk": f"{CLUSTER_KEY_PREFIX}{registration.name}"}
        self._put({**key, "registration": registration.to_dict()})

    def register_app(self, app: FederatedApp) -> None:
        self._put({"pk": FEDERATION_PARTITION, "sk": f"{APP_KEY_PREFIX}{app.key}", "app": app.to_dict()})

    def clusters(self) -> list[ClusterRegistration]:
        return [ClusterRegistration.from_dict(item["registration"]) for item in self._query(REGISTRY_PARTITION)]

    def apps(self) -> list[FederatedApp]:
        from ferry.domain.federation.apps import FederatedApp

        return [FederatedApp.from_dict(item["app"]) for item in self._query(FEDERATION_PARTITION)]

    def _put(self, item: dict[str, Any]) -> None:
        try:
            self._dynamodb.put_item(TableName=self._table, Item={k: _serialize(v) for k, v in item.items()})
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    def _query(self, partition: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        try:
            pages = self._dynamodb.get_paginator("query").paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": partition}},
            )
            for page in pages:
                found.extend({k: _plain(_deserialize(v)) for k, v in item.items()} for item in page["Items"])
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        return found
