"""Reading the world into a `ClusterInventory`: once per cluster per plan, or narrowly for one pet or node.

A plan reads each cluster with a handful of paginated listings (nodes, StatefulSet pods, StatefulSets,
claims, PVs) and asks EC2 only about what the plan can touch: the instances of the nodes it may fence and
the volumes (and their snapshots) of the pets it may move. A step that has to re-plan one pet reads that
pet's objects by name, never the whole cluster, so its cost does not grow with the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ferry.adapters.fencing import Fencer
from ferry.adapters.kube_writes import PET_LABEL, KubeWriter, Obj
from ferry.adapters.volumes import Volumes
from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.readiness_inputs import REVIEW_NAMESPACE, Surroundings, read_surroundings
from ferry.domain.rehoming import manifests
from ferry.domain.rehoming.inventory import (
    Claim,
    ClusterInventory,
    EbsSnapshot,
    EbsVolume,
    Node,
    PersistentVolume,
    Pod,
    Resident,
    StatefulSet,
    key,
)


def _ebs(
    pods: Iterable[Pod], claims: Mapping[str, Claim], volumes: Mapping[str, PersistentVolume], ec2_volumes: Volumes
) -> tuple[dict[str, EbsVolume], dict[str, tuple[EbsSnapshot, ...]]]:
    """The pets' volumes with their snapshots, and the volumes of PVs an earlier run left pre-bound to their
    claims (whether a move may reuse one depends on what EC2 says it was restored from, and where)."""
    ids, left = set(), set()
    for pod in pods:
        for name in pod.claims:
            claim = claims.get(key(pod.namespace, name))
            pv = volumes.get(claim.volume_name or "") if claim else None
            if pv and pv.volume_id:
                ids.add(pv.volume_id)
            left |= {v.volume_id for v in _leftovers(volumes, pod.namespace, name) if v.volume_id}
    return dict(ec2_volumes.describe(ids | left)), dict(ec2_volumes.snapshots_of(ids))


def _leftovers(volumes: Mapping[str, PersistentVolume], namespace: str, claim: str) -> list[PersistentVolume]:
    return [v for v in volumes.values() if v.managed and v.pre_bound_to(namespace, claim)]


def read_cluster(
    kube: KubeWriter,
    fencer: Fencer,
    volumes: Volumes,
    zones: Mapping[str, ZoneStatus],
    *,
    zone: str | None = None,
    listed: tuple[list[Obj], list[Obj]] | None = None,
) -> ClusterInventory:
    """The whole cluster; EC2 details only for `zone` (its nodes' instances, its pets' volumes) when given.
    `listed`: the node and pod listings, when the caller has them already (readiness lists every pod)."""
    node_objects, pet_objects = listed if listed is not None else (kube.node_objects(), kube.pet_pods())
    if listed is not None:  # every pod was listed: the pets are those the StatefulSet controller labelled
        pet_objects = [p for p in pet_objects if PET_LABEL in ((p.get("metadata") or {}).get("labels") or {})]
    nodes = {n.name: n for n in map(manifests.parse_node, node_objects)}
    pods = tuple(p for p in map(manifests.parse_pod, pet_objects) if p is not None)
    statefulsets = {key(s.namespace, s.name): s for s in map(manifests.parse_statefulset, kube.statefulset_objects())}
    claims = {key(c.namespace, c.name): c for c in map(manifests.parse_claim, kube.claim_objects())}
    pvs = {v.name: v for v in map(manifests.parse_volume, kube.volume_objects())}
    in_scope = [n for n in nodes.values() if zone is None or n.zone == zone]
    instances = fencer.instances(n.instance_id for n in in_scope if n.instance_id)
    movable = [p for p in pods if zone is None or _zone_of(p, nodes, claims, pvs) == zone]
    ebs, snapshots = _ebs(movable, claims, pvs, volumes)
    return ClusterInventory(
        cluster=kube.cluster,
        server_version=kube.server_version(),
        nodes=nodes,
        pods=pods,
        statefulsets=statefulsets,
        claims=claims,
        volumes=pvs,
        instances=instances,
        ebs_volumes=ebs,
        snapshots=snapshots,
        zones=zones,
    )


def read_readiness(
    kube: KubeWriter, fencer: Fencer, volumes: Volumes, zones: Mapping[str, ZoneStatus]
) -> tuple[ClusterInventory, Surroundings]:
    """Readiness's reading of one cluster: EvacuateZone's snapshot of every zone (`read_cluster`, EC2 for every
    node's instance and every pet's volumes in batched describes), plus what runs on each node, the budgets
    and Ferry's permissions. A bounded number of listings, whatever the cluster's size: nodes, every pod,
    StatefulSets, claims, PVs, budgets, one rules review (and the version)."""
    node_objects, pod_objects = kube.node_objects(), kube.pod_objects()
    inventory = read_cluster(kube, fencer, volumes, zones, listed=(node_objects, pod_objects))
    around = read_surroundings(
        kube.cluster,
        node_objects,
        pod_objects,
        kube.disruption_budget_objects(),
        kube.rules_review(REVIEW_NAMESPACE),
    )
    return inventory, around


def _zone_of(
    pod: Pod, nodes: Mapping[str, Node], claims: Mapping[str, Claim], pvs: Mapping[str, PersistentVolume]
) -> str | None:
    node = nodes.get(pod.node or "")
    if node and node.zone:
        return node.zone
    for name in pod.claims:
        claim = claims.get(key(pod.namespace, name))
        pv = pvs.get(claim.volume_name or "") if claim else None
        if pv and pv.zone:
            return pv.zone
    return None


def read_pet(
    kube: KubeWriter,
    fencer: Fencer,
    volumes: Volumes,
    zones: Mapping[str, ZoneStatus],
    *,
    namespace: str,
    statefulset: str,
    ordinal: int,
) -> ClusterInventory:
    """One pet: its pod, StatefulSet, claims, PVs, volumes and snapshots, its node and instance; every node
    (a target zone needs capacity) and the StatefulSet's pods (the spread) by label, not the cluster's pods."""
    nodes = {n.name: n for n in map(manifests.parse_node, kube.node_objects())}
    raw_sts = kube.statefulset_object(namespace, statefulset)
    sts: StatefulSet | None = manifests.parse_statefulset(raw_sts) if raw_sts else None
    pods: tuple[Pod, ...] = ()
    if sts is not None:
        selector = ",".join(f"{k}={v}" for k, v in sorted(sts.selector.items()))
        listed = kube.pods_in_namespace(namespace, selector) if selector else []
        pods = tuple(p for p in map(manifests.parse_pod, listed) if p is not None and p.statefulset == statefulset)
    pod = next((p for p in pods if p.ordinal == ordinal), None)
    claim_names = list(pod.claims) if pod else []
    if sts is not None:
        claim_names += [sts.claim_name(t.name, ordinal) for t in sts.claim_templates]
    claims: dict[str, Claim] = {}
    pvs: dict[str, PersistentVolume] = {}
    for name in sorted(set(claim_names)):
        raw = kube.claim_object(namespace, name)
        if raw is None:
            continue
        claim = manifests.parse_claim(raw)
        claims[key(namespace, name)] = claim
        raw_pv = kube.volume_object(claim.volume_name) if claim.volume_name else None
        if raw_pv is not None:
            pv = manifests.parse_volume(raw_pv)
            pvs[pv.name] = pv
    # PVs an earlier run of a move made for these claims: one listing of Ferry's own PVs, by label.
    made = map(manifests.parse_volume, kube.volume_objects(f"{manifests.MANAGED_LABEL}=true"))
    pvs |= {v.name: v for v in made if any(v.pre_bound_to(namespace, name) for name in claim_names)}
    node = nodes.get(pod.node or "") if pod else None
    instances = fencer.instances([node.instance_id] if node and node.instance_id else [])
    ebs, snapshots = _ebs([pod] if pod else [], claims, pvs, volumes)
    return ClusterInventory(
        cluster=kube.cluster,
        server_version=kube.server_version(),
        nodes=nodes,
        pods=pods,
        statefulsets={key(namespace, statefulset): sts} if sts else {},
        claims=claims,
        volumes=pvs,
        instances=instances,
        ebs_volumes=ebs,
        snapshots=snapshots,
        zones=zones,
    )


def read_drain(
    kube: KubeWriter, *, node: str | None, instance_id: str | None
) -> tuple[Node | None, str, list[Resident]]:
    """DrainNode's reading: the node, by name or by the instance in its providerID (what a warning names),
    the name asked for, and every pod on it (one listing by field selector)."""
    if node is not None:
        raw = kube.node_object(node)
        found, name = (manifests.parse_node(raw) if raw else None), node
    else:
        found = next((n for n in map(manifests.parse_node, kube.node_objects()) if n.instance_id == instance_id), None)
        name = found.name if found else str(instance_id)
    residents = [manifests.parse_resident(p) for p in kube.pods_on_node(found.name)] if found else []
    return found, name, residents


def read_node(kube: KubeWriter, fencer: Fencer, zones: Mapping[str, ZoneStatus], *, node: str) -> ClusterInventory:
    """One node and its instance: all FenceNode needs."""
    raw = kube.node_object(node)
    nodes = {node: manifests.parse_node(raw)} if raw else {}
    ids = [n.instance_id for n in nodes.values() if n.instance_id]
    return ClusterInventory(
        cluster=kube.cluster,
        server_version=kube.server_version(),
        nodes=nodes,
        instances=fencer.instances(ids),
        zones=zones,
    )
