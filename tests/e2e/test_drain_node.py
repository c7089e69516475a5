"""A Spot interruption warning for one node of a healthy zone drains exactly that node (issue 13), on the
sandbox, through the real runbook steps: the warning (the documented sample, for that node's instance, sent
now) is translated and becomes the DrainNode request ingest would start; the run cordons the node and evicts
each of its pods through the Eviction API. A pet whose budget allows it comes back Running on another node of
the same zone with its own volume (its claim untouched); the pet a PodDisruptionBudget holds is asked again
until the warning's deadline and then reported not evicted with the budget's answer; nothing is forced,
deleted or touched on any other node."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from ferry.domain.reactions import drain_request
from ferry.domain.rehoming.models import RunOutcome
from ferry.domain.translators import translate
from sandbox.scenario import StatefulSetSpec, load
from sandbox.stepfunctions import Runbooks
from sandbox.world import World
from tests.conftest import load_event
from tests.e2e.rehoming_world import drill_world, planned, pods_per_identity, run, runtime

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # one sandbox world per process at a time

QUEUE = StatefulSetSpec(cluster="east-1", namespace="shop", name="queue", replicas=6, snapshot=False)


@pytest.fixture
def world() -> Iterator[World]:
    started = drill_world((load("az-outage").statefulsets[0], QUEUE))
    try:
        yield started
    finally:
        started.stop()


def spot_warning(world: World, instance: str) -> Any:
    """The documented Spot warning for `instance`, sent now (sandbox time), placed in east-1 as ingest does."""
    event = load_event("ec2-spot-interruption")
    now = world.clock.now()
    event = {
        **event,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {**event["detail"], "instance-id": instance},
    }
    (signal,) = translate(event)  # type: ignore[misc]
    return dataclasses.replace(signal, cluster="east-1")


def where(world: World) -> dict[str, tuple[str | None, str | None, str | None, str | None]]:
    return {p.name: (p.node, p.zone, p.phase, p.volume_id) for p in world.pets()}


def test_a_spot_warning_drains_exactly_its_node_through_budgets_never_forcing(world: World) -> None:
    cluster = world.clusters["east-1"]
    node = next(p.node for p in world.pets() if p.name == "db-1")
    assert node is not None
    node_object = cluster.get("Node", node) or {}
    instance = node_object["spec"]["providerID"].rsplit("/", 1)[-1]
    on_node = sorted(p.name for p in world.pets() if p.node == node)
    assert "db-1" in on_node and any(n.startswith("queue-") for n in on_node), on_node
    # db's budget allows no disruption: db-1 must stay; the queue's pets have no budget.
    cluster.apply(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "db", "namespace": "shop"},
            "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "db"}}},
        }
    )
    cluster.settle()
    before = where(world)
    others = {
        n["metadata"]["name"]: n["spec"].get("unschedulable")
        for n in cluster.list("Node")
        if n["metadata"]["name"] != node
    }
    requests_before = dict(cluster.request_count())
    started = world.offset()

    request = drain_request(spot_warning(world, instance), node, drain_on_rebalance=False)
    assert request is not None
    # The synthesized ferry-DrainNode, its Tasks the real steps; its StepPending retries outlast the deadline.
    with Runbooks(world, runtime(world).invoke) as runbooks:
        report = run(runbooks, "DrainNode", request.input, request.name)
        plan = planned(runbooks, request.name)

    elapsed = world.offset() - started
    # The run: exactly that node, cordoned; each pod evicted or reported with the budget's reason.
    assert plan is not None and [(j.cluster, j.node) for j in plan.nodes] == [("east-1", node)]
    assert report.outcome is RunOutcome.PARTIAL, report.summary
    (drained,) = report.nodes
    assert drained.cordoned and not drained.fenced
    evictions = {e.pod: e for e in drained.evictions}
    assert sorted(evictions) == on_node
    assert not evictions["db-1"].evicted and "disruption budget" in (evictions["db-1"].reason or "")
    assert "until the deadline" in (evictions["db-1"].reason or "")
    assert all(e.evicted for name, e in evictions.items() if name != "db-1")
    assert "db-1: not evicted" in report.summary
    deadline = datetime.fromisoformat(request.input["deadline"])
    assert world.clock.now() >= deadline, "the refused pod was asked again until the deadline"

    # The pets: the held one where it was; the evicted ones Running again on another node of their zone,
    # on their own volumes; one pod per identity; nothing forced or deleted, no other node touched.
    after = where(world)
    assert after["db-1"] == before["db-1"]
    for name in on_node:
        if name == "db-1":
            continue
        old_node, zone, _, volume = before[name]
        new_node, new_zone, phase, new_volume = after[name]
        assert (new_zone, phase, new_volume) == (zone, "Running", volume) and new_node not in (None, old_node), name
    assert {name: state for name, state in after.items() if name not in on_node} == {
        name: state for name, state in before.items() if name not in on_node
    }
    assert set(pods_per_identity(world).values()) == {1}
    assert (cluster.get("Node", node) or {})["spec"].get("unschedulable") is True
    assert {
        n["metadata"]["name"]: n["spec"].get("unschedulable")
        for n in cluster.list("Node")
        if n["metadata"]["name"] != node
    } == others
    requests = {k: v - requests_before.get(k, 0) for k, v in cluster.request_count().items()}
    assert requests.get("delete pods", 0) == 0 and requests.get("delete persistentvolumeclaims", 0) == 0
    print(
        f"drain of {len(on_node)} pods: {elapsed:.0f}s sandbox time, {sum(requests.values())} API requests {requests}"
    )


def test_a_ten_pod_node_with_no_budget_in_the_way_is_drained_well_before_its_deadline() -> None:
    crowd = dataclasses.replace(QUEUE, replicas=54)  # with db: ten pets on each of the six workers of east-1
    world = drill_world((load("az-outage").statefulsets[0], crowd))
    try:
        cluster = world.clusters["east-1"]
        node = next(p.node for p in world.pets() if p.name == "db-1")
        instance = (cluster.get("Node", node) or {})["spec"]["providerID"].rsplit("/", 1)[-1]
        on_node = sorted(p.name for p in world.pets() if p.node == node)
        before = where(world)
        requests_before = dict(cluster.request_count())
        started = world.offset()

        request = drain_request(spot_warning(world, instance), node, drain_on_rebalance=False)
        assert request is not None
        with Runbooks(world, runtime(world).invoke) as runbooks:
            report = run(runbooks, "DrainNode", request.input, request.name)

        elapsed = world.offset() - started
        assert report.outcome is RunOutcome.SUCCEEDED, report.summary
        assert sorted(e.pod for e in report.nodes[0].evictions if e.evicted) == on_node and len(on_node) == 10
        assert elapsed < 120, "done before the Spot deadline"
        after = where(world)
        for name in on_node:
            assert (after[name][1], after[name][2], after[name][3]) == (before[name][1], "Running", before[name][3])
        requests = {k: v - requests_before.get(k, 0) for k, v in cluster.request_count().items()}
        assert requests.get("delete pods", 0) == 0
        total = sum(requests.values())
        print(f"drain of {len(on_node)} pods: {elapsed:.0f}s sandbox time, {total} API requests {requests}")
    finally:
        world.stop()
