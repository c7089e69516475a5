"""What readiness reads besides EvacuateZone's snapshot (pure): room on nodes, budgets, and Ferry's permissions.

EvacuateZone's planner decides where a pet goes from zones and nodes alone; whether it would then run there,
whether a person could move it by hand, and whether Ferry may do any of it at all depend on three more things
readiness reads once per cluster (ferry.services.readiness):

- **room**: each node's allocatable CPU and memory, what the pods already on it request, and each pet's own
  requests (containers summed, the largest init container if larger, plus the pod's overhead, as the
  scheduler counts them);
- **PodDisruptionBudgets**: a budget with `maxUnavailable: 0`, or a `minAvailable` as large as the pods it
  selects, refuses every voluntary eviction (DrainNode, RehomePet of a live pet);
- **permissions**: the rules a SelfSubjectRulesReview says Ferry's identity has, against `REQUIRED`, each
  permission a runbook uses (deploy/kubernetes/ferry-rbac.yaml grants exactly these; a test compares them).

Parsing is from the API's JSON, here, so that the adapters only fetch. A quantity Ferry cannot read counts as
zero requested (the pet is not held against room it may not need) and zero allocatable (a node whose room is
unreadable takes nothing): absent is "not known", never "fine".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from types import MappingProxyType
from typing import Any

Obj = Mapping[str, Any]

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
}
_TERMINATED = ("Succeeded", "Failed")


def quantity(text: object) -> Decimal | None:
    """A Kubernetes resource quantity (`500m`, `2`, `1Gi`, `1e3`) as a number; None if unreadable."""
    return None if text is None else _quantity(str(text).strip())


@lru_cache(maxsize=4096)  # a cluster's pods repeat a handful of quantities thousands of times
def _quantity(text: str) -> Decimal | None:
    match = _QUANTITY.match(text)
    if not match or match.group(2) not in _SUFFIXES:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2)]
    except InvalidOperation:
        return None


@dataclass(frozen=True, slots=True, order=True)
class Resources:
    cpu_millis: int = 0
    memory_bytes: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpu_millis + other.cpu_millis, self.memory_bytes + other.memory_bytes)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpu_millis - other.cpu_millis, self.memory_bytes - other.memory_bytes)

    def fits_in(self, room: Resources) -> bool:
        return self.cpu_millis <= room.cpu_millis and self.memory_bytes <= room.memory_bytes

    def describe(self) -> str:
        return f"{self.cpu_millis}m CPU, {self.memory_bytes / 2**20:.0f}Mi memory"

    @classmethod
    def of(cls, values: Obj | None) -> Resources:
        values = values or {}
        cpu, memory = quantity(values.get("cpu")), quantity(values.get("memory"))
        return cls(int(cpu * 1000) if cpu else 0, int(memory) if memory else 0)


def pod_requests(pod: Obj) -> Resources:
    """What the scheduler holds for a pod: its containers' requests summed, or its largest init container's if
    that is larger (per resource), plus the pod's overhead."""
    spec = pod.get("spec") or {}
    running = Resources()
    for container in spec.get("containers") or []:
        running = running + Resources.of((container.get("resources") or {}).get("requests"))
    init = [Resources.of((c.get("resources") or {}).get("requests")) for c in spec.get("initContainers") or []]
    cpu = max([running.cpu_millis, *(i.cpu_millis for i in init)])
    memory = max([running.memory_bytes, *(i.memory_bytes for i in init)])
    return Resources(cpu, memory) + Resources.of(spec.get("overhead"))


# --- PodDisruptionBudgets -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Budget:
    """A PodDisruptionBudget as far as "would it refuse every eviction" goes. A selector with expressions
    Ferry does not evaluate is kept as `exact=False`: it then selects by its labels only (may over-select)."""

    namespace: str
    name: str
    match_labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    max_unavailable: str | None = None
    min_available: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "match_labels", MappingProxyType(dict(self.match_labels)))

    def selects(self, namespace: str, labels: Mapping[str, str]) -> bool:
        return namespace == self.namespace and all(labels.get(k) == v for k, v in self.match_labels.items())

    def refuses_every_eviction(self, selected: int) -> str | None:
        """Why no pod it selects may ever be evicted (`selected` pods), or None."""
        if self.max_unavailable is not None and quantity(self.max_unavailable.rstrip("%")) == 0:
            return f"maxUnavailable: {self.max_unavailable}"
        if self.min_available is None:
            return None
        if self.min_available.endswith("%"):
            return f"minAvailable: {self.min_available}" if quantity(self.min_available[:-1]) == 100 else None
        wanted = quantity(self.min_available)
        if wanted is not None and selected > 0 and wanted >= selected:
            return f"minAvailable: {self.min_available} of {selected} pod(s)"
        return None


