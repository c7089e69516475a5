"""Federated replicas end to end on the sandbox (act mode): the synthesized state machines on the real step.

Two drills on the `control-plane-outage` world (two clusters over zones a, b and c, `web` federated 3 + 3):

- **FailoverCluster.** east-2's API stops answering; the probe finds it, the detector calls its control plane
  DOWN and starts FailoverCluster: east-1 is scaled to all six replicas and they become available; east-2 cannot
  be reached, so nothing is called there and the report says its replicas stay until it answers (failed, never
  done). The figures: the time from DOWN to east-1 scaled, and to its replicas available.
- **ShiftReplicas by hand, east-2 healthy** (a planned maintenance): a dry run first changes nothing (the
  clusters' Deployments and the table compared, audit records aside), then the real run scales east-1 up, waits
  until its six replicas are available (they take 25 s to start: the run's Wait loop waits), and only then
  scales east-2 to zero: the double's record of scale
  calls gives their order, and the pods' Ready times say the replicas were available before the scale-down.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from ferry.domain.federation.shifting import BEFORE_SHIFT_ANNOTATION
from ferry.domain.modes import Mode
from sandbox.gameday import moments
from sandbox.scenario import ControlPlaneOutage, load
from sandbox.stepfunctions import ExecutionView
from sandbox.world import World
from tests.conftest import load_event

pytestmark = pytest.mark.xdist_group("shift")

OUTAGE_AT = 60.0
START_DELAY = 25.0  # seconds a new pod of east-1 takes to start in the by-hand drill
APP = "shop/web"


def run_until(world: World, until: float, tick: float = 15.0) -> list[tuple[float, str]]:
    statuses = []
    for at in moments(world, until, tick):
        if at <= world.offset():
            continue
        world.advance_to(at)
        world.run_due()
        world.deliver_events()
        world.run_runbooks()
        state = world.control_plane_state("east-2")
        statuses.append((at, state["status"] if state else "up"))
    return statuses


def web(world: World, cluster: str) -> dict[str, Any]:
    return world.clusters[cluster].get("Deployment", "web", "shop") or {}


def ready_times(world: World, cluster: str) -> list[datetime]:
    """When each of the app's pods in the cluster became Ready (its Ready condition's last transition)."""
    times = []
    for pod in world.clusters[cluster].list("Pod", "shop"):
        if pod["metadata"].get("labels", {}).get("app") != "web":
            continue
        for condition in pod.get("status", {}).get("conditions") or []:
            if condition["type"] == "Ready" and condition["status"] == "True":
                times.append(datetime.fromisoformat(condition["lastTransitionTime"].replace("Z", "+00:00")))
    return times


def table_state(world: World) -> list[dict[str, Any]]:
    """Every item of Ferry's table but its audit log (a dry run records what it would do, and changes nothing)."""
    items = world.aws.client("dynamodb").scan(TableName=world.aws.names.table)["Items"]
    return sorted(
        (i for i in items if not i["pk"]["S"].startswith("AUDIT#")), key=lambda i: (i["pk"]["S"], i["sk"]["S"])
    )


def start(world: World, runbook: str, name: str, payload: dict[str, Any]) -> None:
    assert world.runbooks is not None
    world.aws.client("stepfunctions").start_execution(
        stateMachineArn=world.runbooks.arn(runbook), name=name, input=json.dumps(payload)
    )


def execution(world: World, runbook: str, name: str) -> ExecutionView:
    (found,) = [e for e in world.executions(runbook) if e.name == name]
    return found


# --- FailoverCluster: the detector's hand-off --------------------------------------------------------------------


@pytest.fixture(scope="module")
def failover() -> Iterator[dict[str, Any]]:
    scenario = dataclasses.replace(
        load("control-plane-outage"), steps=(ControlPlaneOutage(at=OUTAGE_AT, cluster="east-2"),), expect=()
    )
    with World(scenario, mode=Mode.ACT) as world:
        writes_before = {name: len(cluster.scale_writes()) for name, cluster in world.clusters.items()}
        statuses = run_until(world, 6 * 60.0)
        yield {
            "world": world,
            "statuses": statuses,
            "runs": world.executions("FailoverCluster"),
            "writes": {n: c.scale_writes()[writes_before[n] :] for n, c in world.clusters.items()},
        }


def test_control_plane_down_starts_failover_cluster_once_and_it_ends_partial_saying_why(failover) -> None:
    (run,) = failover["runs"]
    report = run.output or {}

    assert run.name.startswith("failover-east-2-")
    assert run.status == "SUCCEEDED"
    assert report["outcome"] == "partial"
    (line,) = [line for line in report["summary"].splitlines() if APP in line]
    assert "east-1 3 -> 6 done (6 available)" in line
    assert "east-2 not reached" in line and "its replicas stay until it answers" in line


