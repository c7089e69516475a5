"""Persistent storage: the PV controller and EBS CSI provisioner, attach/detach, and the protection finalizers.

- Binding: a claim pre-bound by `spec.volumeName`, a static PV pre-bound by `claimRef`, or a matching
  Available PV is bound both ways (`pv.kubernetes.io/bind-completed`, phases Bound).
- Provisioning (the external-provisioner with the EBS CSI driver): a WaitForFirstConsumer claim is
  provisioned once the scheduler names a node (`volume.kubernetes.io/selected-node`), in that node's zone,
  through the injected `VolumeProvisioner`; the PV is written as the driver writes it.
- Reclaim: a Released PV with `Delete` loses its volume and goes; with `Retain` it stays Released.
- Attach/detach (with the external-attacher): a VolumeAttachment per volume and node while a scheduled pod
  uses it; detached when no pod on the node uses it and the node can confirm (its kubelet runs), or at once
  on an `out-of-service` node, or after 6 minutes on an unreachable one. An EBS volume attaches to one node
  at a time: a second node waits (Multi-Attach error), which is why a pet stuck on a dead node blocks.
- Protection: `kubernetes.io/pvc-protection` stays while a scheduled pod uses the claim;
  `kubernetes.io/pv-protection` while the PV is Bound.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.defaults import PV_PROTECTION, PVC_PROTECTION
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    EBS_DRIVER,
    ZONE_LABEL,
    Obj,
    annotations_of,
    gib_ceil,
    has_taint,
    is_deleting,
    is_pod_terminal,
    name_of,
    namespace_of,
    node_ready_status,
    node_zone,
    parse_quantity,
    pod_claim_names,
    uid_of,
)
from sandbox.kube.registry import DeleteOptions
from sandbox.kube.scheduling import volume_fits_node

PROVISIONER_FINALIZER = "external-provisioner.volume.kubernetes.io/finalizer"
ATTACHER_FINALIZER = "external-attacher/ebs-csi-aws-com"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
MAX_WAIT_FOR_UNMOUNT = timedelta(minutes=6)
COMPONENT_PV = "persistentvolume-controller"
COMPONENT_PROVISIONER = f"{EBS_DRIVER}_ebs-csi-controller_sandbox"
COMPONENT_ADC = "attachdetach-controller"


def _set_phase(obj: Obj, phase: str) -> None:
    obj.setdefault("status", {})["phase"] = phase


class PersistentVolumeController:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry
        self._retry_at: dict[str, float] = {}  # claim uid -> when provisioning may be tried again (real seconds)
        self._failures: dict[str, int] = {}
        self._identity = f"{int(time.time() * 1000)}-8081-{EBS_DRIVER}"

    def sync(self) -> None:
        store = self.context.store
        for volume in store.list(resources.PERSISTENT_VOLUMES.key):
            self._sync_volume(volume)
        for claim in store.list(resources.PERSISTENT_VOLUME_CLAIMS.key):
            if not is_deleting(claim) or claim.get("spec", {}).get("volumeName"):
                self._sync_claim(claim)

    # --- volumes --------------------------------------------------------------------------------------------

    def _sync_volume(self, volume: Obj) -> None:
        store, name = self.context.store, name_of(volume)
        spec, phase = volume.get("spec", {}), volume.get("status", {}).get("phase")
        finalizers = volume["metadata"].get("finalizers") or []
        if PROVISIONER_FINALIZER in finalizers and spec.get("persistentVolumeReclaimPolicy") != "Delete":
            self._drop_finalizer(volume, PROVISIONER_FINALIZER)  # Retain now: the provisioner lets go of it
            return
        if is_deleting(volume) and PROVISIONER_FINALIZER in finalizers:
            if phase != "Bound" and self._delete_backing_volume(volume):
                self._drop_finalizer(volume, PROVISIONER_FINALIZER)
            return
        ref = spec.get("claimRef")
        if not ref:
            self._phase(volume, "Available")
            return
        claim = store.get(resources.PERSISTENT_VOLUME_CLAIMS.key, ref.get("namespace", ""), ref.get("name", ""))
        if claim is not None and (not ref.get("uid") or ref.get("uid") == uid_of(claim)):
            if claim.get("spec", {}).get("volumeName") == name:
                self._bind(claim, volume)
            elif not ref.get("uid"):
                self._phase(volume, "Available")
            return
        if not ref.get("uid"):
            self._phase(volume, "Available")  # pre-bound to a claim that does not exist yet
            return
        if phase not in {"Released", "Failed"}:
            self._phase(volume, "Released")
            self.registry.record_event(volume, "VolumeReleased", "claim no longer exists", component=COMPONENT_PV)
            return
        if (
            spec.get("persistentVolumeReclaimPolicy") == "Delete"
            and not is_deleting(volume)
            and self._delete_backing_volume(volume)
        ):
            try:
                self.registry.delete(resources.PERSISTENT_VOLUMES, "", name, DeleteOptions())
            except ApiError:
                return
            volume = store.get(resources.PERSISTENT_VOLUMES.key, "", name) or volume
            if PROVISIONER_FINALIZER in (volume["metadata"].get("finalizers") or []):
                self._drop_finalizer(volume, PROVISIONER_FINALIZER)

    def _delete_backing_volume(self, volume: Obj) -> bool:
        """Delete the EBS volume behind a PV the driver provisioned (it must be detached first, as in EC2)."""
        spec = volume.get("spec", {})
        if spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return True
        csi = spec.get("csi") or {}
        if (
            csi.get("driver") != EBS_DRIVER
            or annotations_of(volume).get("pv.kubernetes.io/provisioned-by") != EBS_DRIVER
        ):
            return True
        attached = [
            va
            for va in self.context.store.list(resources.VOLUME_ATTACHMENTS.key)
            if va.get("spec", {}).get("source", {}).get("persistentVolumeName") == name_of(volume)
        ]
        if attached:
            return False
        try:
            self.context.provisioner.delete_volume(csi["volumeHandle"])
        except Exception as problem:
            self.registry.record_event(
                volume,
                "VolumeFailedDelete",
                f"rpc error: {problem}",
                component=COMPONENT_PROVISIONER,
                event_type="Warning",
            )
            return False
        return True

    def _drop_finalizer(self, obj: Obj, finalizer: str) -> None:
        rt = resources.PERSISTENT_VOLUMES if obj["kind"] == "PersistentVolume" else resources.PERSISTENT_VOLUME_CLAIMS

        def drop(new: Obj) -> None:
            new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]

        self.registry.mutate(rt, namespace_of(obj), name_of(obj), drop)

    def _phase(self, volume: Obj, phase: str) -> None:
        if volume.get("status", {}).get("phase") != phase:
            self.registry.mutate(
                resources.PERSISTENT_VOLUMES,
                "",
                name_of(volume),
                lambda obj: _set_phase(obj, phase),
                subresource="status",
            )

    # --- claims ---------------------------------------------------------------------------------------------

    def _sync_claim(self, claim: Obj) -> None:
        store = self.context.store
        volume_name = claim.get("spec", {}).get("volumeName")
        if volume_name:
            volume = store.get(resources.PERSISTENT_VOLUMES.key, "", volume_name)
            if volume is None:
                self._claim_phase(claim, "Lost" if claim.get("status", {}).get("phase") == "Bound" else "Pending")
                return
            ref = volume.get("spec", {}).get("claimRef") or {}
            mine = ref.get("name") == name_of(claim) and ref.get("namespace") == namespace_of(claim)
            if not ref or (mine and ref.get("uid") in (None, "", uid_of(claim))):
                self._bind(claim, volume)
            return
        prebound = self._prebound_volume(claim)
        if prebound is not None:
            self._bind(claim, prebound)  # a PV whose claimRef names this claim binds at once, even before a node
            return
        selected = annotations_of(claim).get(SELECTED_NODE)
        storage_class = self._storage_class(claim)
        wait = (storage_class or {}).get("volumeBindingMode") == "WaitForFirstConsumer"
        node = store.get(resources.NODES.key, "", selected) if selected else None
        if wait and node is None:
            return
        volume = self._matching_volume(claim, node)
        if volume is not None:
            self._bind(claim, volume)
        elif storage_class is not None and storage_class.get("provisioner") == EBS_DRIVER:
            self._provision(claim, storage_class, node)

    def _storage_class(self, claim: Obj) -> Obj | None:
        class_name = claim.get("spec", {}).get("storageClassName")
        return self.context.store.get(resources.STORAGE_CLASSES.key, "", class_name) if class_name else None

    def _prebound_volume(self, claim: Obj) -> Obj | None:
        for volume in self.context.store.list(resources.PERSISTENT_VOLUMES.key):
            ref = volume.get("spec", {}).get("claimRef") or {}
            if (
                ref.get("name") == name_of(claim)
                and ref.get("namespace") == namespace_of(claim)
                and ref.get("uid") in (None, "", uid_of(claim))
                and not is_deleting(volume)
                and volume.get("status", {}).get("phase") in (None, "Pending", "Available")
            ):
                return volume
        return None

    def _matching_volume(self, claim: Obj, node: Obj | None) -> Obj | None:
        spec = claim.get("spec", {})
        request = parse_quantity(spec.get("resources", {}).get("requests", {}).get("storage", "0"))
        candidates = []
        for volume in self.context.store.list(resources.PERSISTENT_VOLUMES.key):
            volume_spec = volume.get("spec", {})
            ref = volume_spec.get("claimRef")
            if is_deleting(volume) or volume.get("status", {}).get("phase") not in (None, "Pending", "Available"):
                continue
            if ref and not (ref.get("name") == name_of(claim) and ref.get("namespace") == namespace_of(claim)):
                continue
            if volume_spec.get("storageClassName", "") != spec.get("storageClassName", ""):
                continue
            if not set(spec.get("accessModes") or []) <= set(volume_spec.get("accessModes") or []):
                continue
            size = parse_quantity(volume_spec.get("capacity", {}).get("storage", "0"))
            if size < request or (node is not None and not volume_fits_node(volume, node)):
                continue
            candidates.append((0 if ref else 1, size, name_of(volume), volume))
        return min(candidates)[3] if candidates else None

    def _provision(self, claim: Obj, storage_class: Obj, node: Obj | None) -> None:
        uid = uid_of(claim)
        if time.monotonic() < self._retry_at.get(uid, 0.0):
            return
        annotations = annotations_of(claim)
        if annotations.get("volume.kubernetes.io/storage-provisioner") != EBS_DRIVER:
            self.registry.mutate(
                resources.PERSISTENT_VOLUME_CLAIMS,
                namespace_of(claim),
                name_of(claim),
                lambda obj: (
                    obj["metadata"]
                    .setdefault("annotations", {})
                    .update(
                        {
                            "volume.beta.kubernetes.io/storage-provisioner": EBS_DRIVER,
                            "volume.kubernetes.io/storage-provisioner": EBS_DRIVER,
                        }
                    )
                ),
            )
        zone = node_zone(node) if node is not None else self._any_zone()
        size = gib_ceil(str(claim["spec"]["resources"]["requests"]["storage"]))
        message = f'External provisioner is provisioning volume for claim "{namespace_of(claim)}/{name_of(claim)}"'
        self.registry.record_event(claim, "Provisioning", message, component=COMPONENT_PROVISIONER)
        try:
            volume_id = self.context.provisioner.create_volume(zone, size, claim)
        except Exception as problem:
            failures = self._failures.get(uid, 0) + 1
            self._failures[uid] = failures
            backoff = min(2 ** (failures - 1), 60)
            self._retry_at[uid] = time.monotonic() + backoff
            self.context.retry_in(backoff)
            self.registry.record_event(
                claim,
                "ProvisioningFailed",
                f'failed to provision volume with StorageClass "{name_of(storage_class)}": '
                f"rpc error: code = Internal desc = {problem}",
                component=COMPONENT_PROVISIONER,
                event_type="Warning",
            )
            return
        self._failures.pop(uid, None)
        self._retry_at.pop(uid, None)
        volume = provisioned_volume(claim, storage_class, zone, size=size, volume_id=volume_id, identity=self._identity)
        try:
            created = self.registry.create(resources.PERSISTENT_VOLUMES, "", volume)
        except ApiError:
            return
        self.registry.record_event(
            claim,
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {name_of(created)}",
            component=COMPONENT_PROVISIONER,
        )
        fresh = self.context.store.get(resources.PERSISTENT_VOLUME_CLAIMS.key, namespace_of(claim), name_of(claim))
        if fresh is not None:
            self._bind(fresh, created)

    def _any_zone(self) -> str:
        zones = sorted({node_zone(node) for node in self.context.store.list(resources.NODES.key) if node_zone(node)})
        return zones[0] if zones else ""

    def _bind(self, claim: Obj, volume: Obj) -> None:
        """Bind both ways, as the PV controller's bind() does, writing only what is not yet so."""
        namespace, claim_name, volume_name = namespace_of(claim), name_of(claim), name_of(volume)
        ref = volume.get("spec", {}).get("claimRef") or {}
        if ref.get("uid") != uid_of(claim) or ref.get("name") != claim_name:

            def claim_volume(obj: Obj) -> None:
                if not obj["spec"].get("claimRef"):
                    obj["metadata"].setdefault("annotations", {})["pv.kubernetes.io/bound-by-controller"] = "yes"
                obj["spec"]["claimRef"] = {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "name": claim_name,
                    "namespace": namespace,
                    "resourceVersion": claim["metadata"]["resourceVersion"],
                    "uid": uid_of(claim),
                }

            self.registry.mutate(resources.PERSISTENT_VOLUMES, "", volume_name, claim_volume)
        if volume.get("status", {}).get("phase") != "Bound":
            self.registry.mutate(
                resources.PERSISTENT_VOLUMES,
                "",
                volume_name,
                lambda obj: _set_phase(obj, "Bound"),
                subresource="status",
            )
        annotations = annotations_of(claim)
        if (
            claim.get("spec", {}).get("volumeName") != volume_name
            or annotations.get("pv.kubernetes.io/bind-completed") != "yes"
        ):

            def bind_claim(obj: Obj) -> None:
                extra = obj["metadata"].setdefault("annotations", {})
                if not obj["spec"].get("volumeName"):
                    extra["pv.kubernetes.io/bound-by-controller"] = "yes"
                extra["pv.kubernetes.io/bind-completed"] = "yes"
                obj["spec"]["volumeName"] = volume_name

            self.registry.mutate(resources.PERSISTENT_VOLUME_CLAIMS, namespace, claim_name, bind_claim)
        status = {
            "phase": "Bound",
            "accessModes": volume.get("spec", {}).get("accessModes", []),
            "capacity": volume.get("spec", {}).get("capacity", {}),
        }
        if {key: claim.get("status", {}).get(key) for key in status} != status:
            self.registry.mutate(
                resources.PERSISTENT_VOLUME_CLAIMS,
                namespace,
                claim_name,
                lambda obj: obj.setdefault("status", {}).update(status),
                subresource="status",
            )

    def _claim_phase(self, claim: Obj, phase: str) -> None:
        if claim.get("status", {}).get("phase") != phase:
            self.registry.mutate(
                resources.PERSISTENT_VOLUME_CLAIMS,
                namespace_of(claim),
                name_of(claim),
                lambda obj: _set_phase(obj, phase),
                subresource="status",
            )