def parse_budget(obj: Obj) -> Budget:
    metadata, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    selector = spec.get("selector") or {}

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return Budget(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        match_labels={str(k): str(v) for k, v in (selector.get("matchLabels") or {}).items()},
        max_unavailable=text(spec.get("maxUnavailable")),
        min_available=text(spec.get("minAvailable")),
    )


# --- permissions --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Need:
    """One permission Ferry uses in a cluster: a verb on a resource (`group`, `resource`), or on a URL."""

    verb: str
    resource: str  # `nodes`, `pods/eviction`; or a non-resource URL starting with `/`
    group: str = ""
    purpose: str = ""

    def describe(self) -> str:
        what = self.resource if self.resource.startswith("/") or not self.group else f"{self.resource}.{self.group}"
        return f"{self.verb} {what}"


# Every permission a runbook, the probe or readiness uses; deploy/kubernetes/ferry-rbac.yaml grants exactly these
# (tests/unit/test_readiness_inputs.py compares them both ways).
REQUIRED: tuple[Need, ...] = (
    Need("get", "/readyz", purpose="probe: is the API up"),
    Need("get", "/version", purpose="runbooks: the out-of-service taint needs 1.28"),
    Need("get", "nodes", purpose="FenceNode, DrainNode: read a node"),
    Need("list", "nodes", purpose="probe and every runbook: the nodes"),
    Need("patch", "nodes", purpose="EvacuateZone, FenceNode, DrainNode, FailbackZone: cordon and taints"),
    Need("get", "pods", purpose="RehomePet: watch a pet come back"),
    Need("list", "pods", purpose="every runbook and readiness: the pets and what runs on each node"),
    Need("delete", "pods", purpose="EvacuateZone before 1.28: force-delete a fenced node's pets"),
    Need("create", "pods/eviction", purpose="RehomePet, DrainNode: move live pets through their budgets"),
    Need("get", "persistentvolumeclaims", purpose="RehomePet: read a pet's claims"),
    Need("list", "persistentvolumeclaims", purpose="EvacuateZone: the pets' claims"),
    Need("create", "persistentvolumeclaims", purpose="EvacuateZone, RehomePet: the claim of the new volume"),
    Need("delete", "persistentvolumeclaims", purpose="EvacuateZone, RehomePet: let the old claim go"),
    Need("get", "persistentvolumes", purpose="RehomePet: read a pet's volume"),
    Need("list", "persistentvolumes", purpose="EvacuateZone, probe: the pets' volumes"),
    Need("create", "persistentvolumes", purpose="EvacuateZone, RehomePet: the static PV of a restored volume"),
    Need("patch", "persistentvolumes", purpose="EvacuateZone, RehomePet: Retain before a claim is deleted"),
    Need("get", "statefulsets", "apps", purpose="RehomePet: a pet's policy"),
    Need("list", "statefulsets", "apps", purpose="EvacuateZone: the pets' policies"),
    Need("get", "deployments", "apps", purpose="ShiftReplicas, FailoverCluster, FailbackCluster: an app's replicas"),
    Need("patch", "deployments", "apps", purpose="ShiftReplicas: record the replicas before a shift"),
    Need("patch", "deployments/scale", "apps", purpose="ShiftReplicas, FailoverCluster, FailbackCluster: scale"),
    Need("list", "volumeattachments", "storage.k8s.io", purpose="EvacuateZone before 1.28: a fenced node's"),
    Need("delete", "volumeattachments", "storage.k8s.io", purpose="EvacuateZone before 1.28: detach them"),
    Need("list", "poddisruptionbudgets", "policy", purpose="readiness: budgets that refuse every eviction"),
    Need("create", "selfsubjectrulesreviews", "authorization.k8s.io", purpose="readiness: these permissions"),
    Need("list", "leases", "coordination.k8s.io", purpose="probe: the kubelets' heartbeats (kube-node-lease)"),
)
# The namespace the review asks about: the leases' (a Role there), which also brings every cluster-wide rule.
REVIEW_NAMESPACE = "kube-node-lease"


