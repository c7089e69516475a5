"""The two records every action leaves: an audit item in the table and a notification on the SNS topic.

The audit log answers "what did Ferry do, when, why, on whose signals" long after the logs have rotated
(`AUDIT#<day>`, kept 400 days); the notification tells the operator now, in a few lines.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.errors import Conflict

AUDIT_RETENTION = timedelta(days=400)
_serialize = TypeSerializer().serialize


class AuditLog:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def record(self, action_id: str, at: datetime, record: dict[str, Any]) -> None:
        """Write one audit record; the key is deterministic, so recording the same action twice is harmless."""
        self._put(action_id, at, record)

    def record_once(self, action_id: str, at: datetime, record: dict[str, Any]) -> bool:
        """Write the record unless one with the same key exists; False if it did (the action was done)."""
        try:
            self._put(action_id, at, record, ConditionExpression="attribute_not_exists(pk)")
        except Conflict:
            return False
        return True

    def withdraw(self, action_id: str, at: datetime) -> None:
        """Remove a record whose action did not happen after all (so that doing it again is not refused)."""
        try:
            self._dynamodb.delete_item(TableName=self._table, Key=self._key(action_id, at))
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    @staticmethod
    def _key(action_id: str, at: datetime) -> dict[str, Any]:
        return {"pk": _serialize(f"AUDIT#{at.date().isoformat()}"), "sk": _serialize(f"{at.isoformat()}#{action_id}")}

    def _put(self, action_id: str, at: datetime, record: dict[str, Any], **condition: Any) -> None:
        item = {
            "action_id": action_id,
            "at": at.isoformat(),
            "record": json.loads(json.dumps(record, default=str)),
            "expires_at": int((at + AUDIT_RETENTION).timestamp()),
        }
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={**self._key(action_id, at), **{k: _serialize(v) for k, v in item.items()}},
                **condition,
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error


class Notifier:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._topic = topic_arn

    def notify(self, subject: str, message: str, attributes: dict[str, str] | None = None) -> None:
        try:
            self._sns.publish(
                TopicArn=self._topic,
                Subject=subject[:100],
                Message=message,
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items() if v
                },
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
