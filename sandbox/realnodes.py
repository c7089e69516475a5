"""What a real cluster has and a bare control plane lacks: kubelets and the EBS CSI driver, as stand-ins.

`RealCluster` puts them beside a `RealControlPlane` and offers the part of `KubeCluster`'s facade a
conformance test or a drill needs (`api_client`, `add_node`, `set_node_alive`, `settle`, `get`, `list`), so
the same test runs on the double and on the real thing. The stand-ins talk to the API server only through
its REST API, as the real components do, and reuse the double's manifests (node, running pod status,
provisioned PV) so that both backends see the same objects:

- **kubelet**, one per node that is alive: renews the node's Lease in `kube-node-lease` every
  `LEASE_RENEW` seconds, reports the node Ready when it is not, starts the pods bound to it once their
  claims are bound and their EBS volumes attached (status subresource: Running, every condition True),
  makes a Running pod Ready again when the node lifecycle controller marked it not ready, and completes
  graceful deletions (a delete with grace 0 and the pod's uid as precondition). A node that "dies" stops
  all of that, which is what leaves its pods Terminating on a real cluster.
- **EBS CSI driver** (external-provisioner and external-attacher with the driver's controller): for a
  WaitForFirstConsumer claim the PV controller handed over (`volume.kubernetes.io/storage-provisioner`)
  once the scheduler chose a node, makes a volume in the node's zone through the `VolumeProvisioner`
  (moto's EC2 in the sandbox) and writes the PV as the double's provisioner does (zone node affinity);
  deletes the volume of a Released PV whose policy is Delete; marks VolumeAttachments attached. It does not
  put the attacher's finalizer on attachments: the attach/detach controller's decisions are what matter.

Neither keeps a cache: each pass lists what it needs (a test cluster is small), so a restart loses nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import itertools
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kubernetes.client.exceptions import ApiException

from sandbox.kube import resources
from sandbox.kube.cluster import DEFAULT_STORAGE_CLASS_MANIFEST, FakeEbs, node_conditions, node_manifest
from sandbox.kube.controllers import VolumeProvisioner
from sandbox.kube.controllers.kubelet import LEASE_NAMESPACE, running_status
from sandbox.kube.controllers.volumes import SELECTED_NODE, attachment_name, provisioned_volume
from sandbox.kube.objects import (
    EBS_DRIVER,
    Obj,
    annotations_of,
    condition,
    fmt_micro_time,
    fmt_time,
    gib_ceil,
    is_deleting,
    is_pod_ready,
    name_of,
    namespace_of,
    node_zone,
    pod_claim_names,
    uid_of,
)
from sandbox.realkube import RealControlPlane

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

log = logging.getLogger(__name__)

# A real kubelet renews every 10 s for a 40 s lease; the control plane here calls a node Unknown after 8 s
# (CONTROLLER_MANAGER_TIMINGS), so the stand-in renews in proportion.
LEASE_RENEW = 2.0
LEASE_DURATION = 8
PASS_INTERVAL = 0.2
# What settle() watches: the objects controllers and stand-ins write, not Leases or Events (heartbeats).
SETTLE_KINDS = (
    resources.NAMESPACES,
    resources.PODS,
    resources.PERSISTENT_VOLUME_CLAIMS,
    resources.PERSISTENT_VOLUMES,
    resources.by_kind("StatefulSet"),
    resources.by_kind("ReplicaSet"),
    resources.by_kind("Deployment"),
    resources.NODES,
    resources.by_kind("PodDisruptionBudget"),
    resources.VOLUME_ATTACHMENTS,
)
# The scheduler's volume binding checks its claims once a second: a quieter second than that is settled.
SETTLE_QUIET = 1.2
CONTROLLER_MANAGED_ATTACH = "volumes.kubernetes.io/controller-managed-attach-detach"
APPLY_MANAGER = "ferry-sandbox"
# `apiserver_request_total`'s verbs as the double names them (the rest are the same word, upper case).
METRIC_VERBS = {"POST": "create", "PUT": "update", "APPLY": "patch"}


class Rest:
    """Raw JSON over the official client's connection: the stand-ins need a few verbs on any resource."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api

    @staticmethod
    def path(rt: resources.ResourceType, namespace: str = "", name: str = "", sub: str = "") -> str:
        base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
        if rt.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        return base + f"/{rt.plural}" + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Iterable[tuple[str, Any]] = (),
        content_type: str = "application/json",
    ) -> Obj:
        response = self.api.call_api(
            path,
            method,
            query_params=list(query),
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=10,
        )
        data: Obj = json.loads(response.data or b"{}")
        return data

    def list(self, rt: resources.ResourceType, namespace: str = "", **selectors: str) -> list[Obj]:
        items: list[Obj] = self.request("GET", self.path(rt, namespace), query=selectors.items()).get("items") or []
        return items

    def get(self, rt: resources.ResourceType, namespace: str, name: str) -> Obj | None:
        try:
            return self.request("GET", self.path(rt, namespace, name))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def create(self, rt: resources.ResourceType, namespace: str, body: Obj) -> Obj:
        return self.request("POST", self.path(rt, namespace), body)

    def merge(self, rt: resources.ResourceType, namespace: str, name: str, patch: Obj, sub: str = "") -> Obj:
        return self.request(
            "PATCH", self.path(rt, namespace, name, sub), patch, content_type="application/merge-patch+json"
        )

    def strategic(self, rt: resources.ResourceType, namespace: str, name: str, patch: Obj, sub: str = "") -> Obj:
        return self.request(
            "PATCH", self.path(rt, namespace, name, sub), patch, content_type="application/strategic-merge-patch+json"
        )

    def delete(self, rt: resources.ResourceType, namespace: str, name: str, options: Obj | None = None) -> None:
        self.request("DELETE", self.path(rt, namespace, name), options or {})


