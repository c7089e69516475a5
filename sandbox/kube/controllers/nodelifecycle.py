"""The node lifecycle controller and the taint eviction controller, as kube-controller-manager runs them.

Node lifecycle (`pkg/controller/nodelifecycle`): a node whose Lease and Ready heartbeat have not moved for
`node_monitor_grace_period` gets every condition set to Unknown ("Kubelet stopped posting node status."),
the `node.kubernetes.io/unreachable:NoSchedule` taint at once, its pods marked not Ready, and the
`unreachable:NoExecute` taint through a per-zone rate limiter. The limiter follows the real zone states:
Normal evicts at 0.1 node/s; PartialDisruption (at least 55 % and more than 2 nodes of a zone not Ready)
at 0.01 node/s in zones over 50 nodes and not at all in smaller ones; FullDisruption of one zone at the
normal rate; and when every zone is fully disrupted the controller assumes it is the one cut off, removes
the NoExecute taints everywhere and evicts nothing ("master disruption mode").

Taint eviction (`pkg/controller/tainteviction`): a pod on a node with a NoExecute taint it does not
tolerate is deleted at once; one it tolerates for `tolerationSeconds` (300 s by default, from admission)
is deleted when that time has passed. Deletion is graceful, so on a dead node the pod stays Terminating.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    REGION_LABEL,
    ZONE_LABEL,
    Obj,
    clone,
    condition,
    fmt_time,
    is_deleting,
    labels_of,
    name_of,
    namespace_of,
    node_ready_status,
    parse_time,
    set_condition,
    uid_of,
)
from sandbox.kube.registry import DeleteOptions
from sandbox.kube.scheduling import tolerates

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"
EVICTION_QPS = 0.1
SECONDARY_EVICTION_QPS = 0.01
LARGE_CLUSTER_THRESHOLD = 50
UNHEALTHY_ZONE_THRESHOLD = 0.55
COMPONENT = "node-controller"
_CONDITION_TAINTS = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
_MANAGED_NO_SCHEDULE = {*_CONDITION_TAINTS.values(), UNSCHEDULABLE}


class TokenBucket:
    """flowcontrol's token bucket (burst 1) on the sandbox clock; a rate of 0 never admits."""

    def __init__(self, qps: float, now: datetime) -> None:
        self.qps = qps
        self._tokens = 1.0
        self._last = now

    def try_accept(self, now: datetime) -> bool:
        if self.qps <= 0:
            return False
        self._tokens = min(1.0, self._tokens + (now - self._last).total_seconds() * self.qps)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class Health:
    probe: datetime
    heartbeat: str | None
    renew: str | None


def zone_key(node: Obj) -> str:
    labels = labels_of(node)
    return f"{labels.get(REGION_LABEL, '')}:\x00:{labels.get(ZONE_LABEL, '')}"


def _taints(node: Obj) -> list[Obj]:
    return list(node.get("spec", {}).get("taints") or [])


def _no_schedule(node: Obj) -> list[Obj]:
    """The node's taints with the managed NoSchedule ones following its conditions and spec.unschedulable."""
    wanted = []
    for cond in node.get("status", {}).get("conditions") or []:
        key = _CONDITION_TAINTS.get((cond.get("type"), cond.get("status")))
        if key:
            wanted.append({"key": key, "effect": "NoSchedule"})
    if node.get("spec", {}).get("unschedulable"):
        wanted.append({"key": UNSCHEDULABLE, "effect": "NoSchedule"})
    taints = _taints(node)
    managed = [t for t in taints if t.get("effect") == "NoSchedule" and t.get("key") in _MANAGED_NO_SCHEDULE]
    if {t["key"] for t in managed} == {t["key"] for t in wanted}:
        return taints
    kept = [t for t in taints if t not in managed]
    added = [t for t in wanted if t["key"] not in {m["key"] for m in managed}]
    kept_managed = [t for t in managed if t["key"] in {w["key"] for w in wanted}]
    return kept + kept_managed + added


def _without(taints: list[Obj], key: str, effect: str) -> list[Obj]:
    return [taint for taint in taints if not (taint.get("key") == key and taint.get("effect") == effect)]


