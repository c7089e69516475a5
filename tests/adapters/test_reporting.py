"""The audit log on moto: a record written "once" refuses a second write of the same action (what keeps a drill's
notice from being sent twice), and a withdrawn record can be written again."""

from __future__ import annotations

from datetime import UTC, datetime

from ferry.adapters.reporting import AuditLog
from tests.adapters.conftest import FerryTable

AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_a_record_written_once_refuses_the_same_action_until_withdrawn(moto_table: FerryTable) -> None:
    audit = AuditLog(moto_table.client, moto_table.name)

    assert audit.record_once("drill:e-1:drill-started", AT, {"outcome": "told"}) is True
    assert audit.record_once("drill:e-1:drill-started", AT, {"outcome": "told again"}) is False
    assert audit.record_once("drill:e-2:drill-started", AT, {"outcome": "told"}) is True
    items = moto_table.client.scan(TableName=moto_table.name)["Items"]
    assert sorted(i["action_id"]["S"] for i in items) == ["drill:e-1:drill-started", "drill:e-2:drill-started"]
    assert {i["record"]["M"]["outcome"]["S"] for i in items} == {"told"}, "the first record stands"

    audit.withdraw("drill:e-1:drill-started", AT)
    assert audit.record_once("drill:e-1:drill-started", AT, {"outcome": "told"}) is True
