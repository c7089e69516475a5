"""A kubelet stand-in for every node whose instance is up.

While its node is alive it renews the node's Lease in `kube-node-lease` every 10 s, reports the node Ready,
starts the pods bound to it once their volumes are attached (after the configurable start delay), and
completes graceful deletions by confirming them with a zero grace period. When the node is dead it does
nothing at all: no heartbeat, no status, no deletions, which is exactly what leaves pods Terminating
forever on a real cluster.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
from datetime import datetime, timedelta

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.controllers.volumes import attachment_name
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    EBS_DRIVER,
    Obj,
    clone,
    condition,
    fmt_micro_time,
    fmt_time,
    is_deleting,
    is_pod_ready,
    name_of,
    namespace_of,
    owner_reference,
    parse_time,
    pod_claim_names,
    set_condition,
    uid_of,
)
from sandbox.kube.registry import DeleteOptions

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40
RENEW_INTERVAL = timedelta(seconds=10)
STATUS_REPORT_INTERVAL = timedelta(minutes=5)
_POD_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


class Kubelet:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry
        self._pod_ips = itertools.count(2)

    def sync(self) -> None:
        store, now = self.context.store, self.context.clock.now()
        for node_name, alive in list(self.context.alive.items()):
            node = store.get(resources.NODES.key, "", node_name)
            if not alive or node is None:
                continue
            self._renew_lease(node, now)
            self._report_status(node, now)
            for pod in store.pods_on(node_name):
                self._sync_pod(pod, node, now)

    def _renew_lease(self, node: Obj, now: datetime) -> None:
        name = name_of(node)
        lease = self.context.store.get(resources.LEASES.key, LEASE_NAMESPACE, name)
        if lease is None:
            self.registry.create(
                resources.LEASES,
                LEASE_NAMESPACE,
                {
                    "metadata": {
                        "name": name,
                        "namespace": LEASE_NAMESPACE,
                        "ownerReferences": [owner_reference(node, controller=False)],
                    },
                    "spec": {
                        "holderIdentity": name,
                        "leaseDurationSeconds": LEASE_DURATION,
                        "renewTime": fmt_micro_time(now),
                    },
                },
            )
            return
        renewed = lease.get("spec", {}).get("renewTime")
        if renewed and now - parse_time(renewed) < RENEW_INTERVAL:
            return
        self.registry.mutate(
            resources.LEASES,
            LEASE_NAMESPACE,
            name,
            lambda obj: obj.setdefault("spec", {}).update(
                holderIdentity=name, leaseDurationSeconds=LEASE_DURATION, renewTime=fmt_micro_time(now)
            ),
        )

    def _report_status(self, node: Obj, now: datetime) -> None:
        """Post node status when something changed (Ready is not True) or every 5 minutes regardless."""
        ready = condition(node, "Ready") or {}
        heartbeat = ready.get("lastHeartbeatTime")
        if ready.get("status") == "True" and heartbeat and now - parse_time(heartbeat) < STATUS_REPORT_INTERVAL:
            return
        stamp = fmt_time(now)
        healthy = {
            "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
        }

        def post(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            for kind, (value, reason, message) in healthy.items():
                set_condition(status, {"type": kind, "status": value, "reason": reason, "message": message}, stamp)
                for current in status["conditions"]:
                    if current["type"] == kind:
                        current["lastHeartbeatTime"] = stamp

        self.registry.mutate(resources.NODES, "", name_of(node), post, subresource="status")

    def _sync_pod(self, pod: Obj, node: Obj, now: datetime) -> None:
        if is_deleting(pod):
            try:
                self.registry.delete(
                    resources.PODS,
                    namespace_of(pod),
                    name_of(pod),
                    DeleteOptions(0, preconditions={"uid": uid_of(pod)}),
                )
            except ApiError:
                return
            return
        phase = pod.get("status", {}).get("phase")
        if phase == "Pending":
            scheduled = condition(pod, "PodScheduled") or {}
            since = parse_time(scheduled.get("lastTransitionTime") or pod["metadata"]["creationTimestamp"])
            if now - since >= timedelta(seconds=self.context.kubelet_start_delay) and self._volumes_attached(pod, node):
                self._start(pod, node, now)
        elif phase == "Running" and not is_pod_ready(pod):
            stamp = fmt_time(now)

            def ready_again(obj: Obj) -> None:
                for kind in ("Ready", "ContainersReady"):
                    set_condition(obj["status"], {"type": kind, "status": "True"}, stamp)

            self.registry.mutate(resources.PODS, namespace_of(pod), name_of(pod), ready_again, subresource="status")

    def _volumes_attached(self, pod: Obj, node: Obj) -> bool:
        """CSI volumes are mounted only once their VolumeAttachment on this node reports attached."""
        store = self.context.store
        for claim_name in pod_claim_names(pod):
            claim = store.get(resources.PERSISTENT_VOLUME_CLAIMS.key, namespace_of(pod), claim_name)
            volume_name = (claim or {}).get("spec", {}).get("volumeName")
            volume = store.get(resources.PERSISTENT_VOLUMES.key, "", volume_name) if volume_name else None
            if volume is None or (claim or {}).get("status", {}).get("phase") != "Bound":
                return False
            csi = volume.get("spec", {}).get("csi") or {}
            if csi.get("driver") == EBS_DRIVER:
                attachment = store.get(
                    resources.VOLUME_ATTACHMENTS.key, "", attachment_name(csi["volumeHandle"], name_of(node))
                )
                if attachment is None or not attachment.get("status", {}).get("attached"):
                    return False
        return True

    def _start(self, pod: Obj, node: Obj, now: datetime) -> None:
        pod_ip = str(ipaddress.IPv4Address("100.64.0.0") + next(self._pod_ips))
        status = running_status(pod, node, fmt_time(now), pod_ip)
        self.registry.mutate(
            resources.PODS, namespace_of(pod), name_of(pod), lambda obj: obj.update(status=status), subresource="status"
        )
        containers = status["containerStatuses"]
        self.registry.record_event(
            pod,
            "Started",
            f"Started container {containers[0]['name']}" if containers else "Started",
            component="kubelet",
            host=name_of(node),
        )


def running_status(pod: Obj, node: Obj, stamp: str, pod_ip: str) -> Obj:
    """The status a kubelet posts once a pod's containers run: phase Running, every condition True, IPs."""
    host_ip = next(
        (a["address"] for a in node.get("status", {}).get("addresses") or [] if a.get("type") == "InternalIP"),
        "10.0.0.1",
    )
    containers = []
    for container in pod["spec"].get("containers") or []:
        image = container.get("image", "")
        digest = hashlib.sha256(image.encode()).hexdigest()
        containers.append(
            {
                "name": container["name"],
                "state": {"running": {"startedAt": stamp}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": image,
                "imageID": f"{image.split(':')[0]}@sha256:{digest}",
                "containerID": "containerd://"
                + hashlib.sha256(f"{uid_of(pod)}/{container['name']}".encode()).hexdigest(),
                "started": True,
            }
        )
    status: Obj = clone(pod.get("status") or {})
    for kind in _POD_CONDITIONS:
        set_condition(status, {"type": kind, "status": "True", "lastProbeTime": None}, stamp)
    order = {kind: index for index, kind in enumerate(_POD_CONDITIONS)}
    status["conditions"].sort(key=lambda c: order.get(c["type"], len(order)))
    status.update(
        phase="Running",
        hostIP=host_ip,
        hostIPs=[{"ip": host_ip}],
        podIP=pod_ip,
        podIPs=[{"ip": pod_ip}],
        startTime=stamp,
        containerStatuses=containers,
    )
    return status