class NodeLifecycleController:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry
        self._health: dict[str, Health] = {}
        self._zone_states: dict[str, str] = {}
        self._limiters: dict[str, TokenBucket] = {}
        self._queues: dict[str, OrderedDict[str, None]] = {}

    def sync(self) -> None:
        now = self.context.clock.now()
        grace = timedelta(seconds=self.context.node_monitor_grace_period)
        zones: dict[str, list[str]] = {}
        nodes = self.context.store.list(resources.NODES.key)
        for node in nodes:
            key = zone_key(node)
            if key not in self._limiters:
                self._limiters[key] = TokenBucket(EVICTION_QPS, now)
                self._queues[key] = OrderedDict()
                self._zone_states.setdefault(key, "Initial")
            observed = node_ready_status(node)
            current = self._monitor(node, now, grace)
            if EXCLUDE_DISRUPTION not in labels_of(node):
                zones.setdefault(key, []).append(current)
            fresh = self.context.store.get(resources.NODES.key, "", name_of(node)) or node
            self._no_schedule_taints(fresh)
            self._taint_based_eviction(fresh, observed, key)
            if current != "True" and observed == "True":
                self._mark_pods_not_ready(fresh)
        for gone in set(self._health) - {name_of(node) for node in nodes}:
            del self._health[gone]
        self._handle_disruption(zones, nodes, now)
        self._no_execute_tainting(now)

    def _monitor(self, node: Obj, now: datetime, grace: timedelta) -> str:
        """tryUpdateNodeHealth: probe time moves when the Ready heartbeat or the Lease renewal moves."""
        name = name_of(node)
        ready = condition(node, "Ready") or {}
        lease = self.context.store.get(resources.LEASES.key, "kube-node-lease", name)
        renew = (lease or {}).get("spec", {}).get("renewTime")
        health = self._health.get(name)
        if health is None:
            health = self._health[name] = Health(now, ready.get("lastHeartbeatTime"), renew)
        if ready.get("lastHeartbeatTime") != health.heartbeat:
            health.probe, health.heartbeat = now, ready.get("lastHeartbeatTime")
        if renew and (health.renew is None or parse_time(renew) > parse_time(health.renew)):
            health.probe, health.renew = now, renew
        if now <= health.probe + grace:
            return str(ready.get("status", "Unknown"))
        stamp = fmt_time(now)

        def unknown(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
                current = condition(obj, kind)
                if current is None:
                    status.setdefault("conditions", []).append(
                        {
                            "type": kind,
                            "status": "Unknown",
                            "lastHeartbeatTime": obj["metadata"]["creationTimestamp"],
                            "lastTransitionTime": stamp,
                            "reason": "NodeStatusNeverUpdated",
                            "message": "Kubelet never posted node status.",
                        }
                    )
                elif current.get("status") != "Unknown":
                    set_condition(
                        status,
                        {
                            "type": kind,
                            "status": "Unknown",
                            "reason": "NodeStatusUnknown",
                            "message": "Kubelet stopped posting node status.",
                        },
                        stamp,
                    )

        if ready.get("status") != "Unknown":
            self.registry.mutate(resources.NODES, "", name, unknown, subresource="status")
            self.registry.record_event(
                node, "NodeNotReady", f"Node {name} status is now: NodeNotReady", component=COMPONENT
            )
        return "Unknown"

    def _no_schedule_taints(self, node: Obj) -> None:
        """doNoScheduleTaintingPass: NoSchedule taints follow the conditions and spec.unschedulable."""
        self._edit_taints(node, _no_schedule)

    def _edit_taints(self, node: Obj, edit: Callable[[Obj], list[Obj]]) -> None:
        """Write `edit(node)` as the node's taints, `edit` seeing the node as stored at the moment of the write.

        The real controller patches taints conditioned on the resourceVersion it read and, on a 409, reads the
        node again and redoes its change (RetryOnConflict), so a taint another client wrote in between (Ferry's
        out-of-service taint) is never dropped. Editing the stored node under the store lock is that retry;
        writing a list computed from the pass's earlier read would be a lost update no API server allows.
        Nothing is written when the edit changes nothing as read: a newer write has already asked for a pass.
        """
        if edit(node) == _taints(node):
            return

        def write(obj: Obj) -> None:
            taints = edit(obj)
            if taints:
                obj.setdefault("spec", {})["taints"] = taints
            else:
                obj.get("spec", {}).pop("taints", None)

        self.registry.mutate(resources.NODES, "", name_of(node), write)

    def _taint_based_eviction(self, node: Obj, observed: str, key: str) -> None:
        """processTaintBaseEviction, from the Ready status seen before this pass."""
        name = name_of(node)
        has = {t.get("key") for t in _taints(node) if t.get("effect") == "NoExecute"}
        if observed == "False":
            if UNREACHABLE in has:
                self._swap(node, NOT_READY, UNREACHABLE)
            elif NOT_READY not in has:
                self._queues[key].setdefault(name, None)
        elif observed == "Unknown":
            if NOT_READY in has:
                self._swap(node, UNREACHABLE, NOT_READY)
            elif UNREACHABLE not in has:
                self._queues[key].setdefault(name, None)
        else:
            self._mark_reachable(node)

    def _swap(self, node: Obj, add: str, remove: str) -> None:
        added = {"key": add, "effect": "NoExecute", "timeAdded": fmt_time(self.context.clock.now())}
        self._edit_taints(
            node, lambda obj: [*_without(_without(_taints(obj), remove, "NoExecute"), add, "NoExecute"), added]
        )

    def _mark_reachable(self, node: Obj) -> None:
        self._edit_taints(
            node, lambda obj: _without(_without(_taints(obj), UNREACHABLE, "NoExecute"), NOT_READY, "NoExecute")
        )
        self._queues.get(zone_key(node), OrderedDict()).pop(name_of(node), None)

    def _mark_pods_not_ready(self, node: Obj) -> None:
        stamp = self.registry.now()
        for pod in self.context.store.pods_on(name_of(node)):
            ready = condition(pod, "Ready")
            if ready is None or ready.get("status") == "False":
                continue
            self.registry.mutate(
                resources.PODS,
                namespace_of(pod),
                name_of(pod),
                lambda obj: _not_ready(obj, stamp),
                subresource="status",
            )
            self.registry.record_event(
                pod, "NodeNotReady", "Node is not ready", component=COMPONENT, event_type="Warning"
            )

    def _handle_disruption(self, zones: dict[str, list[str]], nodes: list[Obj], now: datetime) -> None:
        new_states = {key: _zone_state(statuses) for key, statuses in zones.items()}
        all_fully = bool(new_states) and all(state == "FullDisruption" for state in new_states.values())
        for key in list(self._zone_states):
            if key not in zones:
                del self._zone_states[key]
        all_were = bool(self._zone_states) and all(state == "FullDisruption" for state in self._zone_states.values())
        for key in new_states:
            self._zone_states.setdefault(key, "Initial")
        if all_fully and all_were:
            return
        if all_fully:
            for node in nodes:
                current = self.context.store.get(resources.NODES.key, "", name_of(node))
                if current is not None:
                    self._mark_reachable(current)
            for key in self._zone_states:
                self._limiters[key] = TokenBucket(0, now)
                self._zone_states[key] = "FullDisruption"
            return
        if all_were:
            for health in self._health.values():
                health.probe = now
            for key in self._zone_states:
                self._set_limiter(key, len(zones.get(key, [])), new_states.get(key, "Normal"), now)
                self._zone_states[key] = new_states.get(key, "Normal")
            return
        for key, state in new_states.items():
            if self._zone_states.get(key) != state:
                self._set_limiter(key, len(zones[key]), state, now)
                self._zone_states[key] = state

    def _set_limiter(self, key: str, size: int, state: str, now: datetime) -> None:
        if state == "PartialDisruption":
            qps = SECONDARY_EVICTION_QPS if size > LARGE_CLUSTER_THRESHOLD else 0.0
        else:
            qps = EVICTION_QPS  # Normal, and FullDisruption of one zone among healthy ones
        self._limiters[key] = TokenBucket(qps, now)

    def _no_execute_tainting(self, now: datetime) -> None:
        for key, queue in self._queues.items():
            limiter = self._limiters[key]
            while queue and limiter.qps > 0:
                name = next(iter(queue))
                node = self.context.store.get(resources.NODES.key, "", name)
                if node is None or node_ready_status(node) == "True":
                    queue.pop(name)
                    continue
                if not limiter.try_accept(now):
                    break
                queue.pop(name)
                if node_ready_status(node) == "False":
                    self._swap(node, NOT_READY, UNREACHABLE)
                else:
                    self._swap(node, UNREACHABLE, NOT_READY)


def _not_ready(pod: Obj, stamp: str) -> None:
    set_condition(pod.setdefault("status", {}), {"type": "Ready", "status": "False"}, stamp)


def _zone_state(statuses: list[str]) -> str:
    ready = sum(1 for status in statuses if status == "True")
    not_ready = len(statuses) - ready
    if ready == 0 and not_ready > 0:
        return "FullDisruption"
    if not_ready > 2 and not_ready / len(statuses) >= UNHEALTHY_ZONE_THRESHOLD:
        return "PartialDisruption"
    return "Normal"


class TaintEvictionController:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry
        self._scheduled: dict[str, tuple[datetime, datetime]] = {}  # pod uid -> (since, deadline)

    def sync(self) -> None:
        store, now = self.context.store, self.context.clock.now()
        seen: set[str] = set()
        for node_name, pods in store.pods_by_node().items():
            node = store.get(resources.NODES.key, "", node_name) if node_name else None
            taints = [t for t in (node or {}).get("spec", {}).get("taints") or [] if t.get("effect") == "NoExecute"]
            if not taints:
                continue
            for pod in pods:
                if is_deleting(pod):
                    continue
                uid = uid_of(pod)
                deadline = self._deadline(pod, taints, now)
                if deadline is None:
                    continue
                seen.add(uid)
                since, scheduled = self._scheduled.get(uid, (now, deadline))
                scheduled = min(scheduled, since + (deadline - now))
                self._scheduled[uid] = (since, scheduled)
                if scheduled <= now:
                    self._evict(pod)
        for uid in set(self._scheduled) - seen:
            del self._scheduled[uid]

    @staticmethod
    def _deadline(pod: Obj, taints: list[Obj], now: datetime) -> datetime | None:
        """When the pod must go: now if a taint is not tolerated, else after the shortest tolerationSeconds."""
        tolerations = pod.get("spec", {}).get("tolerations") or []
        shortest: float | None = None
        for taint in taints:
            matching = [t for t in tolerations if tolerates(t, taint)]
            if not matching:
                return now
            for toleration in matching:
                seconds = toleration.get("tolerationSeconds")
                if seconds is not None:
                    shortest = max(float(seconds), 0.0) if shortest is None else min(shortest, max(float(seconds), 0.0))
        return None if shortest is None else now + timedelta(seconds=shortest)

    def _evict(self, pod: Obj) -> None:
        stamp = self.registry.now()
        status = clone(pod.get("status") or {})
        set_condition(
            status,
            {
                "type": "DisruptionTarget",
                "status": "True",
                "reason": "DeletionByTaintManager",
                "message": "Taint manager: deleting due to NoExecute taint",
            },
            stamp,
        )
        self.registry.mutate(
            resources.PODS, namespace_of(pod), name_of(pod), lambda obj: obj.update(status=status), subresource="status"
        )
        try:
            self.registry.delete(
                resources.PODS, namespace_of(pod), name_of(pod), DeleteOptions(preconditions={"uid": uid_of(pod)})
            )
        except ApiError:
            return
        self._scheduled.pop(uid_of(pod), None)
        self.registry.record_event(
            pod,
            "TaintManagerEviction",
            f"Marking for deletion Pod {namespace_of(pod)}/{name_of(pod)}",
            component="taint-eviction-controller",
        )
