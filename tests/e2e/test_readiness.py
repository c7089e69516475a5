"""ferry-Readiness end to end on the sandbox: the synthesized state machine calling the real `readiness` handler.

On the game day's world (two clusters over zones a, b and c, StatefulSet `db` with fresh snapshots):

- in observe mode, as a fresh deployment runs it, the assessment changes nothing (Kubernetes objects, EC2
  instances, volumes and snapshots compared before and after; no write reached an API server but the rules
  review, which is a question);
- its answer for a zone before the zone fails is EvacuateZone's dry-run plan once it has (same pets moved,
  same targets, same skips);
- an unknown zone fails the run naming it; a cluster that cannot be read is a finding and the rest is assessed;
- the latest answer is kept, and a notification goes out only when a zone's grade got worse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ferry.domain.readiness import FindingKind, Grade, Outcome
from sandbox.stepfunctions import Runbooks
from sandbox.world import World
from tests.e2e.rehoming_world import ZONE_A, drill_world, planned, runtime, state, zone_outage

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # one sandbox world per process at a time

WRITES = ("create", "update", "patch", "delete", "deletecollection")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    started = drill_world()
    try:
        yield started
    finally:
        started.stop()


def readiness(runbooks: Runbooks, name: str, payload: dict[str, Any]) -> Any:
    execution = runbooks.run("Readiness", payload, name)
    return execution


def writes(world: World) -> dict[str, int]:
    return {
        f"{cluster} {call}": count
        for cluster, double in world.clusters.items()
        for call, count in double.request_count().items()  # type: ignore[union-attr]
        if call.split(" ")[0] in WRITES and call != "create selfsubjectrulesreviews"
    }


def test_in_observe_mode_the_assessment_changes_nothing_and_answers_every_zone(world: World) -> None:
    before, written = state(world), writes(world)
    world.aws.notifications()

    with Runbooks(world, runtime(world, "observe").invoke) as runbooks:
        execution = readiness(runbooks, "readiness-observe", {"reason": "a fresh deployment earns trust"})

    assert execution.status == "SUCCEEDED", execution
    report = execution.output
    assert [z["zone"] for z in report["zones"]] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert report["summary"].startswith("Readiness readiness-observe at ")
    (pet,) = [p for p in report["zones"][0]["pets"] if p["subject"] == "east-1/shop/db-0"]
    assert pet["outcome"] == Outcome.MOVES and pet["targetZone"] in ("us-east-1b", "us-east-1c")
    assert state(world) == before
    assert writes(world) == written


def test_an_unknown_zone_fails_the_run_naming_it(world: World) -> None:
    with Runbooks(world, runtime(world).invoke) as runbooks:
        execution = readiness(runbooks, "readiness-mars", {"zones": ["us-west-2a", ZONE_A]})

    assert (execution.status, execution.error) == ("FAILED", "InputError")
    assert "'us-west-2a' is not a zone of any registered cluster" in str(execution.cause)


def test_an_unreachable_cluster_is_a_finding_and_a_worse_grade_is_notified_once(world: World) -> None:
    with Runbooks(world, runtime(world).invoke) as runbooks:
        readiness(runbooks, "readiness-baseline", {})
        world.aws.notifications()
        world.clusters["east-2"].set_outage(True)  # type: ignore[union-attr]
        try:
            worse = readiness(runbooks, "readiness-east-2-down", {}).output
            again = readiness(runbooks, "readiness-east-2-still-down", {}).output
        finally:
            world.clusters["east-2"].set_outage(False)  # type: ignore[union-attr]
    told = world.aws.notifications()

    assert worse["unreachable"] == ["east-2"]
    for zone in worse["zones"]:
        assert zone["grade"] == Grade.NOT_READY
        assert {(f["kind"], f["subject"]) for f in zone["findings"]} >= {(FindingKind.UNREACHABLE, "east-2")}
    assert [p["subject"] for p in worse["zones"][0]["pets"]] == ["east-1/shop/db-0"]  # east-1 still assessed
    assert worse["worse"] == ["us-east-1a", "us-east-1b", "us-east-1c"] and again["worse"] == []
    subjects = [json.loads(m["Body"])["Subject"] if "Body" in m else m.get("Subject") for m in told]
    assert [s for s in subjects if s and "readiness" in s] == [
        "Ferry: readiness worse in us-east-1a, us-east-1b, us-east-1c"
    ]
    kept = {
        i["sk"]["S"]: i["grade"]["S"]
        for i in world.aws.client("dynamodb").scan(TableName=world.aws.names.table)["Items"]
        if i["pk"]["S"] == "READINESS"
    }
    assert kept == {f"ZONE#{z}": Grade.NOT_READY for z in ("us-east-1a", "us-east-1b", "us-east-1c")}


def test_a_zones_answer_is_evacuate_zones_dry_run_plan_once_the_zone_has_failed(world: World) -> None:
    """Last: the zone goes dark. What readiness said before is what EvacuateZone plans during the outage."""
    with Runbooks(world, runtime(world).invoke) as runbooks:
        answer = readiness(runbooks, "readiness-vs-plan", {"zones": [ZONE_A]}).output
        zone_outage(world)
        dry = runbooks.run("EvacuateZone", {"zone": ZONE_A, "reason": "compare", "dryRun": True}, "dry-vs-readiness")
        plan = planned(runbooks, "dry-vs-readiness")

    assert dry.status == "SUCCEEDED" and plan is not None
    (zone,) = answer["zones"]
    moved = {p["subject"]: p["targetZone"] for p in zone["pets"] if p["outcome"] in (Outcome.MOVES, Outcome.FRESH)}
    assert moved and moved == {f"{p.cluster}/{p.namespace}/{p.pod}": p.target_zone for p in plan.pets}
    skipped = {p["subject"] for p in zone["pets"] if p["outcome"] == Outcome.SKIPPED}
    assert skipped == {s.subject for s in plan.skipped if "/node/" not in s.subject}
