"""A node warning delivered as AWS delivers it drains exactly that node (issue 13), through the whole path.

The world is in act mode. AWS sends its warning, built from the real-shaped sample in `events/` for one node's
instance: EventBridge puts it on Ferry's queue, Lambda's poller hands it to `ingest`, which translates it,
places the instance (the probe has recorded every node's) and, in act mode, starts the synthesized
ferry-DrainNode under a deterministic name; the world runs its Tasks (the real runbook-* handlers). The
node is cordoned and each of its pods evicted through the Eviction API under its PodDisruptionBudget; the
pets, whose zones are healthy, come back Running on another node of their own zone, on their own volumes.
Nothing is forced or deleted, no other node is touched, and the same warning delivered twice (EventBridge
delivers at least once), or updated (AWS Health sends an update of its event as a new event), starts one run.

Two warnings, one world (each drains a node of another zone): a Spot interruption (two minutes' notice) and
an AWS Health instance retirement (a scheduled change two weeks ahead, no zone named). tests/e2e/test_drain_node.py
covers what the run does when a budget refuses until the deadline, and the Auto Scaling terminate hook.
"""

from __future__ import annotations

import email.utils
import hashlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from typing import Any

import pytest

from ferry.domain.modes import Mode
from ferry.domain.rehoming.models import RunOutcome, RunReport
from sandbox.scenario import StatefulSetSpec, load
from sandbox.stepfunctions import ExecutionView
from sandbox.world import World
from tests.e2e.rehoming_world import drill_world, pods_per_identity, wait_until

pytestmark = pytest.mark.xdist_group("drain-delivered")

CLUSTER = "east-1"
QUEUE = StatefulSetSpec(cluster=CLUSTER, namespace="shop", name="queue", replicas=6, snapshot=False)
PROBE_PERIOD = 60.0
RUN_LIMIT = 15 * 60.0  # sandbox seconds a drain may take: its deadline is at most 5 minutes after its plan


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    started = drill_world((load("az-outage").statefulsets[0], QUEUE), mode=Mode.ACT)
    try:
        cluster = started.clusters[CLUSTER]
        for app in ("db", "queue"):  # each StatefulSet's budget: one pet away at a time
            cluster.apply(
                {
                    "apiVersion": "policy/v1",
                    "kind": "PodDisruptionBudget",
                    "metadata": {"name": app, "namespace": "shop"},
                    "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": app}}},
                }
            )
        # A probe round records where every node's instance is (ingest names the node to drain from it).
        started.advance_to(PROBE_PERIOD)
        started.run_due()
        yield started
    finally:
        started.stop()


def node_of(world: World, pet: str) -> str:
    node = next(p.node for p in world.pets() if p.name == pet)
    assert node is not None, f"{pet} is not placed"
    return node


def where(world: World) -> dict[str, tuple[str | None, str | None, str | None, str | None]]:
    return {p.name: (p.node, p.zone, p.phase, p.volume_id) for p in world.pets()}


def cordons(world: World) -> dict[str, bool]:
    return {n["metadata"]["name"]: bool(n["spec"].get("unschedulable")) for n in world.clusters[CLUSTER].list("Node")}


def deliver(world: World, event: dict[str, Any], times: int) -> None:
    """AWS sends the event (`times` deliveries of the same event), and Lambda's poller hands them to ingest."""
    for _ in range(times):
        world.send_events([event])
        (delivery,) = world.deliver_events()
        assert not delivery.failed_ids, delivery


def run_to_end(world: World, name: str) -> ExecutionView:
    """Run the DrainNode execution `name` to its end; its retry waits move sandbox time (the probe runs too)."""
    give_up = world.offset() + RUN_LIMIT
    while True:
        world.run_runbooks()
        (execution,) = [e for e in world.executions("DrainNode") if e.name == name]
        if execution.ended:
            return execution
        due = world.next_due()
        assert due is not None and due <= give_up, f"{name} still {execution.status} after {RUN_LIMIT:.0f} s"
        world.advance_to(max(due, world.offset()))
        world.run_due()
        world.deliver_events()


def report_of(world: World, name: str) -> RunReport:
    assert world.runbooks is not None
    (made, *_) = [r for r in reversed(world.runbooks.task_runs) if r.function == "runbook-report" and r.run_id == name]
    assert made.invocation.ok, made.invocation
    return RunReport.from_dict(made.invocation.result)