@dataclass(frozen=True, slots=True)
class Rule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def allows(self, need: Need) -> bool:
        if not ("*" in self.verbs or need.verb in self.verbs):
            return False
        if need.resource.startswith("/"):
            return any(u == need.resource or (u.endswith("*") and need.resource.startswith(u[:-1])) for u in self.urls)
        top = need.resource.split("/")[0]
        resource_ok = any(
            r in ("*", need.resource) or (r == f"{top}/*" and "/" in need.resource) for r in self.resources
        )
        return resource_ok and ("*" in self.api_groups or need.group in self.api_groups)


@dataclass(frozen=True, slots=True)
class Permissions:
    """What a SelfSubjectRulesReview said. `incomplete`: an authorizer (EKS's webhook, say) could not list its
    rules, so a permission not listed may still be granted."""

    rules: tuple[Rule, ...] = ()
    incomplete: bool = False
    error: str = ""

    def missing(self, needs: Iterable[Need] = REQUIRED) -> tuple[Need, ...]:
        return tuple(n for n in needs if not any(r.allows(n) for r in self.rules))


def parse_rules_review(obj: Obj) -> Permissions:
    status = obj.get("status") or {}

    def strings(values: Any) -> tuple[str, ...]:
        return tuple(str(v) for v in values or ())

    rules = tuple(
        Rule(strings(r.get("verbs")), strings(r.get("apiGroups")), strings(r.get("resources")))
        for r in status.get("resourceRules") or []
    ) + tuple(
        Rule(strings(r.get("verbs")), urls=strings(r.get("nonResourceURLs")))
        for r in status.get("nonResourceRules") or []
    )
    return Permissions(rules, bool(status.get("incomplete")), str(status.get("evaluationError") or ""))


# --- one cluster --------------------------------------------------------------------------------------------


def _frozen[V](values: Mapping[str, V]) -> Mapping[str, V]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class Surroundings:
    """One cluster's readiness-only snapshot. Keys: node names (`allocatable`, `used`) and `namespace/pod`
    (a pet's `requests` and `labels`). `permissions` None: not asked (no finding either way)."""

    cluster: str
    allocatable: Mapping[str, Resources] = field(default_factory=dict, hash=False)
    used: Mapping[str, Resources] = field(default_factory=dict, hash=False)
    requests: Mapping[str, Resources] = field(default_factory=dict, hash=False)
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    budgets: tuple[Budget, ...] = ()
    permissions: Permissions | None = None

    def __post_init__(self) -> None:
        for name in ("allocatable", "used", "requests", "labels"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def room(self, node: str) -> Resources:
        return self.allocatable.get(node, Resources()) - self.used.get(node, Resources())


PET_LABEL = "statefulset.kubernetes.io/pod-name"


def read_surroundings(
    cluster: str,
    nodes: Iterable[Obj],
    pods: Iterable[Obj],
    budgets: Iterable[Obj] = (),
    review: Obj | None = None,
) -> Surroundings:
    """From the API's JSON: the nodes (allocatable), every pod (what each node holds; the pets' requests and
    labels), the budgets and the rules review."""
    allocatable = {
        str((n.get("metadata") or {}).get("name")): Resources.of((n.get("status") or {}).get("allocatable"))
        for n in nodes
    }
    used: dict[str, Resources] = {}
    requests: dict[str, Resources] = {}
    labels: dict[str, Mapping[str, str]] = {}
    for pod in pods:
        metadata, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        if (pod.get("status") or {}).get("phase") in _TERMINATED:
            continue
        held = pod_requests(pod)
        node = spec.get("nodeName")
        if node:
            used[node] = used.get(node, Resources()) + held
        pod_labels = metadata.get("labels") or {}
        if PET_LABEL in pod_labels:
            name = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}"
            requests[name] = held
            labels[name] = {str(k): str(v) for k, v in pod_labels.items()}
    return Surroundings(
        cluster=cluster,
        allocatable=allocatable,
        used=used,
        requests=requests,
        labels=labels,
        budgets=tuple(sorted(map(parse_budget, budgets), key=lambda b: (b.namespace, b.name))),
        permissions=parse_rules_review(review) if review is not None else None,
    )
