"""After an evacuation, the fenced nodes come back: Ferry lifts the out-of-service taint, the cordon stays.

Zone a fails in act mode (EvacuateZone fences its nodes with the out-of-service taint), then comes back:
its instances start and the kubelets report again. The next probe round gives the nodes back to
Kubernetes' normal lifecycle; the cordon stays until failback. A person's out-of-service taint on a healthy
node of another zone (no mark of Ferry's) is never lifted, though the probe sees that node Ready with a fresh
lease every round.
"""

from __future__ import annotations

import dataclasses

import pytest
from kubernetes import client as k8s

from ferry.domain.modes import Mode
from sandbox.gameday import moments
from sandbox.scenario import ZoneRecovery, load
from sandbox.world import World

OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
RECOVERY_AT = 5 * 60.0
PERSONS_NODE = "east-1-c-w0"  # a healthy zone's node a person takes out of service by hand


@pytest.fixture(scope="module")
def taints_over_time():
    scenario = load("az-outage")
    scenario = dataclasses.replace(
        scenario,
        steps=(*scenario.steps, ZoneRecovery(at=RECOVERY_AT, zone="us-east-1a", health_event_after=None)),
        duration=RECOVERY_AT + 3 * 60.0,
        expect=(),
    )
    seen: dict[str, list[tuple[float, bool, bool]]] = {}
    with World(scenario, mode=Mode.ACT) as world:
        persons = {"key": OUT_OF_SERVICE, "value": "maintenance", "effect": "NoExecute"}
        k8s.CoreV1Api(world.clusters["east-1"].api_client()).patch_node(PERSONS_NODE, {"spec": {"taints": [persons]}})
        for at in moments(world, scenario.duration, 30.0):
            world.advance_to(at)
            world.run_due()
            world.deliver_events()
            world.run_runbooks()
            for node in world.clusters["east-1"].list("Node"):
                name = node["metadata"]["name"]
                keys = {t["key"] for t in node["spec"].get("taints") or []}
                cordoned = bool(node["spec"].get("unschedulable"))
                seen.setdefault(name, []).append((at, OUT_OF_SERVICE in keys, cordoned))
    return seen


def test_fenced_nodes_were_marked_out_of_service_during_the_outage(taints_over_time) -> None:
    history = taints_over_time["east-1-a-w0"]

    assert any(tainted for at, tainted, _ in history if at < RECOVERY_AT)


def test_once_back_the_taint_is_lifted_and_the_cordon_stays(taints_over_time) -> None:
    _, tainted, cordoned = taints_over_time["east-1-a-w0"][-1]

    assert (tainted, cordoned) == (False, True)


def test_a_persons_out_of_service_taint_on_a_healthy_node_is_never_lifted(taints_over_time) -> None:
    history = taints_over_time[PERSONS_NODE]

    assert all(tainted for _, tainted, _ in history), "the probe lifts only the taint Ferry's mark names"