class StandInKubelets:
    """Every node's kubelet, in one loop: heartbeats, node status, pod start, Ready, graceful deletes."""

    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.alive: dict[str, bool] = {}
        self._renewed: dict[str, float] = {}  # node -> time.monotonic() of its last lease renewal
        self._pod_ips = itertools.count(2)

    def sync(self) -> None:
        alive = [name for name, up in list(self.alive.items()) if up]
        if not alive:
            return
        nodes = {name_of(node): node for node in self.rest.list(resources.NODES)}
        pods_by_node: dict[str, list[Obj]] = {}
        for pod in self.rest.list(resources.PODS):
            pods_by_node.setdefault(pod.get("spec", {}).get("nodeName") or "", []).append(pod)
        for name in alive:
            node = nodes.get(name)
            if node is None:
                continue
            self._renew_lease(node)
            self._report_status(node)
            for pod in pods_by_node.get(name, []):
                self._sync_pod(pod, node)

    def _renew_lease(self, node: Obj) -> None:
        name = name_of(node)
        if time.monotonic() - self._renewed.get(name, 0.0) < LEASE_RENEW:
            return
        spec = {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION, "renewTime": _micro_now()}
        try:
            self.rest.merge(resources.LEASES, LEASE_NAMESPACE, name, {"spec": spec})
        except ApiException as error:
            if error.status != 404:
                raise
            owner = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid_of(node)}
            lease = {"metadata": {"name": name, "ownerReferences": [owner]}, "spec": spec}
            self.rest.create(resources.LEASES, LEASE_NAMESPACE, lease)
        self._renewed[name] = time.monotonic()

    def _report_status(self, node: Obj) -> None:
        """Post the healthy conditions when Ready is not True (a new node, or one the controller marked Unknown)."""
        if (condition(node, "Ready") or {}).get("status") == "True":
            return
        conditions = node_conditions(fmt_time(datetime.now(UTC)))
        self.rest.strategic(resources.NODES, "", name_of(node), {"status": {"conditions": conditions}}, "status")

    def _sync_pod(self, pod: Obj, node: Obj) -> None:
        namespace, name = namespace_of(pod), name_of(pod)
        if is_deleting(pod):
            options = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid_of(pod)}}
            with contextlib.suppress(ApiException):  # gone or replaced meanwhile: nothing left to confirm
                self.rest.delete(resources.PODS, namespace, name, options)
            return
        phase = pod.get("status", {}).get("phase")
        if phase == "Pending" and self._volumes_attached(pod, node):
            pod_ip = str(ipaddress.IPv4Address("100.64.0.0") + next(self._pod_ips))
            status = running_status(pod, node, fmt_time(datetime.now(UTC)), pod_ip)
            self.rest.merge(resources.PODS, namespace, name, {"status": status}, "status")
        elif phase == "Running" and not is_pod_ready(pod):
            stamp = fmt_time(datetime.now(UTC))
            ready = [
                {"type": kind, "status": "True", "lastTransitionTime": stamp} for kind in ("Ready", "ContainersReady")
            ]
            self.rest.strategic(resources.PODS, namespace, name, {"status": {"conditions": ready}}, "status")

    def _volumes_attached(self, pod: Obj, node: Obj) -> bool:
        """A pod's claims must be bound, and its EBS volumes attached to this node, before it can run."""
        for claim_name in pod_claim_names(pod):
            claim = self.rest.get(resources.PERSISTENT_VOLUME_CLAIMS, namespace_of(pod), claim_name)
            if claim is None or claim.get("status", {}).get("phase") != "Bound":
                return False
            volume = self.rest.get(resources.PERSISTENT_VOLUMES, "", claim["spec"].get("volumeName", ""))
            if volume is None:
                return False
            csi = volume.get("spec", {}).get("csi") or {}
            if csi.get("driver") == EBS_DRIVER:
                name = attachment_name(csi["volumeHandle"], name_of(node))
                attachment = self.rest.get(resources.VOLUME_ATTACHMENTS, "", name)
                if attachment is None or not attachment.get("status", {}).get("attached"):
                    return False
        return True


