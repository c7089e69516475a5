"""Supervised runs' pauses in Ferry's table: `RUN#<runId>` / `PAUSE`, one item per run that waits for a decision.

The item holds the pause as JSON (`ferry.domain.decisions.Pause`) and its status apart, for the conditions:
a pause is written while none is decided (a retried await step writes its new token over the old one), and a
decision or a timeout replaces it only while it still waits, so of two Decides (or a Decide and the timeout)
exactly one wins and the other reads what won.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.decisions import Pause, PauseStatus

SORT_KEY = "PAUSE"


class Pauses:
    def __init__(self, dynamodb: Any, table_name: str, *, ttl: timedelta = timedelta(days=30)) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._ttl = ttl

    def _key(self, run_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": SORT_KEY}}

    def _item(self, pause: Pause) -> dict[str, Any]:
        expires = int((pause.waiting_since + self._ttl).timestamp())
        return {
            **self._key(pause.run_id),
            "status": {"S": pause.status.value},
            "pause": {"S": json.dumps(pause.to_dict())},
            "expires_at": {"N": str(expires)},
        }

    def _put(self, pause: Pause, condition: str) -> None:
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=self._item(pause),
                ConditionExpression=condition,
                **(
                    {
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":waiting": {"S": PauseStatus.WAITING.value}},
                    }
                    if "#status" in condition
                    else {}
                ),
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error  # ConditionalCheckFailed: Conflict

    def wait(self, pause: Pause) -> None:
        """Record a run's wait (its token); Conflict if the run was decided already."""
        self._put(pause, "attribute_not_exists(pk) OR #status = :waiting")

    def settle(self, pause: Pause, *, whatever_it_says: bool = False) -> None:
        """Replace a waiting pause with its decision or its timeout; Conflict if it no longer waits.
        `whatever_it_says`: Step Functions ended the wait (its timeout), so the record says so even over a
        decision whose token came too late to be delivered."""
        self._put(pause, "attribute_exists(pk)" if whatever_it_says else "#status = :waiting")

    def get(self, run_id: str) -> Pause | None:
        try:
            item = self._dynamodb.get_item(TableName=self._table, Key=self._key(run_id), ConsistentRead=True).get(
                "Item"
            )
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        return Pause.from_dict(json.loads(item["pause"]["S"])) if item else None