def spot_warning(world: World, instance: str) -> dict[str, Any]:
    return world.events.spot_interruption(instance, world.clock.now())


def retirement(world: World, instance: str) -> dict[str, Any]:
    now = world.clock.now()
    return world.events.instance_retirement([instance], now, retire_at=now + timedelta(days=14))


def update_of(world: World, event: dict[str, Any]) -> dict[str, Any]:
    """AWS Health's update of an event: a new EventBridge event (new id, time, lastUpdatedTime), same ARN."""
    now = world.clock.now()
    stamp = email.utils.format_datetime(now.astimezone(UTC), usegmt=True)
    detail = {**event["detail"], "lastUpdatedTime": stamp}
    return {**event, "id": str(uuid.uuid4()), "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": detail}


@pytest.mark.parametrize(
    ("warning", "kind", "pet"),
    [
        pytest.param(spot_warning, "spot-interruption", "db-1", id="spot-interruption"),
        pytest.param(retirement, "health-scheduled-change", "db-2", id="instance-retirement"),
    ],
)
def test_a_delivered_warning_drains_exactly_its_node_once_and_its_pets_come_back_in_their_zone(
    world: World, warning: Callable[[World, str], dict[str, Any]], kind: str, pet: str
) -> None:
    cluster = world.clusters[CLUSTER]
    node = node_of(world, pet)
    instance = world.instance_ids[(CLUSTER, node)]
    on_node = sorted(p.name for p in world.pets() if p.node == node)
    assert pet in on_node and any(p.startswith("queue-") for p in on_node), on_node  # two budgets in play
    before, cordoned_before = where(world), cordons(world)
    assert not cordoned_before[node]
    requests_before = dict(cluster.request_count())
    started = {e.name for e in world.executions("DrainNode")}

    event = warning(world, instance)
    deliver(world, event, times=2)

    # One run, named after the instance, the warning's kind and the warning (a Health event's ARN, else the
    # event's id): a redelivery names the same run.
    warned = event["detail"].get("eventArn") or event["id"]
    name = f"drain-{instance}-{kind}-{hashlib.sha256(warned.encode()).hexdigest()[:10]}"
    assert [e.name for e in world.executions("DrainNode") if e.name not in started] == [name]
    execution = run_to_end(world, name)
    assert execution.status == "SUCCEEDED", execution
    assert execution.input["cluster"] == CLUSTER and execution.input["node"] == node
    assert execution.input["dryRun"] is False and execution.input["requestedBy"] == "ferry-ingest"

    report = report_of(world, name)
    assert report.outcome is RunOutcome.SUCCEEDED, report.summary
    (drained,) = report.nodes
    assert (drained.node, drained.cordoned, drained.fenced) == (node, True, False)
    assert sorted(e.pod for e in drained.evictions if e.evicted) == on_node

    # The node: cordoned, alone. Its pets: Running again on another node of their own zone, on their own
    # volumes, one pod each; the other pets where they were.
    assert cordons(world) == {**cordoned_before, node: True}
    wait_until(world, lambda: all(where(world)[p][2] == "Running" for p in on_node), seconds=300)
    after = where(world)
    for name_ in on_node:
        old_node, zone, _, volume = before[name_]
        new_node, new_zone, phase, new_volume = after[name_]
        assert (new_zone, phase, new_volume) == (zone, "Running", volume) and new_node not in (None, old_node), name_
    assert {p: s for p, s in after.items() if p not in on_node} == {p: s for p, s in before.items() if p not in on_node}
    assert set(pods_per_identity(world).values()) == {1}

    # Through the Eviction API and its budgets, never forced: no pod, claim or volume deleted.
    requests = {k: v - requests_before.get(k, 0) for k, v in cluster.request_count().items()}
    assert requests.get("create pods/eviction", 0) >= len(on_node)
    assert not {k: v for k, v in requests.items() if k.startswith("delete ") and v}, requests

    # The same warning once more, later (a late redelivery; for Health, also AWS's update of the event: a new
    # EventBridge event of the same ARN): still the one run.
    deliver(world, event, times=1)
    if "eventArn" in event["detail"]:
        deliver(world, update_of(world, event), times=1)
    world.run_runbooks()
    assert [e.name for e in world.executions("DrainNode") if e.name not in started] == [name]