def provisioned_volume(claim: Obj, storage_class: Obj, zone: str, *, size: int, volume_id: str, identity: str) -> Obj:
    """The PV the external-provisioner writes for a claim the EBS CSI driver provisioned in `zone`."""
    policy = storage_class.get("reclaimPolicy", "Delete")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{uid_of(claim)}",
            "annotations": {
                "pv.kubernetes.io/provisioned-by": EBS_DRIVER,
                "volume.kubernetes.io/provisioner-deletion-secret-name": "",
                "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
            },
            "finalizers": [PROVISIONER_FINALIZER] if policy == "Delete" else [],
        },
        "spec": {
            "accessModes": claim["spec"].get("accessModes", ["ReadWriteOnce"]),
            "capacity": {"storage": f"{size}Gi"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "name": name_of(claim),
                "namespace": namespace_of(claim),
                "resourceVersion": claim["metadata"]["resourceVersion"],
                "uid": uid_of(claim),
            },
            "csi": {
                "driver": EBS_DRIVER,
                "fsType": (storage_class.get("parameters") or {}).get("csi.storage.k8s.io/fstype", "ext4"),
                "volumeAttributes": {"storage.kubernetes.io/csiProvisionerIdentity": identity},
                "volumeHandle": volume_id,
            },
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": [zone]}]}
                    ]
                }
            },
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": name_of(storage_class),
            "volumeMode": claim["spec"].get("volumeMode", "Filesystem"),
        },
    }


