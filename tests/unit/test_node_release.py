"""Giving fenced nodes back (the probe's early release): only in act mode, only Ferry's out-of-service taint (its
mark says Ferry added it), never a person's taint or any cordon, a concurrent write met by a fresh read, each
release audited. The real adapter's read-modify-write runs against the in-memory API of test_failback."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.conventions import CORDON_MARK, OUT_OF_SERVICE_MARK
from ferry.domain.modes import Mode
from ferry.domain.rehoming import failback
from ferry.domain.rehoming.inventory import OUT_OF_SERVICE_TAINT
from ferry.executor.nodes import NodeReleaser
from tests.unit.test_failback import OOS, PERSONS, QUARANTINE, SETTINGS, Api, merge, node

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
CLUSTER = ClusterRegistration(
    name="east-1",
    kind=ClusterKind.SELF_MANAGED,
    endpoint="https://east-1.example.com",
    region="us-east-1",
    zones=("us-east-1a", "us-east-1b"),
    credentials_secret="ferry/clusters/east-1",
)
FERRYS_FENCE = node(cordoned=True, taints=(OOS,), marks=(CORDON_MARK, OUT_OF_SERVICE_MARK))


class Cluster(Api):
    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass
class FakeAudit:
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, action_id: str, at: datetime, record: dict[str, Any]) -> None:
        self.records.append((action_id, record))


def release(api: Cluster, mode: Mode = Mode.ACT) -> tuple[list[str], FakeAudit]:
    audit = FakeAudit()
    releaser = NodeReleaser(mode, connect=lambda _: api, audit=audit)  # type: ignore[arg-type,return-value]
    return releaser.release(CLUSTER, sorted(api.nodes), now=NOW), audit


def keys(api: Cluster, name: str) -> set[str]:
    return {t["key"] for t in api.nodes[name]["spec"]["taints"]}


@pytest.mark.parametrize(("mode", "expected"), [(Mode.ACT, ["a1"]), (Mode.OBSERVE, [])], ids=["act", "observe"])
def test_ferrys_out_of_service_taint_is_lifted_only_in_act_mode(mode: Mode, expected: list[str]) -> None:
    api = Cluster({"a1": FERRYS_FENCE, "a2": node(cordoned=True, marks=(CORDON_MARK,))})

    released, audit = release(api, mode)

    assert released == expected
    assert [r["what"] for _, r in audit.records] == [f"lifted {OUT_OF_SERVICE_TAINT} from east-1/{n}" for n in expected]
    assert api.writes == len(expected), "observe mode writes nothing; a node with nothing of Ferry's is not written"
    assert (OUT_OF_SERVICE_TAINT in keys(api, "a1")) is (mode is Mode.OBSERVE)
    assert api.nodes["a1"]["spec"]["unschedulable"] is True, "the cordon stays until failback"


@pytest.mark.parametrize(
    ("before", "kept"),
    [
        pytest.param(node(taints=(OOS,)), {OUT_OF_SERVICE_TAINT}, id="a-persons-out-of-service-taint-stays"),
        pytest.param(
            node(cordoned=True, taints=(OOS, PERSONS), marks=(CORDON_MARK,)),
            {OUT_OF_SERVICE_TAINT, PERSONS["key"]},
            id="a-persons-taint-on-a-node-ferry-cordoned-stays",
        ),
        pytest.param(
            node(cordoned=True, taints=(OOS, QUARANTINE, PERSONS), marks=(CORDON_MARK, OUT_OF_SERVICE_MARK)),
            {QUARANTINE["key"], PERSONS["key"]},
            id="only-ferrys-out-of-service-comes-off-quarantine-waits-for-failback",
        ),
    ],
)
def test_release_lifts_only_the_taint_ferrys_mark_names(before: dict[str, Any], kept: set[str]) -> None:
    api = Cluster({"n": before})

    release(api)

    assert keys(api, "n") == kept
    assert api.nodes["n"]["spec"].get("unschedulable") == before["spec"].get("unschedulable")
    assert (
        CORDON_MARK in api.nodes["n"]["metadata"]["annotations"] or CORDON_MARK not in before["metadata"]["annotations"]
    )


def test_a_concurrent_write_is_met_by_a_fresh_read_and_kept() -> None:
    api = Cluster({"a1": FERRYS_FENCE})
    # A person taints the node between Ferry's read and its write: 409, read again, their taint stays.
    api.races.append(lambda n: n["spec"]["taints"].append(dict(PERSONS)))

    released, _ = release(api)

    assert released == ["a1"]
    assert keys(api, "a1") == {PERSONS["key"]}
    assert OUT_OF_SERVICE_MARK not in api.nodes["a1"]["metadata"]["annotations"]


def test_a_person_who_marks_nothing_keeps_their_taint_even_after_ferrys_was_lifted() -> None:
    api = Cluster({"a1": FERRYS_FENCE})
    release(api)
    api.nodes["a1"]["spec"]["taints"].append(dict(OOS))  # a person fences the node by hand afterwards

    released, _ = release(api)

    assert released == [] and OUT_OF_SERVICE_TAINT in keys(api, "a1")


OTHERS = {t["key"]: t for t in (QUARANTINE, PERSONS, {"key": "example.com/other", "effect": "NoExecute"})}


@SETTINGS
@given(
    others=st.sets(st.sampled_from(sorted(OTHERS))),
    out_of_service=st.sampled_from(["none", "ferrys", "a-persons"]),
    cordoned=st.sampled_from(["no", "ferrys", "a-persons"]),
    raced=st.lists(st.tuples(st.sets(st.sampled_from(sorted(OTHERS))), st.booleans()), max_size=3),
)
def test_release_never_removes_a_taint_or_cordon_ferry_did_not_add(
    others: set[str], out_of_service: str, cordoned: str, raced: list[tuple[set[str], bool]]
) -> None:
    """Any node Ferry's own writes (or a person's) can leave, and other writers racing each write (their taints,
    their cordon, never a mark): only the out-of-service taint Ferry's mark names comes off.

    A mark whose taint a person removed by hand and put back later cannot be told from Ferry's: the mark is
    removed in the same write as Ferry's taint, and a mark found without its taint is removed by the next
    release (or failback), so that window is the person's own two edits."""
    taints = [OTHERS[k] for k in sorted(others)] + ([OOS] if out_of_service != "none" else [])
    marks = (OUT_OF_SERVICE_MARK,) * (out_of_service == "ferrys") + (CORDON_MARK,) * (cordoned == "ferrys")
    before = node(cordoned=cordoned != "no", taints=tuple(taints), marks=marks)
    api = Cluster({"n": before})
    added: set[str] = set()
    person_cordoned = False
    for extra, cordon in raced:

        def race(n: dict[str, Any], extra: set[str] = extra, cordon: bool = cordon) -> None:
            nonlocal person_cordoned
            have = {t["key"] for t in n["spec"]["taints"]}
            n["spec"]["taints"] += [dict(OTHERS[k]) for k in sorted(extra - have)]
            added.update(extra - have)
            if cordon and not n["spec"].get("unschedulable"):
                n["spec"]["unschedulable"], person_cordoned = True, True

        api.races.append(race)

    released, _ = release(api)

    ferrys = {OUT_OF_SERVICE_TAINT} if out_of_service == "ferrys" else set()
    assert keys(api, "n") == ({t["key"] for t in taints} | added) - ferrys, "only Ferry's marked taint comes off"
    assert bool(api.nodes["n"]["spec"].get("unschedulable")) is (cordoned != "no" or person_cordoned)
    assert released == (["n"] if ferrys else [])
    assert failback.release_of(merge(before, {})).taints == tuple(ferrys)
