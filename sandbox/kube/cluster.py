"""`KubeCluster`: one sandbox Kubernetes cluster, the facade the game day and the end-to-end tests drive.

It puts together the store, the REST layer, the HTTP server and the controllers, seeds what a fresh
cluster has (the system namespaces, a default EBS StorageClass), and gives the knobs a test needs that a
real cluster does not have: adding nodes, stopping a node's kubelet, advancing the clock, injecting API
faults, and counting API calls.
"""

from __future__ import annotations

import builtins
import ipaddress
import itertools
import secrets
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sandbox.kube import resources
from sandbox.kube.clock import SandboxClock
from sandbox.kube.controllers import Context, ControllerManager, VolumeProvisioner
from sandbox.kube.controllers.deployment import DeploymentController, ReplicaSetController
from sandbox.kube.controllers.disruption import DisruptionController
from sandbox.kube.controllers.garbagecollector import GarbageCollector, NamespaceController
from sandbox.kube.controllers.kubelet import Kubelet
from sandbox.kube.controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController
from sandbox.kube.controllers.podgc import PodGarbageCollector
from sandbox.kube.controllers.scheduler import Scheduler
from sandbox.kube.controllers.statefulset import StatefulSetController
from sandbox.kube.controllers.volumes import (
    AttachDetachController,
    PersistentVolumeController,
    PvcProtectionController,
    PvProtectionController,
)
from sandbox.kube.faults import Faults
from sandbox.kube.objects import (
    EBS_DRIVER,
    EBS_ZONE_LABEL,
    HOSTNAME_LABEL,
    REGION_LABEL,
    ZONE_LABEL,
    Obj,
    clone,
    fmt_time,
)
from sandbox.kube.registry import Registry
from sandbox.kube.server import ApiServer, ScaleWrite
from sandbox.kube.store import Store

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
DEFAULT_STORAGE_CLASS = "ebs-sc"
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
DEFAULT_STORAGE_CLASS_MANIFEST: Obj = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": DEFAULT_STORAGE_CLASS,
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    },
    "provisioner": EBS_DRIVER,
    "parameters": {"type": "gp3", "csi.storage.k8s.io/fstype": "ext4"},
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "WaitForFirstConsumer",
    "allowVolumeExpansion": True,
}


class FakeEbs:
    """A provisioner for clusters run without the sandbox's AWS: volume ids only, nothing behind them."""

    def __init__(self) -> None:
        self.volumes: dict[str, str] = {}  # volume id -> zone

    def create_volume(self, zone: str, size_gib: int, claim: dict[str, Any]) -> str:
        volume_id = "vol-" + secrets.token_hex(9)[:17]
        self.volumes[volume_id] = zone
        return volume_id

    def delete_volume(self, volume_id: str) -> None:
        self.volumes.pop(volume_id, None)