class PvcProtectionController:
    def __init__(self, context: Context) -> None:
        self.context = context

    def sync(self) -> None:
        store = self.context.store
        for claim in store.list(resources.PERSISTENT_VOLUME_CLAIMS.key):
            if not is_deleting(claim) or PVC_PROTECTION not in (claim["metadata"].get("finalizers") or []):
                continue
            in_use = any(
                name_of(claim) in pod_claim_names(pod)
                and pod.get("spec", {}).get("nodeName")
                and not is_pod_terminal(pod)
                for pod in store.list(resources.PODS.key, namespace_of(claim))
            )
            if not in_use:
                self.context.registry.mutate(
                    resources.PERSISTENT_VOLUME_CLAIMS,
                    namespace_of(claim),
                    name_of(claim),
                    lambda obj: obj["metadata"].update(
                        finalizers=[f for f in obj["metadata"]["finalizers"] if f != PVC_PROTECTION]
                    ),
                )


class PvProtectionController:
    def __init__(self, context: Context) -> None:
        self.context = context

    def sync(self) -> None:
        for volume in self.context.store.list(resources.PERSISTENT_VOLUMES.key):
            finalizers = volume["metadata"].get("finalizers") or []
            if is_deleting(volume) and PV_PROTECTION in finalizers and volume.get("status", {}).get("phase") != "Bound":
                self.context.registry.mutate(
                    resources.PERSISTENT_VOLUMES,
                    "",
                    name_of(volume),
                    lambda obj: obj["metadata"].update(
                        finalizers=[f for f in obj["metadata"]["finalizers"] if f != PV_PROTECTION]
                    ),
                )