class StandInEbsDriver:
    """The EBS CSI driver's controller side: provision, delete and attach volumes."""

    def __init__(self, rest: Rest, provisioner: VolumeProvisioner) -> None:
        self.rest = rest
        self.provisioner = provisioner
        self.identity = f"{int(time.time() * 1000)}-8081-{EBS_DRIVER}"

    def sync(self) -> None:
        for claim in self.rest.list(resources.PERSISTENT_VOLUME_CLAIMS):
            if self._wants_volume(claim):
                self._provision(claim)
        for volume in self.rest.list(resources.PERSISTENT_VOLUMES):
            self._reclaim(volume)
        for attachment in self.rest.list(resources.VOLUME_ATTACHMENTS):
            unattached = not attachment.get("status", {}).get("attached") and not is_deleting(attachment)
            if attachment["spec"].get("attacher") == EBS_DRIVER and unattached:
                status = {"attached": True, "attachmentMetadata": {"devicePath": "/dev/xvdaa"}}
                self.rest.merge(resources.VOLUME_ATTACHMENTS, "", name_of(attachment), {"status": status}, "status")

    @staticmethod
    def _wants_volume(claim: Obj) -> bool:
        annotations = annotations_of(claim)
        return (
            annotations.get("volume.kubernetes.io/storage-provisioner") == EBS_DRIVER
            and SELECTED_NODE in annotations
            and not claim.get("spec", {}).get("volumeName")
            and not is_deleting(claim)
        )

    def _provision(self, claim: Obj) -> None:
        volume_name = f"pvc-{uid_of(claim)}"
        if self.rest.get(resources.PERSISTENT_VOLUMES, "", volume_name) is not None:
            return  # written on an earlier pass; the PV controller binds it
        node = self.rest.get(resources.NODES, "", annotations_of(claim)[SELECTED_NODE])
        storage_class = self.rest.get(resources.STORAGE_CLASSES, "", claim["spec"].get("storageClassName") or "")
        if node is None or storage_class is None:
            return
        size = gib_ceil(str(claim["spec"]["resources"]["requests"]["storage"]))
        volume_id = self.provisioner.create_volume(node_zone(node), size, claim)
        volume = provisioned_volume(
            claim, storage_class, node_zone(node), size=size, volume_id=volume_id, identity=self.identity
        )
        self.rest.create(resources.PERSISTENT_VOLUMES, "", volume)

    def _reclaim(self, volume: Obj) -> None:
        """A Released PV with policy Delete that the driver made: its EBS volume goes, then the PV."""
        spec = volume.get("spec", {})
        if (
            spec.get("persistentVolumeReclaimPolicy") != "Delete"
            or annotations_of(volume).get("pv.kubernetes.io/provisioned-by") != EBS_DRIVER
            or (volume.get("status", {}).get("phase") != "Released" and not is_deleting(volume))
        ):
            return
        self.provisioner.delete_volume(spec["csi"]["volumeHandle"])
        finalizers = [f for f in volume["metadata"].get("finalizers") or [] if "external-provisioner" not in f]
        with contextlib.suppress(ApiException):
            self.rest.merge(resources.PERSISTENT_VOLUMES, "", name_of(volume), {"metadata": {"finalizers": finalizers}})
            self.rest.delete(resources.PERSISTENT_VOLUMES, "", name_of(volume))