class KubeCluster:
    def __init__(
        self,
        name: str,
        *,
        version: str = "v1.31.0",
        clock: SandboxClock | None = None,
        provisioner: VolumeProvisioner | None = None,
        token: str = "sandbox-token",
        node_monitor_grace_period: float = 40.0,
        kubelet_start_delay: float = 0.0,
        authenticator: Callable[[str], bool] | None = None,
    ) -> None:
        self.name = name
        self.token = token
        self.version = version
        self.clock = clock or SandboxClock(realtime=True)
        self.store = Store()
        self.registry = Registry(self.store, self.clock)
        self.faults = Faults()
        self.server = ApiServer(
            self.registry, token=token, version=version, faults=self.faults, authenticator=authenticator
        )
        self.context = Context(
            self.registry,
            self.clock,
            provisioner or FakeEbs(),
            node_monitor_grace_period=node_monitor_grace_period,
            kubelet_start_delay=kubelet_start_delay,
        )
        self.controllers = ControllerManager(
            self.context,
            [
                GarbageCollector(self.context),
                NamespaceController(self.context),
                StatefulSetController(self.context),
                DeploymentController(self.context),
                ReplicaSetController(self.context),
                Scheduler(self.context),
                PersistentVolumeController(self.context),
                AttachDetachController(self.context),
                Kubelet(self.context),
                NodeLifecycleController(self.context),
                TaintEvictionController(self.context),
                PodGarbageCollector(self.context),
                PvcProtectionController(self.context),
                PvProtectionController(self.context),
                DisruptionController(self.context),
            ],
        )
        self._addresses = itertools.count(10)
        self._seed()

    # --- lifecycle ------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self.server.port:
            raise RuntimeError(f"cluster {self.name} is not started: call start() first")
        return self.server.url

    def start(self) -> None:
        self.server.start()
        self.controllers.start()

    def stop(self) -> None:
        self.controllers.stop()
        self.server.stop()

    def __enter__(self) -> KubeCluster:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def api_client(self) -> ApiClient:
        """The official client, configured for this cluster as a kubeconfig with a bearer token would."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        # The prefix goes into the key itself: client 36 looks `api_key_prefix` up under "BearerToken", so
        # {"authorization": token} with prefix {"authorization": "Bearer"} sends a bare token (a 401).
        configuration.api_key = {"authorization": f"Bearer {self.token}"}
        return client.ApiClient(configuration)

    def kubeconfig(self) -> dict[str, Any]:
        user = f"{self.name}-admin"
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.name, "cluster": {"server": self.url}}],
            "users": [{"name": user, "user": {"token": self.token}}],
            "contexts": [{"name": self.name, "context": {"cluster": self.name, "user": user, "namespace": "default"}}],
            "current-context": self.name,
            "preferences": {},
        }

    # --- nodes ----------------------------------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        zone: str,
        *,
        instance_id: str,
        control_plane: bool = False,
        labels: dict[str, str] | None = None,
        pods: int = 110,
        instance_type: str = "m5.large",
    ) -> None:
        """Register a Ready node whose kubelet is running, as a freshly joined EC2 instance looks."""
        node = node_manifest(
            name,
            zone,
            instance_id=instance_id,
            control_plane=control_plane,
            labels=labels,
            pods=pods,
            instance_type=instance_type,
            version=self.version,
            address=str(ipaddress.IPv4Address("10.0.0.0") + next(self._addresses)),
            now=fmt_time(self.clock.now()),
        )
        self.registry.create(resources.NODES, "", node)
        self.context.alive[name] = True

    def set_node_alive(self, name: str, alive: bool) -> None:
        """Start or stop a node's kubelet: heartbeats and pod management (the instance is up or down)."""
        if self.store.get(resources.NODES.key, "", name) is None:
            raise KeyError(f"no node {name} in cluster {self.name}")
        self.context.alive[name] = alive

    # --- objects --------------------------------------------------------------------------------------------

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object directly, as `kubectl apply` would (status too, when given)."""
        rt = resources.by_kind(manifest["kind"], manifest.get("apiVersion"))
        namespace = (manifest.get("metadata") or {}).get("namespace") or ("default" if rt.namespaced else "")
        name = manifest["metadata"]["name"]
        with self.store.lock:
            current = self.store.get(rt.key, namespace, name)
            body = clone(manifest)
            body["metadata"].pop("resourceVersion", None)
            if current is None:
                stored = self.registry.create(rt, namespace, body)
            else:
                stored = self.registry.update(rt, namespace, name, body)
            if "status" in manifest and rt.has_status:
                stored = self.registry.update(
                    rt, namespace, name, {**clone(stored), "status": clone(manifest["status"])}, subresource="status"
                )
        copied: dict[str, Any] = clone(stored)
        return copied

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        rt = resources.by_kind(kind)
        obj = self.store.get(rt.key, (namespace or "default") if rt.namespaced else "", name)
        return clone(obj) if obj is not None else None

    def list(self, kind: str, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        rt = resources.by_kind(kind)
        return [clone(obj) for obj in self.store.list(rt.key, namespace if rt.namespaced else None)]

    def settle(self, timeout: float = 5.0) -> None:
        self.controllers.settle(timeout)

    # --- faults ---------------------------------------------------------------------------------------------

    def set_outage(self, down: bool) -> None:
        """Down: the listening socket closes and open connections drop; up: it listens again on the same port.

        Everything that talks to the API server stops with it, so the controllers and kubelets pause: the
        cluster's state is frozen for the outage, as etcd's is.
        """
        self.controllers.paused = down
        self.server.set_outage(down)

    def set_error_rate(
        self, rate: float, *, codes: tuple[int, ...] = (429, 500), retry_after: int = 1, seed: int | None = None
    ) -> None:
        self.faults.set_error_rate(rate, codes, retry_after, seed)

    def set_timeout_rate(self, rate: float, *, hang_seconds: float = 60.0) -> None:
        """A fraction of requests hang for `hang_seconds` (the real server's 60 s request timeout), then 504."""
        self.faults.set_timeout_rate(rate, hang_seconds)

    def set_latency(self, seconds: float) -> None:
        self.faults.set_latency(seconds)

    def scale_writes(self) -> list[ScaleWrite]:
        """Test support: the writes through a scale subresource, in order (`order` compares across clusters)."""
        return self.server.scale_writes()

    def request_count(self) -> dict[str, int]:
        """API calls received, keyed "<verb> <resource>" ("list pods", "create pods/eviction", "get /readyz")."""
        return self.server.request_count()

    # --- seeding --------------------------------------------------------------------------------------------

    def _seed(self) -> None:
        for namespace in SYSTEM_NAMESPACES:
            self.registry.create(resources.NAMESPACES, "", {"metadata": {"name": namespace}})
        self.registry.create(resources.STORAGE_CLASSES, "", clone(DEFAULT_STORAGE_CLASS_MANIFEST))


def node_manifest(
    name: str,
    zone: str,
    *,
    instance_id: str,
    control_plane: bool = False,
    labels: dict[str, str] | None = None,
    pods: int = 110,
    instance_type: str = "m5.large",
    version: str = "v1.31.0",
    address: str = "10.0.0.10",
    now: str,
) -> Obj:
    """A Ready node as a freshly joined EC2 instance's kubelet registers it (labels, providerID, status)."""
    region = zone[:-1] if zone[-1:].isalpha() else zone
    node_labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        HOSTNAME_LABEL: name,
        "node.kubernetes.io/instance-type": instance_type,
        "beta.kubernetes.io/instance-type": instance_type,
        REGION_LABEL: region,
        ZONE_LABEL: zone,
        "failure-domain.beta.kubernetes.io/region": region,
        "failure-domain.beta.kubernetes.io/zone": zone,
        EBS_ZONE_LABEL: zone,
    }
    taints = []
    if control_plane:
        node_labels["node-role.kubernetes.io/control-plane"] = ""
        node_labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        taints.append(dict(CONTROL_PLANE_TAINT))
    node_labels.update(labels or {})
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": node_labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"providerID": f"aws:///{zone}/{instance_id}", **({"taints": taints} if taints else {})},
        "status": {
            "capacity": {"cpu": "2", "memory": "7934240Ki", "pods": str(pods), "ephemeral-storage": "20959212Ki"},
            "allocatable": {
                "cpu": "1930m",
                "memory": "7244064Ki",
                "pods": str(pods),
                "ephemeral-storage": "18242267924",
            },
            "conditions": node_conditions(now),
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "InternalDNS", "address": name},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": secrets.token_hex(16),
                "systemUUID": f"ec2{secrets.token_hex(13)}",
                "bootID": secrets.token_hex(16),
                "kernelVersion": "6.1.102-111.182.amzn2023.x86_64",
                "osImage": "Amazon Linux 2023.5.20240805",
                "containerRuntimeVersion": "containerd://1.7.20",
                "kubeletVersion": version,
                "kubeProxyVersion": version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }
    return node


def node_conditions(now: str) -> list[Obj]:
    def condition(kind: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }

    return [
        condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