def attachment_name(volume_handle: str, node: str) -> str:
    """The name the attach/detach controller gives a CSI VolumeAttachment."""
    return "csi-" + hashlib.sha256(f"{volume_handle}{EBS_DRIVER}{node}".encode()).hexdigest()


class AttachDetachController:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry
        self._unwanted_since: dict[str, datetime] = {}  # attachment name -> when no pod needed it any more
        self._reported: set[tuple[str, str]] = set()  # (pod uid, volume) already told about a Multi-Attach

    def sync(self) -> None:
        store = self.context.store
        wanted: dict[tuple[str, str], Obj] = {}  # (pv, node) -> a pod that needs it
        for node_name, pods in store.pods_by_node().items():
            if not node_name:
                continue
            for pod in pods:
                if is_pod_terminal(pod):
                    continue
                for claim_name in pod_claim_names(pod):
                    claim = store.get(resources.PERSISTENT_VOLUME_CLAIMS.key, namespace_of(pod), claim_name)
                    volume_name = (claim or {}).get("spec", {}).get("volumeName")
                    volume = store.get(resources.PERSISTENT_VOLUMES.key, "", volume_name) if volume_name else None
                    if volume is not None and (volume["spec"].get("csi") or {}).get("driver") == EBS_DRIVER:
                        wanted.setdefault((volume_name, node_name), pod)
        self._reported &= {(uid_of(pod), volume) for (volume, _), pod in wanted.items()}
        attachments = store.list(resources.VOLUME_ATTACHMENTS.key)
        attached = {
            (va["spec"]["source"].get("persistentVolumeName"), va["spec"]["nodeName"]): va for va in attachments
        }
        for (volume_name, node_name), pod in wanted.items():
            if (volume_name, node_name) not in attached:
                self._attach(volume_name, node_name, pod, attached)
        for key, attachment in attached.items():
            if key in wanted:
                self._unwanted_since.pop(name_of(attachment), None)
                self._confirm(attachment)
            else:
                self._detach(attachment)

    def _attach(self, volume_name: str, node_name: str, pod: Obj, attached: dict[tuple[str, str], Obj]) -> None:
        elsewhere = [node for (volume, node) in attached if volume == volume_name and node != node_name]
        if elsewhere:
            if (uid_of(pod), volume_name) in self._reported:
                return  # retried quietly: one warning per pod and volume, as the correlator folds them
            self._reported.add((uid_of(pod), volume_name))
            self.registry.record_event(
                pod,
                "FailedAttachVolume",
                f'Multi-Attach error for volume "{volume_name}" '
                "Volume is already exclusively attached to one node and can't be attached to another",
                component=COMPONENT_ADC,
                event_type="Warning",
            )
            return
        volume = self.context.store.get(resources.PERSISTENT_VOLUMES.key, "", volume_name)
        if volume is None:
            return
        attachment = {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "VolumeAttachment",
            "metadata": {
                "name": attachment_name(volume["spec"]["csi"]["volumeHandle"], node_name),
                "finalizers": [ATTACHER_FINALIZER],
            },
            "spec": {"attacher": EBS_DRIVER, "nodeName": node_name, "source": {"persistentVolumeName": volume_name}},
        }
        try:
            created = self.registry.create(resources.VOLUME_ATTACHMENTS, "", attachment)
        except ApiError:
            return
        self._confirm(created)
        self.registry.record_event(
            pod,
            "SuccessfulAttachVolume",
            f'AttachVolume.Attach succeeded for volume "{volume_name}"',
            component=COMPONENT_ADC,
        )

    def _confirm(self, attachment: Obj) -> None:
        """The external-attacher's part: EC2 attached the volume."""
        if attachment.get("status", {}).get("attached") or is_deleting(attachment):
            return
        status = {"attached": True, "attachmentMetadata": {"devicePath": "/dev/xvdaa"}}
        self.registry.mutate(
            resources.VOLUME_ATTACHMENTS,
            "",
            name_of(attachment),
            lambda obj: obj.update(status=status),
            subresource="status",
        )

    def _detach(self, attachment: Obj) -> None:
        name, node_name = name_of(attachment), attachment["spec"]["nodeName"]
        now = self.context.clock.now()
        since = self._unwanted_since.setdefault(name, now)
        node = self.context.store.get(resources.NODES.key, "", node_name)
        safe = (
            node is None
            or self.context.alive.get(node_name, False)
            or (
                node_ready_status(node) != "True"
                and (has_taint(node, OUT_OF_SERVICE) or now - since >= MAX_WAIT_FOR_UNMOUNT)
            )
        )
        if not safe:
            return
        if not is_deleting(attachment):
            self.registry.delete(resources.VOLUME_ATTACHMENTS, "", name, DeleteOptions())
        self.registry.mutate(
            resources.VOLUME_ATTACHMENTS,
            "",
            name,
            lambda obj: obj["metadata"].update(
                finalizers=[f for f in obj["metadata"].get("finalizers") or [] if f != ATTACHER_FINALIZER]
            ),
        )
        self._unwanted_since.pop(name, None)
