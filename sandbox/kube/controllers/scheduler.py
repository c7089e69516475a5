"""kube-scheduler, reduced to the filters and scores that decide where Ferry's pets can go.

Filters, as the default profile: NodeUnschedulable, TaintToleration (NoSchedule/NoExecute), NodeAffinity
(nodeSelector and required affinity), a pod count per node (NodeResourcesFit on `pods`),
VolumeBinding/VolumeZone (a bound volume's node affinity; an unbound WaitForFirstConsumer claim is
provisioned in the chosen node's zone through `volume.kubernetes.io/selected-node`) and PodTopologySpread
(`DoNotSchedule` constraints, with the real node inclusion policies). Like the real one, it
does not look at the Ready condition: a node that died a second ago still gets pods until the node
lifecycle controller taints it. Scores spread the pods of one controller across zones, then nodes.
An unschedulable pod gets `PodScheduled=False` with the real scheduler's message and a FailedScheduling event.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    Obj,
    annotations_of,
    clone,
    controller_of,
    is_deleting,
    is_pod_terminal,
    labels_of,
    name_of,
    namespace_of,
    node_zone,
    set_condition,
)
from sandbox.kube.scheduling import pod_fits_node_affinity, untolerated, volume_fits_node
from sandbox.kube.selectors import LabelSelector, Requirement, from_label_selector

SELECTED_NODE = "volume.kubernetes.io/selected-node"
COMPONENT = "default-scheduler"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


@dataclass(frozen=True)
class Spread:
    """One `DoNotSchedule` topology spread constraint, counted over the nodes it considers."""

    key: str
    max_skew: int
    counts: Counter[str]
    minimum: int
    self_match: int

    def problem(self, node: Obj) -> str | None:
        domain = labels_of(node).get(self.key)
        if domain is None:
            return "node(s) didn't match pod topology spread constraints (missing required label)"
        if self.counts[domain] + self.self_match - self.minimum > self.max_skew:
            return "node(s) didn't match pod topology spread constraints"
        return None


@dataclass
class Placement:
    """Where pods are, kept current as the scheduler binds during one pass (its scheduling cache)."""

    nodes: list[Obj]
    load: dict[str, list[Obj]]  # node -> pods bound to it, not finished
    owned: dict[str, Counter[str]]  # controller uid -> pods of it (not being deleted) per node
    zone_of: dict[str, str]

    @classmethod
    def build(cls, nodes: list[Obj], pods_by_node: dict[str, list[Obj]]) -> Placement:
        load = {name: [pod for pod in pods if not is_pod_terminal(pod)] for name, pods in pods_by_node.items() if name}
        owned: dict[str, Counter[str]] = {}
        for name, pods in load.items():
            for pod in pods:
                owner = (controller_of(pod) or {}).get("uid")
                if owner and not is_deleting(pod):
                    owned.setdefault(owner, Counter())[name] += 1
        return cls(nodes, load, owned, {name_of(node): node_zone(node) for node in nodes})

    def place(self, pod: Obj, node: str) -> None:
        self.load.setdefault(node, []).append(pod)
        owner = (controller_of(pod) or {}).get("uid")
        if owner:
            self.owned.setdefault(owner, Counter())[node] += 1


class Unschedulable(Exception):
    """A pod-level reason no node can take the pod (a missing claim), reported instead of per-node reasons."""


class Scheduler:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry
        self._assumed: dict[str, str] = {}  # pod uid -> node chosen while its volumes are provisioned

    def sync(self) -> None:
        pending = [
            pod
            for pod in self.context.store.pods_on("")
            if not is_deleting(pod)
            and pod.get("spec", {}).get("schedulerName", COMPONENT) == COMPONENT
            and not pod.get("spec", {}).get("schedulingGates")
        ]
        if not pending:
            return
        placement = Placement.build(self.context.store.list(resources.NODES.key), self.context.store.pods_by_node())
        for pod in sorted(
            pending,
            key=lambda pod: (-pod["spec"].get("priority", 0), pod["metadata"]["creationTimestamp"], name_of(pod)),
        ):
            self._schedule(pod, placement)

    def _schedule(self, pod: Obj, placement: Placement) -> None:
        nodes, load = placement.nodes, placement.load
        try:
            claims = self._claims(pod)
        except Unschedulable as problem:
            self._unschedulable(pod, f"0/{len(nodes)} nodes are available: {problem}.")
            return
        reasons: Counter[str] = Counter()
        feasible = []
        spreads = self._spreads(pod, nodes, load)
        for node in nodes:
            reason = self._filter(pod, node, claims, load) or next(
                (found for spread in spreads if (found := spread.problem(node))), None
            )
            if reason is None:
                feasible.append(node)
            else:
                reasons[reason] += 1
        if not feasible:
            summary = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
            self._unschedulable(
                pod,
                f"0/{len(nodes)} nodes are available: {summary}. preemption: 0/{len(nodes)} nodes are available: "
                f"{len(nodes)} Preemption is not helpful for scheduling.",
            )
            return
        node = self._choose(pod, feasible, placement)
        unbound = [claim for claim in claims if not claim.get("spec", {}).get("volumeName")]
        if unbound:
            chosen = name_of(node)
            self._assumed[pod["metadata"]["uid"]] = chosen

            def select(obj: Obj) -> None:
                obj["metadata"].setdefault("annotations", {})[SELECTED_NODE] = chosen

            for claim in unbound:
                if annotations_of(claim).get(SELECTED_NODE) != chosen:
                    self.registry.mutate(
                        resources.PERSISTENT_VOLUME_CLAIMS, namespace_of(claim), name_of(claim), select
                    )
            return
        self._assumed.pop(pod["metadata"]["uid"], None)
        try:
            self.registry.bind(namespace_of(pod), name_of(pod), {"target": {"kind": "Node", "name": name_of(node)}})
        except ApiError:
            return
        placement.place(pod, name_of(node))
        self.registry.record_event(
            pod,
            "Scheduled",
            f"Successfully assigned {namespace_of(pod)}/{name_of(pod)} to {name_of(node)}",
            component=COMPONENT,
        )

    def _claims(self, pod: Obj) -> list[Obj]:
        claims = []
        for volume in pod.get("spec", {}).get("volumes") or []:
            claim_name = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim_name:
                continue
            claim = self.context.store.get(resources.PERSISTENT_VOLUME_CLAIMS.key, namespace_of(pod), claim_name)
            if claim is None:
                raise Unschedulable(f'persistentvolumeclaim "{claim_name}" not found')
            if is_deleting(claim):
                raise Unschedulable(f'persistentvolumeclaim "{claim_name}" is being deleted')
            if not claim.get("spec", {}).get("volumeName") and self._binding_mode(claim) != "WaitForFirstConsumer":
                raise Unschedulable("pod has unbound immediate PersistentVolumeClaims")
            claims.append(claim)
        return claims

    def _binding_mode(self, claim: Obj) -> str:
        class_name = claim.get("spec", {}).get("storageClassName")
        storage_class = self.context.store.get(resources.STORAGE_CLASSES.key, "", class_name) if class_name else None
        return str((storage_class or {}).get("volumeBindingMode", "Immediate"))

    def _filter(self, pod: Obj, node: Obj, claims: list[Obj], load: dict[str, list[Obj]]) -> str | None:
        spec = node.get("spec", {})
        taints = spec.get("taints") or []
        if spec.get("unschedulable") and untolerated(pod, [UNSCHEDULABLE_TAINT], ("NoSchedule",)):
            return "node(s) were unschedulable"
        blocking = untolerated(pod, taints, ("NoSchedule", "NoExecute"))
        if blocking:
            taint = blocking[0]
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
        if not pod_fits_node_affinity(pod, node):
            return "node(s) didn't match Pod's node affinity/selector"
        capacity = int(node.get("status", {}).get("allocatable", {}).get("pods", 110))
        if len(load.get(name_of(node), ())) >= capacity:
            return "Too many pods"
        for claim in claims:
            volume_name = claim.get("spec", {}).get("volumeName")
            if volume_name:
                volume = self.context.store.get(resources.PERSISTENT_VOLUMES.key, "", volume_name)
                if volume is None:
                    return "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
                if not volume_fits_node(volume, node):
                    return "node(s) had volume node affinity conflict"
        return None

    @staticmethod
    def _spreads(pod: Obj, nodes: list[Obj], load: dict[str, list[Obj]]) -> list[Spread]:
        """PodTopologySpread's pre-filter: matching pods per domain, over the nodes each constraint counts.

        By default (`nodeTaintsPolicy: Ignore`) a tainted node still counts, so the domains of a dead zone
        stay in the count, with no pods: that is why a `DoNotSchedule` zone spread blocks moving a pod out.
        """
        spreads = []
        for constraint in pod.get("spec", {}).get("topologySpreadConstraints") or []:
            if constraint.get("whenUnsatisfiable") != "DoNotSchedule":
                continue
            selector = from_label_selector(constraint.get("labelSelector"))
            pinned = [
                Requirement(key, "In", (labels_of(pod)[key],))
                for key in constraint.get("matchLabelKeys") or []
                if key in labels_of(pod)
            ]
            selector = LabelSelector(selector.requirements + tuple(pinned), selector.nothing)
            key = constraint.get("topologyKey", "")
            counts: Counter[str] = Counter()
            domains = set()
            for node in nodes:
                domain = labels_of(node).get(key)
                if domain is None:
                    continue
                if constraint.get("nodeAffinityPolicy", "Honor") == "Honor" and not pod_fits_node_affinity(pod, node):
                    continue
                taints = node.get("spec", {}).get("taints") or []
                if constraint.get("nodeTaintsPolicy", "Ignore") == "Honor" and untolerated(
                    pod, taints, ("NoSchedule", "NoExecute")
                ):
                    continue
                domains.add(domain)
                counts[domain] += sum(
                    1
                    for other in load.get(name_of(node), ())
                    if namespace_of(other) == namespace_of(pod)
                    and not is_deleting(other)
                    and selector.matches(labels_of(other))
                )
            minimum = min((counts[domain] for domain in domains), default=0)
            if len(domains) < constraint.get("minDomains", 1):
                minimum = 0
            spreads.append(
                Spread(
                    key,
                    int(constraint.get("maxSkew", 1)),
                    counts,
                    minimum,
                    1 if selector.matches(labels_of(pod)) else 0,
                )
            )
        return spreads

    def _choose(self, pod: Obj, feasible: list[Obj], placement: Placement) -> Obj:
        """The node the pod was assumed on (volumes being provisioned), else spread its controller's pods."""
        assumed = self._assumed.get(pod["metadata"]["uid"])
        for node in feasible:
            if name_of(node) == assumed:
                return node
        per_node = placement.owned.get((controller_of(pod) or {}).get("uid", ""), Counter())
        per_zone: Counter[str] = Counter()
        for node_name, count in per_node.items():
            per_zone[placement.zone_of.get(node_name, "")] += count
        return min(
            feasible,
            key=lambda node: (
                per_zone[node_zone(node)],
                per_node[name_of(node)],
                len(placement.load.get(name_of(node), ())),
                name_of(node),
            ),
        )

    def _unschedulable(self, pod: Obj, message: str) -> None:
        current = next(
            (c for c in pod.get("status", {}).get("conditions") or [] if c.get("type") == "PodScheduled"), None
        )
        if current is not None and current.get("message") == message:
            return
        status = clone(pod.get("status") or {})
        set_condition(
            status,
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "reason": "Unschedulable",
                "message": message,
            },
            self.registry.now(),
        )
        self.registry.mutate(
            resources.PODS, namespace_of(pod), name_of(pod), lambda obj: obj.update(status=status), subresource="status"
        )
        self.registry.record_event(pod, "FailedScheduling", message, component=COMPONENT, event_type="Warning")
