"""What the re-homing planner knows about one cluster and its AWS side: a frozen snapshot (pure).

The planner is a pure function of this snapshot, so every decision it makes can be replayed and tested
without a cluster: the adapters read the world once (nodes, StatefulSet pods, claims, PersistentVolumes,
EBS volumes and snapshots, EC2 instances, the detector's zone statuses) and hand it over in these types.
Something the adapters could not read (EC2 failing for a zone) is simply absent, and the planner treats
absent as "not known", never as "fine".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ferry.domain.detection.transitions import ZoneStatus

OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
QUARANTINE_TAINT = "ferry.io/fence-unconfirmed"  # NoSchedule while a node's fence is not confirmed
EBS_CSI_DRIVER = "ebs.csi.aws.com"
IN_TREE_EBS = "kubernetes.io/aws-ebs"


class InstanceState(StrEnum):
    """EC2 instance states, plus UNKNOWN when EC2 could not be asked or does not know the instance."""

    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    SHUTTING_DOWN = "shutting-down"
    TERMINATED = "terminated"
    UNKNOWN = "unknown"

    @property
    def fenced(self) -> bool:
        """Only a stopped or terminated instance runs nothing: the one proof that a pet cannot run twice."""
        return self in (InstanceState.STOPPED, InstanceState.TERMINATED)

    @classmethod
    def parse(cls, value: str | None) -> InstanceState:
        try:
            return cls(value or "unknown")
        except ValueError:
            return cls.UNKNOWN


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    effect: str
    value: str = ""

    def to_dict(self) -> dict[str, str]:
        return (
            {"key": self.key, "value": self.value, "effect": self.effect}
            if self.value
            else {
                "key": self.key,
                "effect": self.effect,
            }
        )


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    zone: str | None
    instance_id: str | None
    ready: bool
    unschedulable: bool = False
    control_plane: bool = False
    taints: tuple[Taint, ...] = ()

    def has_taint(self, key: str) -> bool:
        return any(t.key == key for t in self.taints)

    @property
    def schedulable(self) -> bool:
        """Can take a new pet: Ready, not cordoned, no NoSchedule/NoExecute taint, not a control-plane node."""
        blocking = (TaintEffect.NO_SCHEDULE, TaintEffect.NO_EXECUTE)
        return (
            self.ready
            and not self.unschedulable
            and not self.control_plane
            and not any(t.effect in blocking for t in self.taints)
        )


@dataclass(frozen=True, slots=True)
class Instance:
    instance_id: str
    zone: str
    state: InstanceState
    tags: Mapping[str, str] | None = field(default=None, hash=False, compare=False)  # None: not read


@dataclass(frozen=True, slots=True)
class EbsVolume:
    volume_id: str
    zone: str
    state: str
    volume_type: str
    size_gib: int
    iops: int | None = None
    throughput: int | None = None
    encrypted: bool = False
    kms_key_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))


@dataclass(frozen=True, slots=True)
class EbsSnapshot:
    snapshot_id: str
    volume_id: str
    state: str
    started_at: datetime
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))

    @property
    def completed(self) -> bool:
        return self.state == "completed"


@dataclass(frozen=True, slots=True)
class PersistentVolume:
    """A PV as far as re-homing cares. `volume_id` is set only for EBS (CSI driver or in-tree plugin)."""

    name: str
    reclaim_policy: str
    storage_class: str
    capacity: str
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    volume_id: str | None = None
    driver: str | None = None
    zone: str | None = None
    zone_key: str | None = None  # the label key of its zone affinity, as its driver wrote it
    fs_type: str | None = None
    volume_mode: str = "Filesystem"
    claim: tuple[str, str] | None = None  # (namespace, name) of its claimRef
    deleting: bool = False
    claim_uid: str | None = None  # its claimRef's uid: none while it is only pre-bound to the claim by name
    managed: bool = False  # a static PV Ferry made for a restored volume (label ferry.io/managed=true)

    @property
    def is_ebs(self) -> bool:
        return self.volume_id is not None

    def pre_bound_to(self, namespace: str, name: str) -> bool:
        """Its claimRef names that claim and no uid: the PV controller binds the next claim of that name to it."""
        return self.claim == (namespace, name) and not self.claim_uid and not self.deleting


@dataclass(frozen=True, slots=True)
class Claim:
    namespace: str
    name: str
    uid: str
    volume_name: str | None
    storage_class: str | None
    request: str
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    deleting: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))


@dataclass(frozen=True, slots=True)
class ClaimTemplate:
    name: str
    storage_class: str | None
    request: str
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)


@dataclass(frozen=True, slots=True)
class ZoneSpread:
    """A `DoNotSchedule` topology spread over zones in the pod template. With `nodeTaintsPolicy: Ignore` (the
    default) a dead zone's tainted nodes still count as a domain with no pods, which can forbid every move."""

    max_skew: int
    honor_taints: bool = False


