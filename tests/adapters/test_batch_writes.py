"""DynamoDB batch writes (signals, placements): 25 to a call, nothing lost to throttling, one item per key.

The probe records every signal of a round and every node's placement; one call per item made a round of two
clusters cost a dozen round trips. The batch must not trade that for silent loss: DynamoDB may hand items
back unprocessed, and those are sent again or the write fails loudly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ferry.adapters.batching import UNPROCESSED_TRIES, put_in_batches
from ferry.adapters.placements import Placement, Placements
from ferry.adapters.signal_log import SignalLog
from ferry.domain.errors import Throttled
from ferry.domain.signals import Signal, SignalKind, Source
from tests.adapters.conftest import FerryTable

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


class CountingClient:
    """The moto client, counting BatchWriteItem calls and leaving the first `unprocessed` answers' last item out."""

    def __init__(self, client: Any, *, unprocessed: int = 0) -> None:
        self._client = client
        self.calls: list[int] = []
        self._unprocessed = unprocessed

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        if self._unprocessed:
            self._unprocessed -= 1
            if len(requests) > 1:
                self._client.batch_write_item(RequestItems={table: requests[:-1]})
            return {"UnprocessedItems": {table: requests[-1:]}}
        return self._client.batch_write_item(RequestItems=RequestItems)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def item(n: int, value: str = "v") -> dict[str, Any]:
    return {"pk": {"S": f"TEST#{n % 7}"}, "sk": {"S": str(n)}, "value": {"S": value}}


def stored(table: FerryTable) -> dict[tuple[str, str], str]:
    items = table.client.scan(TableName=table.name)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): i["value"]["S"] for i in items if "value" in i}


@pytest.mark.parametrize("count, calls", [(0, []), (1, [1]), (25, [25]), (26, [25, 1]), (60, [25, 25, 10])])
def test_items_go_25_to_a_call_and_all_arrive(moto_table: FerryTable, count: int, calls: list[int]) -> None:
    client = CountingClient(moto_table.client)

    written = put_in_batches(client, moto_table.name, [item(n) for n in range(count)])

    assert (written, client.calls) == (count, calls)
    assert len(stored(moto_table)) == count


def test_the_same_key_twice_is_written_once_with_the_last_value(moto_table: FerryTable) -> None:
    written = put_in_batches(moto_table.client, moto_table.name, [item(1, "first"), item(2), item(1, "last")])

    assert written == 2
    assert stored(moto_table)[("TEST#1", "1")] == "last"


def test_items_left_unprocessed_are_sent_again_after_a_pause(moto_table: FerryTable) -> None:
    client, pauses = CountingClient(moto_table.client, unprocessed=2), []

    put_in_batches(client, moto_table.name, [item(n) for n in range(3)], sleep=pauses.append)

    assert client.calls == [3, 1, 1]
    assert len(pauses) == 2 and pauses[0] < pauses[1]
    assert len(stored(moto_table)) == 3


def test_items_dynamodb_keeps_refusing_fail_the_write_instead_of_vanishing(moto_table: FerryTable) -> None:
    client = CountingClient(moto_table.client, unprocessed=UNPROCESSED_TRIES)

    with pytest.raises(Throttled, match="1 write"):
        put_in_batches(client, moto_table.name, [item(n) for n in range(3)], sleep=lambda _: None)


def test_a_probe_rounds_signals_cost_one_call(moto_table: FerryTable) -> None:
    client = CountingClient(moto_table.client)
    signals = [
        Signal(
            kind=SignalKind.INSTANCE_DOWN,
            source=Source.PROBE,
            source_id=f"round-{n}",
            observed_at=NOW,
            region="us-east-1",
            zone="us-east-1a",
            instance=f"i-{n:017x}",
        )
        for n in range(14)
    ]

    SignalLog(client, moto_table.name).record_signals(signals, ttl=timedelta(days=1))

    assert client.calls == [14]
    assert (
        len(
            moto_table.client.query(
                TableName=moto_table.name,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": "SIGNAL#us-east-1a"}},
            )["Items"]
        )
        == 14
    )


def test_placements_go_in_one_call_per_25(moto_table: FerryTable) -> None:
    client = CountingClient(moto_table.client)
    placements = [Placement(f"i-{n:017x}", "us-east-1a", "east-1", f"node-{n}") for n in range(30)]

    assert Placements(client, moto_table.name).remember(placements, now=NOW) == 30

    assert client.calls == [25, 5]
    assert len(Placements(moto_table.client, moto_table.name).lookup(p.instance_id for p in placements)) == 30
