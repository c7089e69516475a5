"""Deletion: graceful and forced pod deletion, finalizers, propagation policies, namespaces, storage protection.

From "Garbage Collection", "Finalizers" and "Pod Lifecycle / Termination of Pods": a pod with a grace period
is only marked (deletionTimestamp) until its kubelet confirms; grace 0 removes it at once; an object with
finalizers stays until they are gone; dependents follow their owner unless orphaned.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import api_error, deployment, parked_pod, pod_manifest, stateful_set


def claim(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def pod_using(name: str, claim_name: str, **spec: Any) -> dict[str, Any]:
    body = pod_manifest(name, **spec)
    body["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]
    return body


class TestPods:
    def test_graceful_deletion_marks_the_pod_until_its_kubelet_confirms(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        core.create_namespaced_pod(namespace, pod_manifest("graceful", nodeName="us-east-1a-node-0"))
        cluster.settle()
        marked = core.delete_namespaced_pod("graceful", namespace)
        assert marked.metadata.deletion_timestamp is not None and marked.metadata.deletion_grace_period_seconds == 30
        cluster.settle()
        code, _ = api_error(core.read_namespaced_pod, "graceful", namespace)
        assert code == 404

    def test_zero_grace_removes_the_pod_at_once(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        cluster.set_node_alive("us-east-1c-node-1", False)
        try:
            core.create_namespaced_pod(namespace, pod_manifest("forced", nodeName="us-east-1c-node-1"))
            core.delete_namespaced_pod("forced", namespace, grace_period_seconds=0)
            code, _ = api_error(core.read_namespaced_pod, "forced", namespace)
            assert code == 404
        finally:
            cluster.set_node_alive("us-east-1c-node-1", True)

    def test_an_unscheduled_pod_goes_at_once(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("never-bound"))
        core.delete_namespaced_pod("never-bound", namespace)
        code, _ = api_error(core.read_namespaced_pod, "never-bound", namespace)
        assert code == 404

    def test_a_pod_on_a_dead_node_stays_terminating(self, make_cluster) -> None:
        own = make_cluster(nodes_per_zone=1)
        core = client.CoreV1Api(own.api_client())
        core.create_namespaced_pod("default", pod_manifest("stuck", nodeName="us-east-1b-node-0"))
        own.settle()
        own.set_node_alive("us-east-1b-node-0", False)
        core.delete_namespaced_pod("stuck", "default", grace_period_seconds=5)
        own.clock.advance(3600)
        own.settle()
        pod = core.read_namespaced_pod("stuck", "default")
        assert pod.metadata.deletion_timestamp is not None and pod.status.phase == "Running"
        core.delete_namespaced_pod("stuck", "default", grace_period_seconds=0)
        assert api_error(core.read_namespaced_pod, "stuck", "default")[0] == 404

    def test_preconditions_protect_a_recreated_pod(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("pre"))
        options = {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}}
        code, status = api_error(core.delete_namespaced_pod, "pre", namespace, body=options)
        assert (code, status["reason"]) == (409, "Conflict") and status["message"].startswith(
            'Operation cannot be fulfilled on Pod "pre": the UID in the precondition (00000000-'
        )


class TestFinalizers:
    def test_an_object_with_finalizers_waits_for_them(self, apps: client.AppsV1Api, namespace: str) -> None:
        body = deployment("held", 0)
        body["metadata"]["finalizers"] = ["example.com/hold"]
        apps.create_namespaced_deployment(namespace, body)
        apps.delete_namespaced_deployment("held", namespace)
        held = apps.read_namespaced_deployment("held", namespace)
        assert held.metadata.deletion_timestamp is not None and held.metadata.generation == 2
        code, status = api_error(
            apps.patch_namespaced_deployment,
            "held",
            namespace,
            {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}},
        )
        assert code == 422 and "no new finalizers can be added if the object is being deleted" in status["message"]
        apps.patch_namespaced_deployment(
            "held", namespace, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/hold"]}}
        )
        assert api_error(apps.read_namespaced_deployment, "held", namespace)[0] == 404


class TestPropagation:
    def test_background_deletion_removes_pods_but_keeps_claims(
        self, cluster: KubeCluster, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_stateful_set(namespace, stateful_set("bg", 2))
        cluster.settle()
        apps.delete_namespaced_stateful_set("bg", namespace)
        cluster.settle()
        assert core.list_namespaced_pod(namespace).items == []
        assert sorted(c.metadata.name for c in core.list_namespaced_persistent_volume_claim(namespace).items) == [
            "data-bg-0",
            "data-bg-1",
        ]

    def test_orphan_deletion_keeps_pods_without_the_owner_reference(
        self, cluster: KubeCluster, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_stateful_set(namespace, stateful_set("orph", 1, storage=False))
        cluster.settle()
        apps.delete_namespaced_stateful_set("orph", namespace, propagation_policy="Orphan")
        cluster.settle()
        pod = core.read_namespaced_pod("orph-0", namespace)
        assert not pod.metadata.owner_references
        assert api_error(apps.read_namespaced_stateful_set, "orph", namespace)[0] == 404

    def test_foreground_deletion_keeps_the_owner_until_dependents_are_gone(
        self, cluster: KubeCluster, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_deployment(namespace, deployment("fg", 2))
        cluster.settle()
        marked = apps.delete_namespaced_deployment("fg", namespace, propagation_policy="Foreground")
        assert marked.status != "Success"  # still there, with the foregroundDeletion finalizer
        assert "foregroundDeletion" in apps.read_namespaced_deployment("fg", namespace).metadata.finalizers
        cluster.settle()
        assert api_error(apps.read_namespaced_deployment, "fg", namespace)[0] == 404
        assert (
            apps.list_namespaced_replica_set(namespace).items == [] and core.list_namespaced_pod(namespace).items == []
        )


class TestNamespaces:
    @pytest.mark.double_only(
        "the real namespace controller rechecks after its pods' 30 s grace period: too slow for the tier's budget"
    )
    def test_a_deleted_namespace_empties_then_goes(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        core.create_namespaced_pod(namespace, pod_manifest("inside"))
        cluster.settle()
        core.delete_namespace(namespace)
        assert core.read_namespace(namespace).status.phase == "Terminating"
        code, status = api_error(core.create_namespaced_pod, namespace, pod_manifest("late"))
        assert (code, status["reason"]) == (403, "Forbidden") and "because it is being terminated" in status["message"]
        cluster.settle()
        assert api_error(core.read_namespace, namespace)[0] == 404

    def test_system_namespaces_may_not_be_deleted(self, core: client.CoreV1Api) -> None:
        code, status = api_error(core.delete_namespace, "kube-system")
        assert (code, status["message"]) == (
            403,
            'namespaces "kube-system" is forbidden: this namespace may not be deleted',
        )


class TestStorageProtection:
    def test_a_claim_in_use_stays_until_its_pod_is_gone(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        core.create_namespaced_persistent_volume_claim(namespace, claim("guarded"))
        core.create_namespaced_pod(namespace, pod_using("user", "guarded"))
        cluster.settle()
        core.delete_namespaced_persistent_volume_claim("guarded", namespace)
        cluster.settle()
        held = core.read_namespaced_persistent_volume_claim("guarded", namespace)
        assert held.metadata.deletion_timestamp and held.metadata.finalizers == ["kubernetes.io/pvc-protection"]
        core.delete_namespaced_pod("user", namespace)
        cluster.settle()
        assert api_error(core.read_namespaced_persistent_volume_claim, "guarded", namespace)[0] == 404

    def test_delete_policy_deletes_the_volume_with_its_claim(self, make_cluster) -> None:
        own = make_cluster(nodes_per_zone=1)
        core = client.CoreV1Api(own.api_client())
        core.create_namespaced_persistent_volume_claim("default", claim("scratch"))
        core.create_namespaced_pod("default", pod_using("writer", "scratch"))
        own.settle()
        volume = core.read_namespaced_persistent_volume_claim("scratch", "default").spec.volume_name
        handle = core.read_persistent_volume(volume).spec.csi.volume_handle
        core.delete_namespaced_pod("writer", "default")
        core.delete_namespaced_persistent_volume_claim("scratch", "default")
        own.settle()
        assert api_error(core.read_persistent_volume, volume)[0] == 404
        assert handle not in own.context.provisioner.volumes  # the provisioner's delete_volume was called

    def test_retain_policy_leaves_a_released_volume(self, make_cluster) -> None:
        own = make_cluster(nodes_per_zone=1)
        core = client.CoreV1Api(own.api_client())
        core.create_namespaced_persistent_volume_claim("default", claim("keep"))
        core.create_namespaced_pod("default", pod_using("writer", "keep"))
        own.settle()
        volume = core.read_namespaced_persistent_volume_claim("keep", "default").spec.volume_name
        core.patch_persistent_volume(volume, {"spec": {"persistentVolumeReclaimPolicy": "Retain"}})
        core.delete_namespaced_pod("writer", "default")
        core.delete_namespaced_persistent_volume_claim("keep", "default")
        own.settle()
        released = core.read_persistent_volume(volume)
        assert released.status.phase == "Released" and released.spec.claim_ref.name == "keep"
        assert released.spec.csi.volume_handle in own.context.provisioner.volumes

    def test_a_bound_volume_is_protected_until_released(self, make_cluster) -> None:
        own = make_cluster(nodes_per_zone=1)
        core = client.CoreV1Api(own.api_client())
        core.create_namespaced_persistent_volume_claim("default", claim("pinned"))
        core.create_namespaced_pod("default", pod_using("writer", "pinned"))
        own.settle()
        volume = core.read_namespaced_persistent_volume_claim("pinned", "default").spec.volume_name
        core.patch_persistent_volume(volume, {"spec": {"persistentVolumeReclaimPolicy": "Retain"}})
        core.delete_persistent_volume(volume)
        own.settle()
        assert core.read_persistent_volume(volume).metadata.finalizers == ["kubernetes.io/pv-protection"]
        core.delete_namespaced_pod("writer", "default")
        core.delete_namespaced_persistent_volume_claim("pinned", "default")
        own.settle()
        assert api_error(core.read_persistent_volume, volume)[0] == 404