@dataclass(frozen=True, slots=True)
class StatefulSet:
    namespace: str
    name: str
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    deleting: bool = False
    claim_templates: tuple[ClaimTemplate, ...] = ()
    selector: Mapping[str, str] = field(default_factory=dict, hash=False)
    zones: frozenset[str] | None = None  # zones its pod template's required node affinity allows; None: any
    spread: ZoneSpread | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", MappingProxyType(dict(self.annotations)))
        object.__setattr__(self, "selector", MappingProxyType(dict(self.selector)))

    def claim_name(self, template: str, ordinal: int) -> str:
        return f"{template}-{self.name}-{ordinal}"


@dataclass(frozen=True, slots=True)
class Pod:
    """A StatefulSet's pod: a pet, with its identity (name, ordinal) and the claims it mounts."""

    namespace: str
    name: str
    uid: str
    statefulset: str
    ordinal: int
    node: str | None
    phase: str
    claims: tuple[str, ...] = ()
    deleting: bool = False


@dataclass(frozen=True, slots=True)
class Resident:
    """Any pod on a node, as a drain sees it: who controls it (its owner's kind), and whether it is a mirror
    pod (the kubelet's copy of a static pod, which the API cannot evict)."""

    namespace: str
    name: str
    uid: str
    owner_kind: str | None = None
    mirror: bool = False
    deleting: bool = False


def key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def _frozen[V](values: Mapping[str, V]) -> Mapping[str, V]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class ClusterInventory:
    """One cluster, read once. Mappings are keyed by name (nodes, PVs), `namespace/name` (StatefulSets,
    claims), instance id, volume id (EBS volumes; snapshots per source volume) and zone name (statuses; a
    zone absent from `zones` was never reported, so it is HEALTHY)."""

    cluster: str
    server_version: tuple[int, int]
    nodes: Mapping[str, Node] = field(default_factory=dict, hash=False)
    pods: tuple[Pod, ...] = ()
    statefulsets: Mapping[str, StatefulSet] = field(default_factory=dict, hash=False)
    claims: Mapping[str, Claim] = field(default_factory=dict, hash=False)
    volumes: Mapping[str, PersistentVolume] = field(default_factory=dict, hash=False)
    instances: Mapping[str, Instance] = field(default_factory=dict, hash=False)
    ebs_volumes: Mapping[str, EbsVolume] = field(default_factory=dict, hash=False)
    snapshots: Mapping[str, tuple[EbsSnapshot, ...]] = field(default_factory=dict, hash=False)
    zones: Mapping[str, ZoneStatus] = field(default_factory=dict, hash=False)
    # What is derived from the nodes alone, worked out once per snapshot (it is frozen): the planner asks it per
    # pet, and readiness plans thousands of pets over thousands of nodes.
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in ("nodes", "statefulsets", "claims", "volumes", "instances", "ebs_volumes", "snapshots", "zones"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def schedulable_per_zone(self) -> Counter[str]:
        """Nodes that can take a pet, per zone (read only: shared by every caller)."""
        found = self._derived.get("schedulable")
        if found is None:
            found = self._derived["schedulable"] = Counter(
                n.zone for n in self.nodes.values() if n.zone and n.schedulable
            )
        return found

    def instance_state(self, node: Node) -> InstanceState:
        instance = self.instances.get(node.instance_id or "")
        return instance.state if instance else InstanceState.UNKNOWN

    def zone_status(self, zone: str) -> ZoneStatus:
        return self.zones.get(zone, ZoneStatus.HEALTHY)

    def leftovers(self, namespace: str, claim: str) -> tuple[PersistentVolume, ...]:
        """PVs Ferry made for this claim in an earlier run that the claim never took (a move held by a budget,
        a run that stopped half-way): still pre-bound to it by name, so the claim's next incarnation would bind
        to one of them, whatever a later run planned. By name, so the choice among them is deterministic."""
        current = self.claims.get(key(namespace, claim))
        taken = current.volume_name if current else None
        found = [v for v in self.volumes.values() if v.managed and v.pre_bound_to(namespace, claim)]
        return tuple(sorted((v for v in found if v.name != taken), key=lambda v: v.name))

    def schedulable_in(self, zone: str) -> tuple[str, ...]:
        """The names of the zone's nodes that can take a pet, in name order."""
        by_zone = self._derived.get("schedulable_names")
        if by_zone is None:
            by_zone = self._derived["schedulable_names"] = {}
            for node in sorted(self.nodes.values(), key=lambda n: n.name):
                if node.zone and node.schedulable:
                    by_zone.setdefault(node.zone, []).append(node.name)
        return tuple(by_zone.get(zone, ()))

    def known_zones(self) -> tuple[str, ...]:
        found = self._derived.get("zones")
        if found is None:
            found = self._derived["zones"] = tuple(
                sorted({n.zone for n in self.nodes.values() if n.zone} | set(self.zones))
            )
        return found
