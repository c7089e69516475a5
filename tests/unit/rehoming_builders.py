"""Inventories built by hand for the re-homing planner's tests: a small cluster described in a few lines."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.rehoming.inventory import (
    Claim,
    ClaimTemplate,
    ClusterInventory,
    EbsSnapshot,
    EbsVolume,
    Instance,
    InstanceState,
    Node,
    PersistentVolume,
    Pod,
    StatefulSet,
    ZoneSpread,
    key,
)
from ferry.domain.rehoming.planner import Request
from ferry.domain.rehoming.policies import RehomeLimits

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
RUN = "evacuate-us-east-1a-1764151200"


def _hex(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def request(**limits: int) -> Request:
    return Request(run_id=RUN, now=NOW, limits=RehomeLimits(**limits))  # type: ignore[arg-type]


@dataclass
class ClusterBuilder:
    """Add nodes and pets, then `build()`; every id is derived from names, so tests read like the cluster."""

    name: str = "east-1"
    version: tuple[int, int] = (1, 31)
    nodes: dict[str, Node] = field(default_factory=dict)
    states: dict[str, InstanceState] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    statefulsets: dict[str, StatefulSet] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    volumes: dict[str, PersistentVolume] = field(default_factory=dict)
    ebs: dict[str, EbsVolume] = field(default_factory=dict)
    snapshots: dict[str, tuple[EbsSnapshot, ...]] = field(default_factory=dict)
    zones: dict[str, ZoneStatus] = field(default_factory=dict)

    def node(
        self,
        name: str,
        zone: str,
        *,
        ready: bool = True,
        state: InstanceState = InstanceState.RUNNING,
        control_plane: bool = False,
        instance: str | None = "auto",
    ) -> ClusterBuilder:
        instance_id = f"i-{_hex(self.name + name, 12)}" if instance == "auto" else instance
        self.nodes[name] = Node(name, zone, instance_id, ready, control_plane=control_plane)
        if instance_id:
            self.states[instance_id] = state
        return self

    def standard(self, *, workers: int = 2) -> ClusterBuilder:
        """`workers` Ready workers per zone, named `<zone letter>-w<n>`."""
        for zone in ZONES:
            for index in range(workers):
                self.node(f"{zone[-1]}-w{index}", zone)
        return self

    def statefulset(
        self,
        name: str = "db",
        *,
        namespace: str = "shop",
        rehome: str | None = "snapshot",
        max_rpo: str | None = "15m",
        deleting: bool = False,
        zones: frozenset[str] | None = None,
        spread: ZoneSpread | None = None,
    ) -> ClusterBuilder:
        annotations = {}
        if rehome is not None:
            annotations["ferry.io/rehome"] = rehome
        if max_rpo is not None:
            annotations["ferry.io/max-rpo"] = max_rpo
        self.statefulsets[key(namespace, name)] = StatefulSet(
            namespace=namespace,
            name=name,
            annotations=annotations,
            deleting=deleting,
            claim_templates=(ClaimTemplate("data", "ebs-sc", "10Gi"),),
            selector={"app": name},
            zones=zones,
            spread=spread,
        )
        return self

    def pet(
        self,
        ordinal: int,
        node: str | None,
        *,
        statefulset: str = "db",
        namespace: str = "shop",
        zone: str | None = None,
        ebs: bool = True,
        bound: bool = True,
        snapshot_age: timedelta | None = timedelta(minutes=5),
        described: bool = True,
        reclaim: str = "Delete",
    ) -> ClusterBuilder:
        pod = f"{statefulset}-{ordinal}"
        claim = f"data-{pod}"
        zone = zone or (self.nodes[node].zone if node else ZONES[0])
        assert zone is not None
        pv = f"pvc-{namespace}-{claim}"
        volume = f"vol-{_hex(f'{self.name}/{namespace}/{claim}', 17)}"
        self.pods.append(Pod(namespace, pod, f"uid-{pod}", statefulset, ordinal, node, "Running", (claim,)))
        self.claims[key(namespace, claim)] = Claim(
            namespace, claim, f"uid-{claim}", pv if bound else None, "ebs-sc", "10Gi", labels={"app": statefulset}
        )
        if bound:
            self.volumes[pv] = PersistentVolume(
                name=pv,
                reclaim_policy=reclaim,
                storage_class="ebs-sc",
                capacity="10Gi",
                volume_id=volume if ebs else None,
                driver="ebs.csi.aws.com" if ebs else "efs.csi.aws.com",
                zone=zone,
                zone_key="topology.kubernetes.io/zone",
                fs_type="ext4",
                claim=(namespace, claim),
            )
        if ebs and described:
            self.ebs[volume] = EbsVolume(
                volume, zone, "in-use", "gp3", 10, iops=3000, throughput=125, tags={"team": "shop"}
            )
        if ebs and snapshot_age is not None:
            self.snapshots[volume] = (
                EbsSnapshot(f"snap-{volume[4:]}", volume, "completed", NOW - snapshot_age, {"ferry:schedule": "x"}),
                EbsSnapshot(f"snap-old{volume[4:]}", volume, "completed", NOW - snapshot_age * 3),
            )
        return self

    def leftover(
        self,
        ordinal: int,
        zone: str,
        *,
        statefulset: str = "db",
        namespace: str = "shop",
        snapshot: str | None = None,
        run: str = "rehome-db-0-held",
        state: str = "available",
        described: bool = True,
        claim_uid: str | None = None,
        managed: bool = True,
    ) -> ClusterBuilder:
        """A PV (and its volume) an earlier run made for the pet's claim and left pre-bound to it by name
        (`claim_uid`: bound since); restored from `snapshot`, by default the pet's newest one."""
        claim = f"data-{statefulset}-{ordinal}"
        old = self.volumes[self.claims[key(namespace, claim)].volume_name or ""].volume_id or ""
        source = snapshot or f"snap-{old[4:]}"
        volume = f"vol-{_hex(f'{run}/{claim}/{zone}/{source}', 17)}"
        name = f"ferry-{_hex(f'{run}/{namespace}/{claim}/{zone}/{source}', 16)}"
        self.volumes[name] = PersistentVolume(
            name=name,
            reclaim_policy="Retain",
            storage_class="ebs-sc",
            capacity="10Gi",
            volume_id=volume,
            driver="ebs.csi.aws.com",
            zone=zone,
            zone_key="topology.kubernetes.io/zone",
            fs_type="ext4",
            claim=(namespace, claim),
            claim_uid=claim_uid,
            managed=managed,
        )
        if described:
            tags = {"ferry:managed": "true", "ferry:pet": f"{namespace}/{claim}", "ferry:restored-from": source}
            self.ebs[volume] = EbsVolume(volume, zone, state, "gp3", 10, tags=tags | {"ferry:run": run})
        return self

    def impaired(self, zone: str) -> ClusterBuilder:
        self.zones[zone] = ZoneStatus.IMPAIRED
        return self

    def down(self, zone: str, state: InstanceState = InstanceState.STOPPED) -> ClusterBuilder:
        """Every node of the zone NotReady, its instances in `state`."""
        for name, node in list(self.nodes.items()):
            if node.zone == zone:
                self.nodes[name] = Node(name, zone, node.instance_id, False, control_plane=node.control_plane)
                if node.instance_id:
                    self.states[node.instance_id] = state
        return self

    def build(self) -> ClusterInventory:
        instances = {
            i: Instance(i, next(n.zone for n in self.nodes.values() if n.instance_id == i) or "", s)
            for i, s in self.states.items()
            if s is not InstanceState.UNKNOWN
        }
        return ClusterInventory(
            cluster=self.name,
            server_version=self.version,
            nodes=self.nodes,
            pods=tuple(self.pods),
            statefulsets=self.statefulsets,
            claims=self.claims,
            volumes=self.volumes,
            instances=instances,
            ebs_volumes=self.ebs,
            snapshots=self.snapshots,
            zones=self.zones,
        )


def three_pets(**pet_options: object) -> ClusterBuilder:
    """The demo's shape: 2 workers per zone, StatefulSet `db` with one pet per zone, zone a down."""
    builder = ClusterBuilder().standard().statefulset()
    for ordinal, zone in enumerate(ZONES):
        builder.pet(ordinal, f"{zone[-1]}-w0", **pet_options)  # type: ignore[arg-type]
    return builder.impaired(ZONES[0]).down(ZONES[0])