def test_every_replica_of_web_runs_in_east_1_and_nothing_was_called_in_east_2(failover) -> None:
    world = failover["world"]
    east1 = web(world, "east-1")

    assert east1["spec"]["replicas"] == 6 and east1["status"]["availableReplicas"] == 6
    assert east1["metadata"]["annotations"][BEFORE_SHIFT_ANNOTATION] == "3"
    assert [(w.name, w.replicas) for w in failover["writes"]["east-1"]] == [("web", 6)]
    assert failover["writes"]["east-2"] == []  # unreachable: never called, never reported done
    assert web(world, "east-2")["spec"]["replicas"] == 3


def test_the_counts_before_the_shift_are_journaled_and_the_lock_is_let_go(failover) -> None:
    world = failover["world"]

    (origin,) = world.table_items(f"SHIFT#{APP}")
    assert json.loads(origin["counts"]) == {"east-1": 3}
    assert world.table_items(f"LOCK#shift/{APP}") == []


def test_figure_time_from_down_to_east_1_scaled_and_available(failover) -> None:
    world, statuses = failover["world"], failover["statuses"]
    down_at = next(at for at, status in statuses if status == "down")
    (write,) = failover["writes"]["east-1"]
    start = world.clock.now() - timedelta(seconds=world.offset())  # the game day's time zero
    scaled = (write.at - start).total_seconds()
    available = (max(ready_times(world, "east-1")) - start).total_seconds()

    print(
        f"\nFIGURE: control plane DOWN at {down_at:.0f} s (15 s resolution) -> east-1 scaled at {scaled:.0f} s, "
        f"its 6 replicas available at {available:.0f} s (sandbox time)"
    )
    assert scaled <= down_at + 15.0
    assert available >= scaled


# --- ShiftReplicas by hand: dry run, then make before break --------------------------------------------------------


@pytest.fixture(scope="module")
def by_hand() -> Iterator[dict[str, Any]]:
    scenario = dataclasses.replace(load("control-plane-outage"), steps=(), expect=())
    request = {**load_event("stepfunctions/shift-replicas"), "app": APP, "from": {"cluster": "east-2"}}
    with World(scenario, mode=Mode.ACT) as world:
        run_until(world, 30.0)
        # New pods take 25 s to start in east-1: the run must wait for them (its Wait loop) before breaking.
        world.double("east-1").context.kubelet_start_delay = START_DELAY
        before = ({c: web(world, c) for c in world.clusters}, table_state(world))
        start(world, "ShiftReplicas", "shift-web-dry-run", {**request, "dryRun": True})
        world.run_runbooks()  # no time passes: the probe writes nothing in between
        after_dry_run = ({c: web(world, c) for c in world.clusters}, table_state(world))
        writes_before = {name: len(cluster.scale_writes()) for name, cluster in world.clusters.items()}
        start(world, "ShiftReplicas", "shift-web", {**request, "dryRun": False})
        run_until(world, 4 * 60.0, tick=5.0)
        yield {
            "world": world,
            "before": before,
            "after_dry_run": after_dry_run,
            "dry_run": execution(world, "ShiftReplicas", "shift-web-dry-run"),
            "run": execution(world, "ShiftReplicas", "shift-web"),
            "writes": sorted(
                ((w, name) for name, c in world.clusters.items() for w in c.scale_writes()[writes_before[name] :]),
                key=lambda write: write[0].order,
            ),
        }


def test_a_dry_run_reports_the_plan_and_changes_nothing(by_hand) -> None:
    report = by_hand["dry_run"].output or {}

    assert by_hand["dry_run"].status == "SUCCEEDED"
    assert report["outcome"] == "dry-run"
    assert "east-1 3 -> 6 planned; east-2 3 -> 0 planned" in report["summary"]
    assert by_hand["after_dry_run"] == by_hand["before"]


def test_replicas_move_make_before_break(by_hand) -> None:
    world, writes = by_hand["world"], by_hand["writes"]

    assert [(cluster, w.name, w.replicas) for w, cluster in writes] == [("east-1", "web", 6), ("east-2", "web", 0)]
    (up, _), (down, _) = writes
    ready = ready_times(world, "east-1")
    assert len(ready) == 6 and max(ready) <= down.at  # every new replica available before anything was taken away
    assert (down.at - up.at).total_seconds() >= START_DELAY  # it waited for them
    assert "waited" in (by_hand["run"].output or {})["summary"]
    assert (by_hand["run"].output or {})["outcome"] == "succeeded"
    assert web(world, "east-1")["status"]["availableReplicas"] == 6
    assert web(world, "east-2")["spec"]["replicas"] == 0
    assert web(world, "east-2")["metadata"]["annotations"][BEFORE_SHIFT_ANNOTATION] == "3"


