"""Node failure as a real cluster handles it ("Nodes", "Taints and Tolerations", "Non-graceful node shutdown").

Each test runs its own cluster on a manual clock: kubelets are stopped with `set_node_alive(False)` and the
40 s grace period, 300 s toleration and 20 s pod GC period are crossed with `clock.advance()`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kubernetes import client

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import ZONES, stateful_set

UNREACHABLE = "node.kubernetes.io/unreachable"
OUT_OF_SERVICE = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}


def taints(core: client.CoreV1Api, node: str) -> set[tuple[str, str]]:
    return {(t.key, t.effect) for t in core.read_node(node).spec.taints or []}


def ready(core: client.CoreV1Api, node: str) -> str:
    return next(c.status for c in core.read_node(node).status.conditions if c.type == "Ready")


def kill(cluster: KubeCluster, *nodes: str) -> None:
    for node in nodes:
        cluster.set_node_alive(node, False)


def advance(cluster: KubeCluster, seconds: float, step: float = 5.0) -> None:
    """Move sandbox time in steps, letting the controllers run in between, as they would."""
    while seconds > 0:
        cluster.clock.advance(min(step, seconds))
        seconds -= step
        cluster.settle()


@pytest.fixture
def pets(make_cluster: Callable[..., KubeCluster]) -> tuple[KubeCluster, client.CoreV1Api]:
    """Two nodes per zone, and a StatefulSet with one pet (and its EBS volume) in each zone."""
    own = make_cluster()
    client.AppsV1Api(own.api_client()).create_namespaced_stateful_set("default", stateful_set("pet", 3))
    own.settle()
    return own, client.CoreV1Api(own.api_client())


def pet_in_zone(core: client.CoreV1Api, zone: str) -> client.V1Pod:
    for pod in core.list_namespaced_pod("default").items:
        if pod.spec.node_name and pod.spec.node_name.startswith(zone):
            return pod
    raise AssertionError(f"no pet in {zone}")


def test_a_kubelet_renews_its_lease_every_ten_seconds(make_cluster: Callable[..., KubeCluster]) -> None:
    own = make_cluster(nodes_per_zone=1)
    leases = client.CoordinationV1Api(own.api_client())
    first = leases.read_namespaced_lease("us-east-1a-node-0", "kube-node-lease")
    assert (first.spec.holder_identity, first.spec.lease_duration_seconds) == ("us-east-1a-node-0", 40)
    assert first.metadata.owner_references[0].kind == "Node"
    advance(own, 10)
    assert leases.read_namespaced_lease("us-east-1a-node-0", "kube-node-lease").spec.renew_time > first.spec.renew_time


def test_a_silent_node_is_ready_until_the_grace_period_ends(pets: tuple[KubeCluster, client.CoreV1Api]) -> None:
    own, core = pets
    node = pet_in_zone(core, ZONES[0]).spec.node_name
    kill(own, node)
    advance(own, 35)
    assert ready(core, node) == "True" and UNREACHABLE not in {key for key, _ in taints(core, node)}
    advance(own, 10)
    condition = next(c for c in core.read_node(node).status.conditions if c.type == "Ready")
    assert (condition.status, condition.reason, condition.message) == (
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )
    assert {c.status for c in core.read_node(node).status.conditions} == {"Unknown"}
    assert {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")} <= taints(core, node)
    no_execute = next(t for t in core.read_node(node).spec.taints if t.effect == "NoExecute")
    assert no_execute.time_added is not None
    pod = pet_in_zone(core, ZONES[0])
    assert next(c.status for c in pod.status.conditions if c.type == "Ready") == "False"


def test_pods_of_a_dead_node_are_evicted_after_their_toleration_and_stay_terminating(
    pets: tuple[KubeCluster, client.CoreV1Api],
) -> None:
    own, core = pets
    victim = pet_in_zone(core, ZONES[0])
    kill(own, victim.spec.node_name)
    advance(own, 45)
    assert core.read_namespaced_pod(victim.metadata.name, "default").metadata.deletion_timestamp is None
    advance(own, 300)
    evicted = core.read_namespaced_pod(victim.metadata.name, "default")
    assert evicted.metadata.deletion_timestamp is not None and evicted.metadata.uid == victim.metadata.uid
    assert any(c.type == "DisruptionTarget" and c.reason == "DeletionByTaintManager" for c in evicted.status.conditions)
    advance(own, 3600, step=600)
    still = core.read_namespaced_pod(victim.metadata.name, "default")
    assert still.metadata.uid == victim.metadata.uid and still.metadata.deletion_timestamp is not None  # never replaced


def test_a_whole_zone_down_is_still_evicted_at_the_normal_rate(pets: tuple[KubeCluster, client.CoreV1Api]) -> None:
    """The real controller evicts at --node-eviction-rate when one zone is fully down and others are not."""
    own, core = pets
    zone_nodes = [f"{ZONES[0]}-node-0", f"{ZONES[0]}-node-1"]
    kill(own, *zone_nodes)
    own.clock.advance(41)
    own.settle()
    tainted = [node for node in zone_nodes if (UNREACHABLE, "NoExecute") in taints(core, node)]
    assert len(tainted) == 1  # 0.1 node per second: the second waits ten seconds
    advance(own, 10)
    assert all((UNREACHABLE, "NoExecute") in taints(core, node) for node in zone_nodes)
    advance(own, 300)
    assert pet_in_zone(core, ZONES[0]).metadata.deletion_timestamp is not None


def test_when_every_node_is_down_nothing_is_evicted(pets: tuple[KubeCluster, client.CoreV1Api]) -> None:
    own, core = pets
    nodes = [node.metadata.name for node in core.list_node().items]
    kill(own, *nodes)
    advance(own, 45)
    assert all(ready(core, node) == "Unknown" for node in nodes)
    assert all(
        (UNREACHABLE, "NoSchedule") in taints(core, node) and (UNREACHABLE, "NoExecute") not in taints(core, node)
        for node in nodes
    )
    advance(own, 900, step=30)
    assert all(pod.metadata.deletion_timestamp is None for pod in core.list_namespaced_pod("default").items)


def test_a_recovered_node_is_ready_again_and_untainted(pets: tuple[KubeCluster, client.CoreV1Api]) -> None:
    own, core = pets
    pod = pet_in_zone(core, ZONES[1])
    kill(own, pod.spec.node_name)
    advance(own, 45)
    own.set_node_alive(pod.spec.node_name, True)
    own.settle()
    assert ready(core, pod.spec.node_name) == "True" and not taints(core, pod.spec.node_name)
    assert (
        next(
            c.status
            for c in core.read_namespaced_pod(pod.metadata.name, "default").status.conditions
            if c.type == "Ready"
        )
        == "True"
    )


def test_out_of_service_lets_pod_gc_free_a_pet_which_returns_in_its_volumes_zone(
    pets: tuple[KubeCluster, client.CoreV1Api],
) -> None:
    own, core = pets
    storage = client.StorageV1Api(own.api_client())
    pet = pet_in_zone(core, ZONES[0])
    dead = pet.spec.node_name
    kill(own, dead)
    advance(own, 45)
    current = [own.api_client().sanitize_for_serialization(t) for t in core.read_node(dead).spec.taints]
    core.patch_node(dead, {"spec": {"taints": [*current, OUT_OF_SERVICE]}})
    own.settle()
    assert core.read_namespaced_pod(pet.metadata.name, "default").metadata.deletion_timestamp is not None
    advance(own, 20)
    back = core.read_namespaced_pod(pet.metadata.name, "default")
    assert back.metadata.uid != pet.metadata.uid and back.status.phase == "Running"
    assert back.spec.node_name != dead and back.spec.node_name.startswith(ZONES[0])
    attached = {
        va.spec.node_name
        for va in storage.list_volume_attachment().items
        if va.spec.source.persistent_volume_name == _volume_of(core, back)
    }
    assert attached == {back.spec.node_name}


def test_a_pet_whose_zone_has_no_live_node_stays_pending(make_cluster: Callable[..., KubeCluster]) -> None:
    own = make_cluster(nodes_per_zone=1)
    core = client.CoreV1Api(own.api_client())
    client.AppsV1Api(own.api_client()).create_namespaced_stateful_set("default", stateful_set("pet", 3))
    own.settle()
    pet = pet_in_zone(core, ZONES[2])
    kill(own, pet.spec.node_name)
    advance(own, 45)
    current = [own.api_client().sanitize_for_serialization(t) for t in core.read_node(pet.spec.node_name).spec.taints]
    core.patch_node(pet.spec.node_name, {"spec": {"taints": [*current, OUT_OF_SERVICE]}})
    advance(own, 20)
    back = core.read_namespaced_pod(pet.metadata.name, "default")
    assert back.status.phase == "Pending" and not back.spec.node_name
    scheduled = next(c for c in back.status.conditions if c.type == "PodScheduled")
    assert scheduled.reason == "Unschedulable"
    assert "1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }" in scheduled.message
    assert "2 node(s) had volume node affinity conflict" in scheduled.message


def test_a_force_deleted_pet_waits_six_minutes_for_its_volume_to_detach(
    pets: tuple[KubeCluster, client.CoreV1Api],
) -> None:
    own, core = pets
    pet = pet_in_zone(core, ZONES[1])
    kill(own, pet.spec.node_name)
    advance(own, 45)
    core.delete_namespaced_pod(pet.metadata.name, "default", grace_period_seconds=0)
    own.settle()
    back = core.read_namespaced_pod(pet.metadata.name, "default")
    assert back.spec.node_name and back.spec.node_name != pet.spec.node_name and back.status.phase == "Pending"
    warnings = core.list_namespaced_event("default", field_selector="reason=FailedAttachVolume").items
    assert warnings and warnings[0].message.startswith("Multi-Attach error for volume")
    advance(own, 300, step=60)
    assert core.read_namespaced_pod(pet.metadata.name, "default").status.phase == "Pending"
    advance(own, 70, step=10)
    assert core.read_namespaced_pod(pet.metadata.name, "default").status.phase == "Running"


def _volume_of(core: client.CoreV1Api, pod: client.V1Pod) -> str:
    claim = pod.spec.volumes[-1].persistent_volume_claim.claim_name
    return core.read_namespaced_persistent_volume_claim(claim, pod.metadata.namespace).spec.volume_name