class RealCluster:
    """A real control plane with stand-in kubelets and EBS driver, behind the double's facade."""

    def __init__(
        self,
        control_plane: RealControlPlane,
        *,
        provisioner: VolumeProvisioner | None = None,
    ) -> None:
        self.control_plane = control_plane
        self.name = control_plane.name
        self.provisioner = provisioner or FakeEbs()
        self._rest: Rest | None = None
        self.kubelets: StandInKubelets | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._addresses = itertools.count(10)
        self._seen = ("", 0.0)  # the last fingerprint settle() saw, and when it first saw it (time.monotonic())

    @property
    def url(self) -> str:
        return self.control_plane.url

    @property
    def token(self) -> str:
        return self.control_plane.token

    @property
    def ca_file(self) -> str:
        return self.control_plane.ca_file

    @property
    def rest(self) -> Rest:
        if self._rest is None:
            raise RuntimeError(f"cluster {self.name} is not started: call start() first")
        return self._rest

    def api_client(self) -> ApiClient:
        return self.control_plane.api_client()

    def kubeconfig(self) -> dict[str, Any]:
        """A kubeconfig for the admin user, the CA inline, as `kubectl config view --raw --minify` gives."""
        import base64

        user = f"{self.name}-admin"
        ca_data = base64.b64encode(self.control_plane.ca_pem.encode()).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.name, "cluster": {"server": self.url, "certificate-authority-data": ca_data}}],
            "users": [{"name": user, "user": {"token": self.token}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": user, "namespace": "default"}}],
            "current-context": self.name,
        }

    def start(self) -> None:
        """Start the control plane (unless running), seed the default StorageClass, start the stand-ins."""
        if not self.control_plane.port:
            self.control_plane.start()
        self._rest = Rest(self.control_plane.api_client())
        self.kubelets = StandInKubelets(self.rest)
        stand_ins = (self.kubelets, StandInEbsDriver(Rest(self.control_plane.api_client()), self.provisioner))
        self._wait_for_default_namespace()
        if self.rest.get(resources.STORAGE_CLASSES, "", DEFAULT_STORAGE_CLASS_MANIFEST["metadata"]["name"]) is None:
            self.rest.create(resources.STORAGE_CLASSES, "", DEFAULT_STORAGE_CLASS_MANIFEST)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(stand_ins,), daemon=True, name=f"stand-ins-{self.name}"
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.control_plane.stop()

    def _loop(self, stand_ins: tuple[StandInKubelets, StandInEbsDriver]) -> None:
        while not self._stop.wait(PASS_INTERVAL):
            for stand_in in stand_ins:
                try:
                    stand_in.sync()
                except Exception:
                    if self._stop.is_set():
                        return
                    log.exception("stand-in %s failed; it retries on its next pass", type(stand_in).__name__)

    def _wait_for_default_namespace(self) -> None:
        deadline = time.monotonic() + 30
        while self.rest.get(resources.NAMESPACES, "", "default") is None:
            if time.monotonic() > deadline:
                raise TimeoutError("the API server never created the default namespace")
            time.sleep(0.1)

    # --- nodes --------------------------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        zone: str,
        *,
        instance_id: str,
        control_plane: bool = False,
        labels: dict[str, str] | None = None,
    ) -> None:
        """Register a node as its kubelet does (status included, attach/detach left to the controller)."""
        node = node_manifest(
            name,
            zone,
            instance_id=instance_id,
            control_plane=control_plane,
            labels=labels,
            version="v1.36.2",
            address=str(ipaddress.IPv4Address("10.0.0.0") + next(self._addresses)),
            now=fmt_time(datetime.now(UTC)),
        )
        node["metadata"]["annotations"][CONTROLLER_MANAGED_ATTACH] = "true"
        self.rest.create(resources.NODES, "", node)
        assert self.kubelets is not None
        self.kubelets.alive[name] = True

    def set_node_alive(self, name: str, alive: bool) -> None:
        """Start or stop a node's kubelet stand-in: heartbeats, status and pod management."""
        assert self.kubelets is not None
        if name not in self.kubelets.alive:
            raise KeyError(f"no node {name} in cluster {self.name}")
        self.kubelets.alive[name] = alive

    # --- objects ------------------------------------------------------------------------------------------

    def apply(self, manifest: Obj) -> Obj:
        """Create or update an object as `kubectl apply --server-side --force-conflicts` does (status too, when
        given): the double's `apply`, done the real server's way."""
        rt = resources.by_kind(manifest["kind"], manifest.get("apiVersion"))
        namespace = (manifest.get("metadata") or {}).get("namespace") or ("default" if rt.namespaced else "")
        name = manifest["metadata"]["name"]
        body = {key: value for key, value in manifest.items() if key != "status"}
        body["metadata"] = {k: v for k, v in manifest["metadata"].items() if k != "resourceVersion"}
        applied = self._server_side_apply(rt, namespace, name, body)
        if "status" in manifest and rt.has_status:
            status = {"apiVersion": manifest["apiVersion"], "kind": manifest["kind"], "status": manifest["status"]}
            status["metadata"] = {"name": name, **({"namespace": namespace} if rt.namespaced else {})}
            applied = self._server_side_apply(rt, namespace, name, status, sub="status")
        return applied

    def _server_side_apply(
        self, rt: resources.ResourceType, namespace: str, name: str, body: Obj, sub: str = ""
    ) -> Obj:
        return self.rest.request(
            "PATCH",
            self.rest.path(rt, namespace if rt.namespaced else "", name, sub),
            body,
            query=(("fieldManager", APPLY_MANAGER), ("force", "true")),
            content_type="application/apply-patch+yaml",
        )

    def request_count(self) -> dict[str, int]:
        """API calls the server has answered, keyed as the double's ("create pods/eviction", "delete pods").

        Read from the API server's own `apiserver_request_total`: unlike the double's count, it includes the
        controllers' and the stand-ins' calls (a real control plane's controllers talk to it over HTTP too).
        """
        response = self.rest.api.call_api(
            "/metrics",
            "GET",
            header_params={"Accept": "text/plain"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=10,
        )
        counts: Counter[str] = Counter()
        for line in response.data.decode().splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels_text, _, value = line.rpartition(" ")
            labels = dict(re.findall(r'(\w+)="([^"]*)"', labels_text))
            if not labels.get("resource"):
                continue
            verb = METRIC_VERBS.get(labels.get("verb", ""), labels.get("verb", "").lower())
            resource = labels["resource"] + (f"/{labels['subresource']}" if labels.get("subresource") else "")
            counts[f"{verb} {resource}"] += int(float(value))
        return dict(counts)

    # --- reading ------------------------------------------------------------------------------------------

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        rt = resources.by_kind(kind)
        return self.rest.get(rt, (namespace or "default") if rt.namespaced else "", name)

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        rt = resources.by_kind(kind)
        return self.rest.list(rt, namespace or "")

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until what controllers and stand-ins write has not changed for `SETTLE_QUIET` seconds.

        The real controllers run on their own: there is no pass to run, only a quiet stretch to wait for
        (or `timeout`, plus the quiet stretch, of real time). The stretch counts from when the current state was
        first seen, by this call or an earlier one (resource versions only grow: the same fingerprint means no
        write in between), so settling a cluster that has been quiet since it last settled costs one look.
        """
        deadline = time.monotonic() + max(timeout, SETTLE_QUIET) + SETTLE_QUIET
        while True:
            current, now = self._fingerprint(), time.monotonic()
            if current != self._seen[0]:
                self._seen = (current, now)
            if now - self._seen[1] >= SETTLE_QUIET or now >= deadline:
                return
            time.sleep(min(0.25, SETTLE_QUIET - (now - self._seen[1])))

    def _fingerprint(self) -> str:
        digest = hashlib.sha256()
        for rt in SETTLE_KINDS:
            for obj in self.rest.list(rt):
                digest.update(
                    f"{rt.plural}/{namespace_of(obj)}/{name_of(obj)}@{obj['metadata']['resourceVersion']};".encode()
                )
        return digest.hexdigest()


def _micro_now() -> str:
    return fmt_micro_time(datetime.now(UTC))
