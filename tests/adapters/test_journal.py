"""The re-homing step journal on moto: completed steps read back in batches, first plan and first beginning
kept, one lock holder at a time with a lease a dead holder cannot outlive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ferry.adapters.journal import Journal
from tests.adapters.conftest import FerryTable

AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture
def journal(moto_table: FerryTable) -> Journal:
    return Journal(moto_table.client, moto_table.name)


def test_completed_steps_are_read_back_with_their_results(journal: Journal) -> None:
    ids = [f"east-1/create-volume/shop/data-db-{n}" for n in range(130)]  # more than one batch
    for n, step in enumerate(ids):
        journal.complete("run-1", step, "create-volume", {"volumeId": f"vol-{n}", "rpo": 1.5}, AT)

    found = journal.steps("run-1", [*ids, "east-1/cordon/a-w0"])

    assert sorted(found) == sorted(ids)
    assert found[ids[7]].result == {"volumeId": "vol-7", "rpo": 1.5} and found[ids[7]].at == AT
    assert journal.steps("run-2", ids) == {}


def test_the_first_plan_is_kept(journal: Journal) -> None:
    assert journal.save_plan("run-1", "pet/east-1/shop/db-0", {"v": 1}, AT) == {"v": 1}
    assert journal.save_plan("run-1", "pet/east-1/shop/db-0", {"v": 2}, AT) == {"v": 1}
    assert journal.load_plan("run-1", "pet/east-1/shop/db-0") == {"v": 1}
    assert journal.load_plan("run-1", "pet/east-1/shop/db-1") is None


def test_the_counts_before_an_apps_first_shift_are_kept(journal: Journal) -> None:
    assert journal.origin("shop/web") is None
    assert journal.record_origin("shop/web", {"east-1": 3, "east-2": 3}, "failover-east-2-1", AT) == {
        "east-1": 3,
        "east-2": 3,
    }
    assert journal.record_origin("shop/web", {"east-1": 6}, "shift-2", AT) == {"east-1": 3, "east-2": 3}
    assert journal.origin("shop/web") == {"east-1": 3, "east-2": 3}


def test_one_lock_holder_at_a_time_and_a_lease_ends_a_dead_holder(journal: Journal) -> None:
    lease = timedelta(minutes=3)
    assert journal.acquire("pet/x", "a", AT, lease)
    assert not journal.acquire("pet/x", "b", AT + timedelta(minutes=1), lease)
    assert journal.acquire("pet/x", "a", AT + timedelta(minutes=1), lease)  # re-entrant for its holder
    journal.release("pet/x", "b")  # not b's to release
    assert not journal.acquire("pet/x", "b", AT + timedelta(minutes=2), lease)
    assert journal.acquire("pet/x", "b", AT + timedelta(minutes=5), lease)  # a's lease ran out
    journal.release("pet/x", "b")
    assert journal.acquire("pet/x", "c", AT + timedelta(minutes=5), lease)


def test_items_expire(journal: Journal, moto_table: FerryTable) -> None:
    journal.complete("run-1", "s", "cordon", {}, AT)
    item = moto_table.client.get_item(TableName=moto_table.name, Key={"pk": {"S": "RUN#run-1"}, "sk": {"S": "STEP#s"}})[
        "Item"
    ]
    assert int(item["expires_at"]["N"]) == int((AT + timedelta(days=30)).timestamp())
