"""AWS calls in batches: EC2 describes that survive one failing zone, DynamoDB writes that lose nothing.

During a zone outage EC2 may fail every request that names something in that zone. A batch that mixes
healthy and failing ids would then hide the healthy ones too, so a batch that fails transiently is retried
id by id, and only the ids that still fail are left out (the caller treats them as unknown).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.errors import Throttled, TransientError

BATCH = 200  # ids per filter value list, well under EC2's limits
WRITES_PER_CALL = 25  # BatchWriteItem's limit
UNPROCESSED_TRIES = 5  # calls per chunk before items DynamoDB keeps leaving unprocessed are a Throttled error


def describe_in_batches[V](ids: Iterable[str], describe: Callable[[list[str]], dict[str, V]]) -> dict[str, V]:
    wanted = sorted(set(ids))
    found: dict[str, V] = {}
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        try:
            found |= describe(batch)
        except TransientError:
            for one in batch if len(batch) > 1 else ():
                try:
                    found |= describe([one])
                except TransientError:
                    continue
    return found


def put_in_batches(
    dynamodb: Any,
    table: str,
    items: Iterable[Mapping[str, Any]],
    *,
    key: tuple[str, ...] = ("pk", "sk"),
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Put items (DynamoDB attribute values) with one BatchWriteItem per 25; return how many were written.

    Items with the same key collapse to the last one, as sequential puts would leave it (DynamoDB refuses a
    batch that names one key twice). Items DynamoDB hands back unprocessed (throttling, a partition's
    capacity) are sent again with a growing pause; if some are still unprocessed after a few calls the
    writes raise Throttled (transient: the caller's retry covers them) instead of dropping them silently.
    """
    unique = list({tuple(str(item[name]) for name in key): item for item in items}.values())
    for start in range(0, len(unique), WRITES_PER_CALL):
        pending: list[Any] = [{"PutRequest": {"Item": item}} for item in unique[start : start + WRITES_PER_CALL]]
        for attempt in range(UNPROCESSED_TRIES):
            if attempt:
                sleep(0.05 * 2**attempt)
            try:
                response = dynamodb.batch_write_item(RequestItems={table: pending})
            except (ClientError, BotoCoreError) as error:
                raise translate_error(error) from error
            pending = (response.get("UnprocessedItems") or {}).get(table) or []
            if not pending:
                break
        else:
            raise Throttled(
                f"DynamoDB left {len(pending)} write(s) to {table} unprocessed after {UNPROCESSED_TRIES} calls"
            )
    return len(unique)
