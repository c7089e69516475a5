"""A warning that one node of a healthy zone will be taken away drains exactly that node (issue 13), on the
sandbox, through the stack's synthesized ferry-DrainNode and the real runbook steps. The warning (the documented
sample, for that node's instance, sent now): an AWS Health instance retirement (a scheduledChange two weeks
ahead), an Auto Scaling terminate lifecycle action, and a Spot interruption for a ten-pod node. It is translated
and becomes the DrainNode request ingest would start; the run cordons the node and evicts each of its pods
through the Eviction API. A pet whose budget allows it comes back Running on another node of the same zone
with its own volume (its claim untouched); the pet a PodDisruptionBudget holds is asked again until the
deadline (the warning's, at most 5 minutes after the plan) and then reported not evicted with the budget's
answer; nothing is forced, deleted or touched on any other node. A terminate hook is then completed with
CONTINUE, once (the sandbox's AWS stands in for complete_lifecycle_action, which moto lacks, and records it).

The same warnings delivered as AWS delivers them (EventBridge, the queue, ingest starting the run in act mode)
are tests/e2e/test_drain_delivered.py."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from ferry.domain.reactions import drain_request
from ferry.domain.rehoming.models import RunOutcome
from ferry.domain.signals import Signal
from ferry.domain.translators import Unplaced, translate
from sandbox.scenario import StatefulSetSpec, load
from sandbox.stepfunctions import Runbooks
from sandbox.world import World
from tests.conftest import load_event, wait_for
from tests.e2e.rehoming_world import drill_world, planned, pods_per_identity, run, runtime

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # one sandbox world per process at a time

QUEUE = StatefulSetSpec(cluster="east-1", namespace="shop", name="queue", replicas=6, snapshot=False)
SPOT, RETIREMENT, TERMINATE_HOOK = "ec2-spot-interruption", "health-scheduled-change", "autoscaling-terminate-lifecycle"


@pytest.fixture
def world() -> Iterator[World]:
    started = drill_world((load("az-outage").statefulsets[0], QUEUE))
    try:
        yield started
    finally:
        started.stop()


def _for_instance(sample: str, event: dict[str, Any], instance: str, now: datetime) -> dict[str, Any]:
    """The sample's event about `instance` (where each source names it)."""
    detail = dict(event["detail"])
    if sample == SPOT:
        detail["instance-id"] = instance
    elif sample == RETIREMENT:
        detail["affectedEntities"] = [{"entityValue": instance, "status": "PENDING"}]
        detail["startTime"] = (now + timedelta(days=14)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        event = {**event, "resources": [instance]}
    elif sample == TERMINATE_HOOK:
        detail["EC2InstanceId"] = instance
    return {**event, "detail": detail}


def warning(world: World, sample: str, instance: str) -> Signal:
    """The documented warning for `instance`, sent now (sandbox time), placed in east-1 as ingest does."""
    now = world.clock.now()
    event = _for_instance(sample, {**load_event(sample), "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}, instance, now)
    translation: Any = translate(event)
    if isinstance(translation, Unplaced):
        translation = translation.place({})
    (signal,) = [s for s in translation if s.instance == instance]
    return dataclasses.replace(signal, cluster="east-1")


def instance_of(world: World, node: str) -> str:
    node_object = world.clusters["east-1"].get("Node", node) or {}
    return str(node_object["spec"]["providerID"].rsplit("/", 1)[-1])


def where(world: World) -> dict[str, tuple[str | None, str | None, str | None, str | None]]:
    return {p.name: (p.node, p.zone, p.phase, p.volume_id) for p in world.pets()}


@pytest.mark.parametrize(
    "sample",
    [
        # A Spot warning's drain, as ingest starts it, is tests/e2e/test_drain_delivered.py: its budget
        # handling is the retirement's, with the warning's own two minutes as the deadline.
        pytest.param(RETIREMENT, id="instance-retirement"),
        pytest.param(TERMINATE_HOOK, id="asg-terminate-hook"),
    ],
)
def test_a_node_warning_drains_exactly_its_node_through_budgets_never_forcing(world: World, sample: str) -> None:
    cluster = world.clusters["east-1"]
    node = next(p.node for p in world.pets() if p.name == "db-1")
    assert node is not None
    instance = instance_of(world, node)
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
    planned_at = world.clock.now()

    request = drain_request(warning(world, sample, instance), node, drain_on_rebalance=False)
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
    held = evictions["db-1"].reason or ""
    assert not evictions["db-1"].evicted and "disruption budget" in held and "until the deadline" in held, held
    assert all(e.evicted for name, e in evictions.items() if name != "db-1")
    assert "db-1: not evicted" in report.summary
    deadline = datetime.fromisoformat(re.search(r"until the deadline (\S+):", held).group(1))  # type: ignore[union-attr]
    assert world.clock.now() >= deadline, "the refused pod was asked again until the deadline"
    assert deadline <= planned_at + timedelta(minutes=6), "a far deadline (a retirement) is capped near the plan"

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

    # A terminate hook is told CONTINUE once, for that instance; no other warning has one to complete.
    hook = load_event(TERMINATE_HOOK)["detail"]
    expected = [
        {
            "AutoScalingGroupName": hook["AutoScalingGroupName"],
            "LifecycleHookName": hook["LifecycleHookName"],
            "LifecycleActionToken": hook["LifecycleActionToken"],
            "InstanceId": instance,
            "LifecycleActionResult": "CONTINUE",
        }
    ]
    assert world.aws.proxy.completed_lifecycle_actions == (expected if sample == TERMINATE_HOOK else [])
    print(
        f"{sample}: drain of {len(on_node)} pods: {elapsed:.0f}s sandbox time, "
        f"{sum(requests.values())} API requests {requests}"
    )


def test_a_ten_pod_node_with_no_budget_in_the_way_is_drained_well_before_its_deadline() -> None:
    crowd = dataclasses.replace(QUEUE, replicas=54)  # with db: ten pets on each of the six workers of east-1
    world = drill_world((load("az-outage").statefulsets[0], crowd))
    try:
        # Seeding 57 pets can outlast the world's settling on a busy machine: count the node's pets once every
        # pet is placed, or pets scheduled later are drained too and the count is wrong.
        wait_for(lambda: world.settle() or all(p.node for p in world.pets()), timeout=60, what="every pet placed")
        cluster = world.clusters["east-1"]
        node = next(p.node for p in world.pets() if p.name == "db-1")
        instance = instance_of(world, node)
        on_node = sorted(p.name for p in world.pets() if p.node == node)
        before = where(world)
        requests_before = dict(cluster.request_count())
        started = world.offset()

        request = drain_request(warning(world, SPOT, instance), node, drain_on_rebalance=False)
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
