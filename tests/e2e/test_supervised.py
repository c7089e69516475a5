"""Supervised mode end to end on the sandbox (the synthesized runbooks with their pause, ferry-Decide, the real
handlers): zone a fails, the detector starts EvacuateZone, which plans and then waits for a person.

- a person's own EvacuateZone started before the outage is never decided: at its deadline (15 minutes) it
  aborts, and nothing of it changed anything;
- another one started by hand is rejected: it stops, nothing changed;
- the automatic run is approved: it goes on, fences zone a and brings db-0 back elsewhere; a second Decide on
  it, a Decide on the rejected run and one on the timed-out run are refused, naming the problem, and send
  nothing.

"Nothing changed" is the sandbox's clusters and moto's EC2 as Ferry could change them (cordons, Ferry's taints
and marks, pets' claims, volumes and pods, instances, and the run's journaled steps), read before and after.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ferry.domain.modes import Mode
from sandbox.gameday import moments
from sandbox.scenario import load
from sandbox.stepfunctions import ExecutionView
from sandbox.world import World
from tests.conftest import load_event

pytestmark = pytest.mark.xdist_group("supervised")

ZONE = "us-east-1a"
TIMEOUT = 15 * 60.0  # the default decisionTimeoutSeconds
UNDECIDED, REJECTED = "by-hand-undecided", "by-hand-rejected"
FERRYS = ("node.kubernetes.io/out-of-service", "ferry.io/quarantine")


def ferrys_reach(world: World) -> dict[str, Any]:
    """What Ferry could have changed, as it is now."""
    nodes = {}
    for name, kube in world.clusters.items():
        for node in kube.list("Node"):
            marks = sorted(k for k in (node["metadata"].get("annotations") or {}) if k.startswith("ferry.io/"))
            taints = sorted(t["key"] for t in node["spec"].get("taints") or [] if t["key"] in FERRYS)
            nodes[f"{name}/{node['metadata']['name']}"] = (bool(node["spec"].get("unschedulable")), taints, marks)
    kube = world.clusters["east-1"]
    claims = {c["metadata"]["name"]: c["spec"].get("volumeName") for c in kube.list("PersistentVolumeClaim", "shop")}
    pods = {p["metadata"]["name"]: (p["metadata"]["uid"], p["spec"].get("nodeName")) for p in kube.list("Pod", "shop")}
    ec2 = world.aws.client("ec2")
    volumes = sorted(v["VolumeId"] for v in ec2.describe_volumes()["Volumes"])
    instances = sorted(
        (i["InstanceId"], i["State"]["Name"]) for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
    )
    return {"nodes": nodes, "claims": claims, "pods": pods, "volumes": volumes, "instances": instances}


def steps_done(world: World, run_id: str) -> list[str]:
    return [i["sk"] for i in world.table_items(f"RUN#{run_id}") if str(i["sk"]).startswith("STEP#")]


def pause_of(world: World, run_id: str) -> dict[str, Any] | None:
    item = next((i for i in world.table_items(f"RUN#{run_id}") if i["sk"] == "PAUSE"), None)
    return json.loads(item["pause"]) if item else None


def start(world: World, runbook: str, name: str, payload: dict[str, Any]) -> ExecutionView:
    """A person starts a state machine from the console; the world runs what it asks for."""
    assert world.runbooks is not None
    sfn = world.aws.client("stepfunctions")
    sfn.start_execution(stateMachineArn=world.runbooks.arn(runbook), name=name, input=json.dumps(payload))
    world.run_runbooks()
    return execution(world, runbook, name)


def execution(world: World, runbook: str, name: str) -> ExecutionView:
    (found,) = [e for e in world.executions(runbook) if e.name == name]
    return found


def decide(world: World, run_id: str, decision: str, name: str) -> ExecutionView:
    payload = {**load_event("stepfunctions/decide"), "runId": run_id, "decision": decision}
    return start(world, "Decide", name, payload)


def run_until(world: World, until: float, done=lambda: False) -> None:
    for at in moments(world, until, 30.0):
        if at <= world.offset():
            continue
        world.advance_to(at)
        world.run_due()
        world.deliver_events()
        world.run_runbooks()
        if done():
            return


@pytest.fixture(scope="module")
def drill() -> Iterator[dict[str, Any]]:
    seen: dict[str, Any] = {}
    with World(load("az-outage"), mode=Mode.SUPERVISED) as world:
        by_hand = {**load_event("stepfunctions/evacuate-zone"), "dryRun": False, "reason": "a drill, by hand"}
        seen["undecided"] = start(world, "EvacuateZone", UNDECIDED, by_hand)
        seen["before"] = ferrys_reach(world)

        def automatic() -> list[ExecutionView]:
            return [e for e in world.executions("EvacuateZone") if e.name not in (UNDECIDED, REJECTED)]

        run_until(world, 6 * 60.0, lambda: bool(automatic()) and pause_of(world, automatic()[0].name) is not None)
        (auto,) = automatic()
        seen["auto"], seen["auto_pause"] = auto, pause_of(world, auto.name)
        seen["paused"] = ferrys_reach(world)

        start(world, "EvacuateZone", REJECTED, by_hand)
        seen["before_reject"] = ferrys_reach(world)
        seen["reject"] = decide(world, REJECTED, "reject", "reject-by-hand")
        seen["rejected"] = execution(world, "EvacuateZone", REJECTED)
        seen["after_reject"] = ferrys_reach(world)

        deadline = TIMEOUT + 30.0
        run_until(world, deadline, lambda: execution(world, "EvacuateZone", UNDECIDED).ended)
        seen["timed_out"] = execution(world, "EvacuateZone", UNDECIDED)
        seen["after_timeout"] = ferrys_reach(world)

        ran_before = len(world.runbooks.task_runs) if world.runbooks else 0
        started = time.monotonic()
        seen["approve"] = decide(world, auto.name, "approve", "approve-auto")
        runs = world.runbooks.task_runs[ran_before:] if world.runbooks else []
        fence = next(r for r in runs if r.function == "runbook-fence" and r.invocation.event.get("runId") == auto.name)
        seen["resumed_after_s"] = fence.ended - fence.invocation.duration_s - started
        (decided,) = [r for r in runs if r.function == "decide"]
        seen["decide_s"] = decided.invocation.duration_s

        run_until(world, world.offset() + 20 * 60.0, lambda: execution(world, "EvacuateZone", auto.name).ended)
        seen["approved"] = execution(world, "EvacuateZone", auto.name)
        seen["twice"] = decide(world, auto.name, "reject", "decide-twice")
        seen["rejected_again"] = decide(world, REJECTED, "approve", "decide-rejected-again")
        seen["too_late"] = decide(world, UNDECIDED, "approve", "decide-too-late")
        seen["audit"] = [
            item["record"]
            for day in {world.clock.now().date().isoformat()}
            for item in world.table_items(f"AUDIT#{day}")
        ]
        seen["world"] = world
        print(f"\nDecide to run resumed: {seen['resumed_after_s']:.3f} s wall (decide step {seen['decide_s']:.3f} s)")
        yield seen


def test_the_automatic_run_pauses_before_any_change_and_says_how_to_decide(drill) -> None:
    pause = drill["auto_pause"]

    assert pause["status"] == "waiting" and pause["onTimeout"] == "abort"
    assert pause["summary"].startswith(f"EvacuateZone {drill['auto'].name} ({ZONE})")
    assert "pet east-1/shop/db-0" in pause["summary"]
    assert drill["paused"]["claims"] == drill["before"]["claims"]
    assert not any(cordoned or taints for cordoned, taints, _ in drill["paused"]["nodes"].values())


def test_an_approved_run_goes_on_and_moves_the_pet(drill) -> None:
    approved, approve = drill["approved"], drill["approve"]

    assert approve.status == "SUCCEEDED" and approve.output["status"] == "approved"
    assert approved.status == "SUCCEEDED", approved.cause
    assert approved.output["outcome"] in ("succeeded", "partial")
    assert "moved" in approved.output["summary"]
    (who,) = [a for a in drill["audit"] if a.get("what") == f"EvacuateZone {drill['auto'].name} approved"]
    assert who["who"] == load_event("stepfunctions/decide")["by"]
    assert who["why"] == load_event("stepfunctions/decide")["reason"]


def test_decide_to_run_resumed_is_under_two_seconds(drill) -> None:
    assert drill["decide_s"] < 2.0
    assert drill["resumed_after_s"] < 2.0


def test_a_rejected_run_stops_and_changes_nothing(drill) -> None:
    rejected = drill["rejected"]

    assert drill["reject"].status == "SUCCEEDED"
    assert rejected.status == "SUCCEEDED" and rejected.output["outcome"] == "rejected"
    assert "rejected by oncall@example.com" in rejected.output["summary"]
    assert drill["after_reject"] == drill["before_reject"]
    assert steps_done(drill["world"], REJECTED) == []


def test_an_undecided_run_aborts_at_its_deadline_and_changes_nothing(drill) -> None:
    timed_out = drill["timed_out"]

    assert timed_out.status == "SUCCEEDED" and timed_out.output["outcome"] == "rejected"
    assert "DecisionTimedOut" in timed_out.output["summary"]
    assert drill["after_timeout"]["nodes"] == drill["before"]["nodes"]
    assert drill["after_timeout"]["claims"] == drill["before"]["claims"]
    assert drill["after_timeout"]["volumes"] == drill["before"]["volumes"]
    assert steps_done(drill["world"], UNDECIDED) == []
    (told,) = [a for a in drill["audit"] if a.get("what", "").startswith(f"EvacuateZone {UNDECIDED}: no decision")]
    assert told["decision"] == "abort"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        pytest.param("twice", "was already approved by oncall@example.com", id="a-second-decide"),
        pytest.param("rejected_again", "was already rejected by oncall@example.com", id="a-decide-after-a-reject"),
        pytest.param("too_late", "stopped waiting at its deadline", id="a-decide-after-the-timeout"),
    ],
)
def test_a_decide_for_a_run_that_does_not_wait_is_refused_naming_the_problem(drill, key: str, problem: str) -> None:
    refused = drill[key]

    assert (refused.status, refused.error) == ("FAILED", "InputError")
    assert (refused.cause or "").startswith("runId: run ") and problem in (refused.cause or "")
