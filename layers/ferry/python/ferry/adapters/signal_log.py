"""Recording Signals and rejected events in the Ferry table.

Every Signal the ingest path accepts is written under `SIGNAL#<subject>` with a TTL, so the detector and a
person reading the audit can see what Ferry saw. Rejected (malformed) events are written under
`REJECTED#<day>` keyed by SQS message id: the message itself reaches the dead-letter queue intact after
its retries, and this record says why.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.adapters.batching import put_in_batches
from ferry.domain.signals import Signal

_serialize = TypeSerializer().serialize


def signal_key(signal: Signal) -> dict[str, str]:
    subject = signal.zone or signal.zone_id or signal.cluster or signal.region
    return {
        "pk": f"SIGNAL#{subject}",
        "sk": f"{signal.observed_at.isoformat()}#{signal.kind.value}#{signal.source_id}",
    }


def _item(attributes: dict[str, Any]) -> dict[str, Any]:
    return {name: _serialize(value) for name, value in attributes.items() if value is not None}


class SignalLog:
    """Writes to the Ferry table through a low-level DynamoDB client (passed in)."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def record_signals(self, signals: Iterable[Signal], *, ttl: timedelta) -> None:
        """Write the signals, 25 to a call; a replay overwrites the same key, so recording is idempotent."""
        items = [
            _item({**signal_key(signal), **signal.to_dict(), "expires_at": int((signal.observed_at + ttl).timestamp())})
            for signal in signals
        ]
        put_in_batches(self._dynamodb, self._table, items)

    def record_rejection(self, message_id: str, reason: str, body: str, *, now: datetime, ttl: timedelta) -> None:
        self._put(
            {
                "pk": f"REJECTED#{now.date().isoformat()}",
                "sk": message_id,
                "reason": reason,
                "body": body[:4000],
                "rejected_at": now.isoformat(),
                "expires_at": int((now + ttl).timestamp()),
            }
        )

    def _put(self, attributes: dict[str, Any]) -> None:
        try:
            self._dynamodb.put_item(TableName=self._table, Item=_item(attributes))
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
