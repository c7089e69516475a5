"""Where the scheduler puts pods ("Assigning Pods to Nodes", "Taints and Tolerations", "Pod Topology Spread
Constraints", "Storage: volume binding mode"): each filter, the unschedulable report, and volume zones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import ZONES, api_error, build_cluster, pod_manifest

ZONE = "topology.kubernetes.io/zone"


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeCluster]:
    """This module taints and cordons nodes, so it has a cluster of its own."""
    own = build_cluster("scheduling")
    yield own
    own.stop()


def zone_of(core: client.CoreV1Api, pod: str, namespace: str) -> str:
    node = core.read_namespaced_pod(pod, namespace).spec.node_name
    return core.read_node(node).metadata.labels[ZONE]


def scheduled_condition(core: client.CoreV1Api, pod: str, namespace: str) -> client.V1PodCondition:
    return next(c for c in core.read_namespaced_pod(pod, namespace).status.conditions if c.type == "PodScheduled")


def affinity(zone: str) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def test_node_selector(cluster: KubeCluster, core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod_manifest("sel", nodeSelector={ZONE: ZONES[1]}))
    cluster.settle()
    assert zone_of(core, "sel", namespace) == ZONES[1]


def test_required_node_affinity(cluster: KubeCluster, core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, pod_manifest("aff", affinity=affinity(ZONES[2])))
    cluster.settle()
    assert zone_of(core, "aff", namespace) == ZONES[2]


def test_an_unschedulable_pod_reports_why_per_node(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, pod_manifest("nowhere", nodeSelector={ZONE: "us-west-2a"}))
    cluster.settle()
    condition = scheduled_condition(core, "nowhere", namespace)
    assert (condition.status, condition.reason) == ("False", "Unschedulable")
    assert condition.message == (
        "0/6 nodes are available: 6 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling."
    )
    events = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=nowhere,reason=FailedScheduling"
    ).items
    assert events and events[0].type == "Warning" and events[0].source.component == "default-scheduler"


def test_taints_repel_pods_that_do_not_tolerate_them(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    tainted = f"{ZONES[0]}-node-0"
    core.patch_node(tainted, {"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}})
    try:
        core.create_namespaced_pod(namespace, pod_manifest("plain", nodeSelector={"kubernetes.io/hostname": tainted}))
        toleration = {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}
        core.create_namespaced_pod(
            namespace,
            pod_manifest("tolerant", nodeSelector={"kubernetes.io/hostname": tainted}, tolerations=[toleration]),
        )
        cluster.settle()
        assert (
            "1 node(s) had untolerated taint {dedicated: db}" in scheduled_condition(core, "plain", namespace).message
        )
        assert core.read_namespaced_pod("tolerant", namespace).spec.node_name == tainted
    finally:
        core.patch_node(tainted, {"spec": {"taints": None}})


def test_a_cordoned_node_is_tainted_unschedulable_and_skipped(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    cordoned = f"{ZONES[1]}-node-0"
    core.patch_node(cordoned, {"spec": {"unschedulable": True}})
    try:
        core.create_namespaced_pod(namespace, pod_manifest("avoid", nodeSelector={"kubernetes.io/hostname": cordoned}))
        cluster.settle()
        assert ("node.kubernetes.io/unschedulable", "NoSchedule") in {
            (t.key, t.effect) for t in core.read_node(cordoned).spec.taints
        }
        assert "1 node(s) were unschedulable" in scheduled_condition(core, "avoid", namespace).message
    finally:
        core.patch_node(cordoned, {"spec": {"unschedulable": False}})
    cluster.settle()
    assert not core.read_node(cordoned).spec.taints
    assert core.read_namespaced_pod("avoid", namespace).spec.node_name == cordoned


def test_a_full_node_takes_no_more_pods(make_cluster) -> None:
    own = make_cluster(nodes_per_zone=0)
    own.add_node("tiny", ZONES[0], instance_id="i-0tiny", pods=2)
    core = client.CoreV1Api(own.api_client())
    for index in range(3):
        core.create_namespaced_pod("default", pod_manifest(f"p{index}"))
    own.settle()
    pods = core.list_namespaced_pod("default").items
    assert sum(1 for pod in pods if pod.spec.node_name == "tiny") == 2
    waiting = next(pod for pod in pods if not pod.spec.node_name)
    assert "1 Too many pods" in next(c.message for c in waiting.status.conditions if c.type == "PodScheduled")


def test_a_bound_volume_holds_its_pod_to_the_volumes_zone(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    volume = f"static-{namespace}"
    core.create_persistent_volume(
        {
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "ebs-sc",
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0123456789abcdef0", "fsType": "ext4"},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [ZONES[2]]}]}
                        ]
                    }
                },
                "claimRef": {"namespace": namespace, "name": "restored"},
            },
        }
    )
    claim = {
        "metadata": {"name": "restored"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "ebs-sc",
            "resources": {"requests": {"storage": "5Gi"}},
        },
    }
    core.create_namespaced_persistent_volume_claim(namespace, claim)
    body = pod_manifest("zonal")
    body["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "restored"}}]
    core.create_namespaced_pod(namespace, body)
    cluster.settle()
    assert core.read_namespaced_persistent_volume_claim("restored", namespace).spec.volume_name == volume
    assert zone_of(core, "zonal", namespace) == ZONES[2]
    assert core.read_namespaced_pod("zonal", namespace).status.phase == "Running"


def test_wait_for_first_consumer_provisions_in_the_chosen_nodes_zone(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    claim = {
        "metadata": {"name": "late"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "3Gi"}}},
    }
    core.create_namespaced_persistent_volume_claim(namespace, claim)
    cluster.settle()
    assert core.read_namespaced_persistent_volume_claim("late", namespace).status.phase == "Pending"  # no consumer yet
    body = pod_manifest("consumer", nodeSelector={ZONE: ZONES[1]})
    body["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "late"}}]
    core.create_namespaced_pod(namespace, body)
    cluster.settle()
    bound = core.read_namespaced_persistent_volume_claim("late", namespace)
    volume = core.read_persistent_volume(bound.spec.volume_name)
    assert volume.spec.node_affinity.required.node_selector_terms[0].match_expressions[0].values == [ZONES[1]]
    assert (
        bound.metadata.annotations["volume.kubernetes.io/selected-node"]
        == core.read_namespaced_pod("consumer", namespace).spec.node_name
    )


class TestTopologySpread:
    @staticmethod
    def spread(policy: str) -> dict[str, Any]:
        return {
            "maxSkew": 1,
            "topologyKey": ZONE,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "spread"}},
            "nodeTaintsPolicy": policy,
        }

    def _place(self, own: KubeCluster, policy: str) -> client.V1Pod:
        core = client.CoreV1Api(own.api_client())
        for zone in ZONES[1:]:
            core.create_namespaced_pod(
                "default", pod_manifest(f"s-{zone}", labels={"app": "spread"}, nodeSelector={ZONE: zone})
            )
        own.settle()
        for node in (f"{ZONES[0]}-node-0", f"{ZONES[0]}-node-1"):
            core.patch_node(node, {"spec": {"taints": [{"key": "example.com/zone-down", "effect": "NoSchedule"}]}})
        core.create_namespaced_pod(
            "default", pod_manifest("mover", labels={"app": "spread"}, topologySpreadConstraints=[self.spread(policy)])
        )
        own.settle()
        return core.read_namespaced_pod("mover", "default")

    def test_a_tainted_empty_zone_still_counts_by_default_and_blocks(self, make_cluster) -> None:
        pod = self._place(make_cluster(), "Ignore")
        assert not pod.spec.node_name
        message = next(c.message for c in pod.status.conditions if c.type == "PodScheduled")
        assert "4 node(s) didn't match pod topology spread constraints" in message

    def test_honouring_taints_drops_the_dead_zone_from_the_count(self, make_cluster) -> None:
        assert self._place(make_cluster(), "Honor").spec.node_name


def test_a_pod_with_a_missing_claim_is_unschedulable(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    body = pod_manifest("orphan-claim")
    body["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "absent"}}]
    core.create_namespaced_pod(namespace, body)
    cluster.settle()
    assert (
        scheduled_condition(core, "orphan-claim", namespace).message
        == '0/6 nodes are available: persistentvolumeclaim "absent" not found.'
    )
    assert api_error(core.read_namespaced_persistent_volume_claim, "absent", namespace)[0] == 404