# --- FailbackCluster: back in steps, and a relapse stops it ------------------------------------------------------

RECOVERY_AT = 5 * 60.0


def writes_since(world: World, before: dict[str, int]) -> list[tuple[Any, str]]:
    """The scale writes to every cluster since `before` (counts per cluster), in the order they were made."""
    return sorted(
        ((w, name) for name, c in world.clusters.items() for w in c.scale_writes()[before[name] :]),
        key=lambda write: write[0].order,
    )


def counts(world: World) -> dict[str, int]:
    return {name: len(c.scale_writes()) for name, c in world.clusters.items()}


@pytest.fixture(scope="module")
def failback() -> Iterator[dict[str, Any]]:
    """east-2 down (FailoverCluster: east-1 runs 6), back up. A first FailbackCluster makes one step, then east-2
    fails again: the failback stops, and the detector's new FailoverCluster takes the replica away again. east-2
    comes back once more, and a second FailbackCluster brings web to 3 + 3 in steps."""
    scenario = dataclasses.replace(
        load("control-plane-outage"),
        steps=(
            ControlPlaneOutage(at=OUTAGE_AT, cluster="east-2"),
            ControlPlaneOutage(at=RECOVERY_AT, cluster="east-2", down=False),
        ),
        expect=(),
    )
    request = {**load_event("stepfunctions/failback-cluster"), "cluster": "east-2"}
    with World(scenario, mode=Mode.ACT) as world:
        run_until(world, RECOVERY_AT + 4 * 60.0)  # the detector sees east-2 up again
        before = counts(world)
        start(world, "FailbackCluster", "failback-east-2-first", request)
        until = world.offset() + 10 * 60.0
        while not writes_since(world, before) and world.offset() < until:
            run_until(world, world.offset() + 5.0, tick=5.0)
        first_step = writes_since(world, before)
        relapse_at = world.offset()
        world.stage(ControlPlaneOutage(at=relapse_at, cluster="east-2"))  # it fails again, mid-failback
        run_until(world, relapse_at + 5 * 60.0)
        after_relapse = web(world, "east-1")
        world.stage(ControlPlaneOutage(at=world.offset(), cluster="east-2", down=False))
        run_until(world, world.offset() + 4 * 60.0)
        before = counts(world)
        start(world, "FailbackCluster", "failback-east-2-second", request)
        run_until(world, world.offset() + 10 * 60.0, tick=10.0)
        yield {
            "world": world,
            "first": execution(world, "FailbackCluster", "failback-east-2-first"),
            "second": execution(world, "FailbackCluster", "failback-east-2-second"),
            "failovers": world.executions("FailoverCluster"),
            "first_step": first_step,
            "after_relapse": after_relapse,
            "steps": writes_since(world, before),
        }


def test_a_failback_stops_when_the_cluster_fails_again_and_the_replicas_go_away_again(failback) -> None:
    first = failback["first"]
    report = first.output or {}

    assert [(cluster, w.replicas) for w, cluster in failback["first_step"]] == [("east-1", 5)]
    assert first.status == "SUCCEEDED" and report["outcome"] == "partial"
    assert "stopped: east-2 does not answer: failback stops" in report["summary"]
    # the detector's second DOWN starts a second FailoverCluster: the replica taken from east-1 comes back
    assert len(failback["failovers"]) == 2
    assert failback["after_relapse"]["spec"]["replicas"] == 6


def test_failback_returns_web_in_steps_each_after_the_returned_replicas_are_available(failback) -> None:
    writes = [(cluster, w.replicas, w.at) for w, cluster in failback["steps"]]
    second, world = failback["second"], failback["world"]

    # east-2's three replicas ran on through its outages: each step checks they are available, then takes one from
    # east-1 (25% of east-2's share of 3, rounded up), with a wait between steps.
    assert [(cluster, replicas) for cluster, replicas, _ in writes] == [("east-1", 5), ("east-1", 4), ("east-1", 3)]
    gaps = [(b[2] - a[2]).total_seconds() for a, b in itertools.pairwise(writes)]
    assert all(gap >= 60.0 for gap in gaps), gaps
    assert second.status == "SUCCEEDED" and (second.output or {})["outcome"] == "succeeded"
    assert {c: web(world, c)["spec"]["replicas"] for c in world.clusters} == {"east-1": 3, "east-2": 3}
    assert world.table_items(f"SHIFT#{APP}") == []  # restored: the record of the counts before the shift is gone
