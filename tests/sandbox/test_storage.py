"""Dynamic provisioning with the EBS CSI driver, static binding, and VolumeAttachments ("Persistent Volumes",
"Dynamic Volume Provisioning", "CSI volume attach", the aws-ebs-csi-driver's PV shape)."""

from __future__ import annotations

import hashlib
from typing import Any

from kubernetes import client

from sandbox.kube import KubeCluster
from tests.conftest import wait_for
from tests.sandbox.conftest import ZONES, pod_manifest, stateful_set

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


class TestAClaimsLifeUnderAStatefulSet:
    """What Ferry's claim hand-over stands on, as kube-controller-manager does it: a claim deleted while its pod
    runs stays Terminating (kubernetes.io/pvc-protection) and stays bound to its volume; once the pod is gone
    the claim goes, the StatefulSet controller makes it again from the template, and the PV controller binds
    the new claim to a PV pre-bound to its name (claimRef without uid) at once, before any provisioning."""

    def restored(self, core: client.CoreV1Api, namespace: str, zone: str, *, name: str = "", **claim_ref: str) -> str:
        """A static EBS PV in `zone`, Retain, pre-bound to the claim `data-db-0` by name (and `claim_ref`)."""
        name = name or f"restored-{namespace}"
        core.create_persistent_volume(
            {
                "metadata": {"name": name},
                "spec": {
                    "capacity": {"storage": "10Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "ebs-sc",
                    "csi": {
                        "driver": "ebs.csi.aws.com",
                        "volumeHandle": f"vol-0{hashlib.sha256(name.encode()).hexdigest()[:16]}",
                        "fsType": "ext4",
                    },
                    "claimRef": {"namespace": namespace, "name": "data-db-0", **claim_ref},
                    "nodeAffinity": {
                        "required": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}
                            ]
                        }
                    },
                },
            }
        )
        return name

    def pet(self, cluster: KubeCluster, namespace: str) -> tuple[Any, Any]:
        apps = client.AppsV1Api(cluster.api_client())
        apps.create_namespaced_stateful_set(namespace, stateful_set("db", replicas=1))
        core = client.CoreV1Api(cluster.api_client())
        wait_for(lambda: _settled_running(cluster, core, namespace, "db-0"), timeout=60, what="db-0 Running")
        return core.read_namespaced_pod("db-0", namespace), core.read_namespaced_persistent_volume_claim(
            "data-db-0", namespace
        )

    def test_a_claim_deleted_under_its_pod_waits_then_comes_back_bound_to_the_pv_pre_bound_to_its_name(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        pod, old = self.pet(cluster, namespace)
        zone = ZONES[1] if ZONES[1] not in pod.spec.node_name else ZONES[2]
        restored = self.restored(core, namespace, zone)
        core.patch_persistent_volume(old.spec.volume_name, {"spec": {"persistentVolumeReclaimPolicy": "Retain"}})
        cluster.settle()
        assert core.read_persistent_volume(restored).status.phase == "Available"

        core.delete_namespaced_persistent_volume_claim("data-db-0", namespace)
        cluster.settle()
        held = core.read_namespaced_persistent_volume_claim("data-db-0", namespace)
        assert held.metadata.deletion_timestamp and held.metadata.finalizers == ["kubernetes.io/pvc-protection"]
        assert (held.metadata.uid, held.spec.volume_name, held.status.phase) == (
            old.metadata.uid,
            old.spec.volume_name,
            "Bound",
        )
        assert core.read_persistent_volume(old.spec.volume_name).status.phase == "Bound"
        assert _running(core, namespace, "db-0") and core.read_persistent_volume(restored).status.phase == "Available"

        core.delete_namespaced_pod("db-0", namespace)

        def replaced() -> bool:
            cluster.settle()
            fresh = core.list_namespaced_persistent_volume_claim(namespace).items
            return bool(fresh) and fresh[0].metadata.uid != old.metadata.uid and _running(core, namespace, "db-0")

        wait_for(replaced, timeout=60, what="db-0 Running again on a new claim")
        new = core.read_namespaced_persistent_volume_claim("data-db-0", namespace)
        assert (new.spec.volume_name, new.status.phase, new.metadata.labels) == (restored, "Bound", {"app": "db"})
        volume = core.read_persistent_volume(restored)
        assert (volume.status.phase, volume.spec.claim_ref.uid) == ("Bound", new.metadata.uid)
        assert core.read_namespaced_pod("db-0", namespace).spec.node_name.startswith(zone)
        released = core.read_persistent_volume(old.spec.volume_name)
        assert (released.status.phase, released.spec.claim_ref.uid) == ("Released", old.metadata.uid)

    def test_a_pending_pets_missing_claim_is_made_again_from_the_template_and_binds_the_pre_bound_pv(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        """The fenced pet's case: its pod, made again by the controller, waits (here: a scheduling gate) on the
        old claim; that claim is deleted (no scheduled pod holds it, so it goes at once). On its next sync of
        the Pending pod (any update of the pod: the scheduler's, in a real hand-over; here an annotation) the
        StatefulSet controller makes the missing claim again from the template (kube-controller-manager does
        since 1.27), and the PV controller binds it to the PV pre-bound to its name: Ferry's own claim,
        written later, finds it bound already."""
        old_pv = self.restored(core, namespace, ZONES[0], name=f"old-{namespace}")
        apps = client.AppsV1Api(cluster.api_client())
        body = stateful_set("db", replicas=1)
        body["spec"]["template"]["spec"]["schedulingGates"] = [{"name": "example.com/hold"}]
        apps.create_namespaced_stateful_set(namespace, body)

        def bound() -> Any:
            cluster.settle()
            found = core.list_namespaced_persistent_volume_claim(namespace).items
            return found and found[0].status.phase == "Bound" and found[0]

        old = wait_for(bound, timeout=30, what="data-db-0 made and bound to the old PV")
        pod = core.read_namespaced_pod("db-0", namespace)
        assert pod.status.phase == "Pending" and not pod.spec.node_name and old.spec.volume_name == old_pv
        restored = self.restored(core, namespace, ZONES[1])
        core.delete_namespaced_persistent_volume_claim("data-db-0", namespace)
        wait_for(lambda: not core.list_namespaced_persistent_volume_claim(namespace).items, timeout=30, what="gone")
        core.patch_namespaced_pod("db-0", namespace, {"metadata": {"annotations": {"example.com/nudge": "1"}}})

        new = wait_for(lambda: (c := bound()) and c.metadata.uid != old.metadata.uid and c, timeout=60, what="again")
        assert (new.spec.volume_name, new.metadata.labels) == (restored, {"app": "db"})
        core.patch_namespaced_pod("db-0", namespace, {"spec": {"schedulingGates": None}})
        wait_for(lambda: _settled_running(cluster, core, namespace, "db-0"), timeout=60, what="db-0 Running")
        assert core.read_namespaced_pod("db-0", namespace).spec.node_name.startswith(ZONES[1])

    def test_a_pv_whose_claim_ref_names_a_uid_no_claim_has_is_released_and_binds_nothing(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        """How Ferry releases a leftover PV it pre-bound (`ferry.executor.effects`): nothing binds to it."""
        restored = self.restored(core, namespace, ZONES[0], uid="released-by-ferry")
        pod, old = self.pet(cluster, namespace)
        cluster.settle()
        assert core.read_persistent_volume(restored).status.phase == "Released"
        assert old.spec.volume_name != restored and pod.status.phase == "Running"


def _settled_running(cluster: KubeCluster, core: client.CoreV1Api, namespace: str, name: str) -> bool:
    cluster.settle()
    return _running(core, namespace, name)


def _running(core: client.CoreV1Api, namespace: str, name: str) -> bool:
    pods = core.list_namespaced_pod(namespace, field_selector=f"metadata.name={name}").items
    return bool(pods) and pods[0].status.phase == "Running" and not pods[0].metadata.deletion_timestamp
