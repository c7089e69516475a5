"""The pod garbage collector (`pkg/controller/podgc`), every 20 s of sandbox time as on a real cluster.

It is the only thing that removes a Terminating pod from a node that will never confirm the deletion:
pods on a node that is not Ready and carries `node.kubernetes.io/out-of-service` are force-deleted
(that taint is NoExecute, so the taint eviction controller has already marked them for deletion), and
pods bound to a node that no longer exists are force-deleted after a 40 s quarantine. Either way the pod
is first marked Failed with a DisruptionTarget condition, as the real controller does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    Obj,
    clone,
    has_taint,
    is_deleting,
    is_pod_terminal,
    name_of,
    namespace_of,
    node_ready_status,
    set_condition,
    uid_of,
)
from sandbox.kube.registry import DeleteOptions

GC_PERIOD = timedelta(seconds=20)
QUARANTINE = timedelta(seconds=40)
OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


class PodGarbageCollector:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry
        self._last: datetime | None = None
        self._missing_since: dict[str, datetime] = {}

    def sync(self) -> None:
        now = self.context.clock.now()
        if self._last is not None and now - self._last < GC_PERIOD:
            return
        self._last = now
        store = self.context.store
        missing = set()
        for node_name, pods in store.pods_by_node().items():
            if not node_name:
                continue
            node = store.get(resources.NODES.key, "", node_name)
            if node is None:
                missing.add(node_name)
                since = self._missing_since.setdefault(node_name, now)
                if now - since >= QUARANTINE:
                    for pod in pods:
                        self._force_delete(pod, "PodGC: node no longer exists", "DeletionByPodGC")
            elif node_ready_status(node) != "True" and has_taint(node, OUT_OF_SERVICE):
                for pod in pods:
                    if is_deleting(pod):
                        self._force_delete(pod, "PodGC: node is out-of-service", "DeletionByPodGC")
        for node_name in set(self._missing_since) - missing:
            del self._missing_since[node_name]

    def _force_delete(self, pod: Obj, message: str, reason: str) -> None:
        if not is_pod_terminal(pod):
            status = clone(pod.get("status") or {})
            status["phase"] = "Failed"
            set_condition(
                status,
                {"type": "DisruptionTarget", "status": "True", "reason": reason, "message": message},
                self.registry.now(),
            )
            self.registry.mutate(
                resources.PODS,
                namespace_of(pod),
                name_of(pod),
                lambda obj: obj.update(status=status),
                subresource="status",
            )
        try:
            self.registry.delete(
                resources.PODS, namespace_of(pod), name_of(pod), DeleteOptions(0, preconditions={"uid": uid_of(pod)})
            )
        except ApiError:
            return
