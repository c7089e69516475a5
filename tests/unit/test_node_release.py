"""Giving fenced nodes back: only in act mode, only where the taint is, each release audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.modes import Mode
from ferry.executor.nodes import OUT_OF_SERVICE, NodeReleaser

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
CLUSTER = ClusterRegistration(
    name="east-1",
    kind=ClusterKind.SELF_MANAGED,
    endpoint="https://east-1.example.com",
    region="us-east-1",
    zones=("us-east-1a", "us-east-1b"),
    credentials_secret="ferry/clusters/east-1",
)


@dataclass
class FakeWriter:
    tainted: set[str]
    removed: list[tuple[str, str]] = field(default_factory=list)

    def __enter__(self) -> FakeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def remove_taint(self, node: str, key: str) -> bool:
        self.removed.append((node, key))
        if node in self.tainted:
            self.tainted.discard(node)
            return True
        return False


@dataclass
class FakeAudit:
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, action_id: str, at: datetime, record: dict[str, Any]) -> None:
        self.records.append((action_id, record))


@pytest.mark.parametrize(("mode", "expected"), [(Mode.ACT, ["a1"]), (Mode.OBSERVE, [])], ids=["act", "observe"])
def test_the_out_of_service_taint_is_lifted_only_in_act_mode(mode: Mode, expected: list[str]) -> None:
    writer, audit = FakeWriter(tainted={"a1"}), FakeAudit()
    releaser = NodeReleaser(mode, connect=lambda _: writer, audit=audit)  # type: ignore[arg-type,return-value]

    released = releaser.release(CLUSTER, ["a1", "a2"], now=NOW)

    assert released == expected
    assert [r["what"] for _, r in audit.records] == [f"lifted {OUT_OF_SERVICE} from east-1/{n}" for n in expected]
    if mode is Mode.OBSERVE:
        assert writer.removed == [], "observe mode touches nothing"
    else:
        assert writer.removed == [("a1", OUT_OF_SERVICE), ("a2", OUT_OF_SERVICE)]
