"""Dynamic provisioning with the EBS CSI driver, static binding, and VolumeAttachments ("Persistent Volumes",
"Dynamic Volume Provisioning", "CSI volume attach", the aws-ebs-csi-driver's PV shape)."""

from __future__ import annotations

import hashlib
from typing import Any

from kubernetes import client

from sandbox.kube import KubeCluster
from tests.conftest import wait_for
from tests.sandbox.conftest import ZONES, pod_manifest

ZONE = "topology.kubernetes.io/zone"


class RecordingEbs:
    """A provisioner that remembers its calls and can fail a number of times first (EC2 throttling)."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.created: list[tuple[str, int, str]] = []
        self.deleted: list[str] = []

    def create_volume(self, zone: str, size_gib: int, claim: dict[str, Any]) -> str:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("RequestLimitExceeded: Request limit exceeded.")
        self.created.append((zone, size_gib, claim["metadata"]["name"]))
        return f"vol-{len(self.created):017x}"

    def delete_volume(self, volume_id: str) -> None:
        self.deleted.append(volume_id)


def claim(name: str, size: str = "1500Mi", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec},
    }


def consumer(name: str, claim_name: str, **spec: Any) -> dict[str, Any]:
    body = pod_manifest(name, **spec)
    body["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]
    return body


def test_a_provisioned_volume_looks_like_the_ebs_csi_drivers(make_cluster) -> None:
    ebs = RecordingEbs()
    own = make_cluster(nodes_per_zone=1, provisioner=ebs)
    core = client.CoreV1Api(own.api_client())
    core.create_namespaced_persistent_volume_claim("default", claim("data"))
    core.create_namespaced_pod("default", consumer("db", "data", nodeSelector={ZONE: ZONES[2]}))
    own.settle()
    assert ebs.created == [(ZONES[2], 2, "data")]  # 1500Mi rounds up to 2 GiB
    pvc = core.read_namespaced_persistent_volume_claim("data", "default")
    assert (pvc.status.phase, pvc.spec.storage_class_name, pvc.status.capacity) == (
        "Bound",
        "ebs-sc",
        {"storage": "2Gi"},
    )
    assert pvc.metadata.finalizers == ["kubernetes.io/pvc-protection"]
    annotations = pvc.metadata.annotations
    assert (
        annotations["pv.kubernetes.io/bind-completed"] == "yes"
        and annotations["pv.kubernetes.io/bound-by-controller"] == "yes"
    )
    assert annotations["volume.kubernetes.io/storage-provisioner"] == "ebs.csi.aws.com"
    assert annotations["volume.kubernetes.io/selected-node"] == f"{ZONES[2]}-node-0"
    pv = core.read_persistent_volume(pvc.spec.volume_name)
    assert pv.metadata.name == f"pvc-{pvc.metadata.uid}"
    assert pv.metadata.annotations["pv.kubernetes.io/provisioned-by"] == "ebs.csi.aws.com"
    assert (pv.spec.csi.driver, pv.spec.csi.volume_handle, pv.spec.csi.fs_type) == (
        "ebs.csi.aws.com",
        "vol-00000000000000001",
        "ext4",
    )
    expression = pv.spec.node_affinity.required.node_selector_terms[0].match_expressions[0]
    assert (expression.key, expression.operator, expression.values) == (ZONE, "In", [ZONES[2]])
    assert (pv.spec.claim_ref.name, pv.spec.claim_ref.namespace, pv.spec.claim_ref.uid) == (
        "data",
        "default",
        pvc.metadata.uid,
    )
    assert (pv.spec.persistent_volume_reclaim_policy, pv.spec.storage_class_name, pv.status.phase) == (
        "Delete",
        "ebs-sc",
        "Bound",
    )
    assert "kubernetes.io/pv-protection" in pv.metadata.finalizers


def test_a_static_volume_with_a_claim_ref_binds_to_that_claim(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    name = f"restored-{namespace}"
    core.create_persistent_volume(
        {
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "ebs-sc",
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0feedfacefeedface", "fsType": "ext4"},
                "claimRef": {"namespace": namespace, "name": "data-db-0"},
            },
        }
    )
    cluster.settle()
    assert core.read_persistent_volume(name).status.phase == "Available"
    core.create_namespaced_persistent_volume_claim(namespace, claim("data-db-0", "10Gi", storageClassName="ebs-sc"))
    cluster.settle()
    pvc = core.read_namespaced_persistent_volume_claim("data-db-0", namespace)
    pv = core.read_persistent_volume(name)
    assert (pvc.status.phase, pvc.spec.volume_name, pv.status.phase, pv.spec.claim_ref.uid) == (
        "Bound",
        name,
        "Bound",
        pvc.metadata.uid,
    )


def test_a_claim_naming_its_volume_binds_to_it(cluster: KubeCluster, core: client.CoreV1Api, namespace: str) -> None:
    name = f"named-{namespace}"
    core.create_persistent_volume(
        {
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "",
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0abcabcabcabcabca"},
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        namespace, claim("pinned", "1Gi", volumeName=name, storageClassName="")
    )
    cluster.settle()
    assert core.read_namespaced_persistent_volume_claim("pinned", namespace).status.phase == "Bound"
    assert core.read_persistent_volume(name).spec.claim_ref.name == "pinned"


def test_a_running_pod_has_its_volume_attached_to_its_node_until_it_goes(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    storage = client.StorageV1Api(cluster.api_client())
    core.create_namespaced_persistent_volume_claim(namespace, claim("attached"))
    core.create_namespaced_pod(namespace, consumer("user", "attached"))
    cluster.settle()
    pod = core.read_namespaced_pod("user", namespace)
    volume = core.read_persistent_volume(
        core.read_namespaced_persistent_volume_claim("attached", namespace).spec.volume_name
    )
    expected = (
        "csi-"
        + hashlib.sha256(f"{volume.spec.csi.volume_handle}ebs.csi.aws.com{pod.spec.node_name}".encode()).hexdigest()
    )
    attachment = storage.read_volume_attachment(expected)
    assert (attachment.spec.attacher, attachment.spec.node_name, attachment.spec.source.persistent_volume_name) == (
        "ebs.csi.aws.com",
        pod.spec.node_name,
        volume.metadata.name,
    )
    assert attachment.status.attached and pod.status.phase == "Running"
    core.delete_namespaced_pod("user", namespace)
    cluster.settle()
    assert expected not in {va.metadata.name for va in storage.list_volume_attachment().items}


def test_a_failed_provisioning_is_reported_and_retried(make_cluster) -> None:
    ebs = RecordingEbs(failures=1)
    own = make_cluster(nodes_per_zone=1, provisioner=ebs)
    core = client.CoreV1Api(own.api_client())
    core.create_namespaced_persistent_volume_claim("default", claim("flaky"))
    core.create_namespaced_pod("default", consumer("db", "flaky"))
    own.settle()
    failed = core.list_namespaced_event("default", field_selector="reason=ProvisioningFailed").items
    assert failed and failed[0].type == "Warning" and "RequestLimitExceeded" in failed[0].message
    assert core.read_namespaced_persistent_volume_claim("flaky", "default").status.phase == "Pending"

    def bound() -> bool:  # the external-provisioner retries after a second of (real-time) backoff
        own.settle()
        return core.read_namespaced_persistent_volume_claim("flaky", "default").status.phase == "Bound"

    wait_for(bound)
    assert len(ebs.created) == 1
