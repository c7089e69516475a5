"""The re-homing planner: a cluster snapshot and a request in, a `Plan` out (pure: no I/O, no logging).

Three requests, one set of rules:

- `plan_evacuation` (EvacuateZone): fence every worker node of the impaired zone, free its pets' identities,
  and move each pet per its StatefulSet's policy into the healthy zone with capacity that holds the fewest
  pets of the same StatefulSet.
- `plan_pet` (RehomePet): one pet. On a lost node in a healthy zone it keeps its volume (free the identity,
  RPO zero); crossing zones is for impaired zones or an explicit `targetZone`; a pet on a live node leaves
  through the Eviction API.
- `plan_node` (FenceNode): fence one node and free its identities.
- `plan_drain` (DrainNode): a warned node that still runs: cordon it, then evict each of its pods through the
  Eviction API as `kubectl drain` does (DaemonSet and mirror pods stay, nothing forced, no claim touched); a
  pet whose zone is healthy comes back on another node of its zone with its own volume.

Rules that keep the safety invariants structural (tests/unit/test_rehoming_properties.py checks them on
random inventories): every freeing action and every pet action on a lost node is gated on that node's
Fence step; every claim deletion comes after its PV is set to Retain; targets are healthy zones with a
schedulable node; a pet that cannot be moved whole is skipped with a reason, never half-planned; a claim let go
has at most one PV pre-bound to it, this move's (a leftover of an earlier run of the same move, same snapshot
and zone, is reused; any other leftover is released and reported, never deleted).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ferry.domain.conventions import (
    CLUSTER_TAG,
    MANAGED_TAG,
    MANAGED_VALUE,
    PET_TAG,
    REHOMED_TO_TAG,
    RESTORED_FROM_TAG,
    RUN_TAG,
)
from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.rehoming.inventory import (
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
from ferry.domain.rehoming.plans import (
    Action,
    AskEviction,
    AwaitPodReleased,
    BindClaim,
    ClaimMove,
    CompleteLifecycleAction,
    Condition,
    Cordon,
    CreatePersistentVolume,
    CreateVolume,
    DeleteClaim,
    DeleteVolumeAttachments,
    DrainPod,
    Evict,
    Fence,
    ForceDeletePods,
    MarkOutOfService,
    NodePlan,
    PetPlan,
    Plan,
    Quarantine,
    RecreateClaim,
    ReleasePersistentVolume,
    RetainPersistentVolume,
    Skipped,
    SkipReason,
    TagOldVolume,
    VerifyRunning,
)
from ferry.domain.rehoming.policies import MAX_RPO_ANNOTATION, RehomeLimits, RehomePolicy, max_rpo, rehome_policy

OUT_OF_SERVICE_SINCE = (1, 28)  # the out-of-service taint is GA (NodeOutOfServiceVolumeDetach) from 1.28
DEFAULT_ZONE_KEY = "topology.kubernetes.io/zone"
# How long a drain asks budgets again, at most: within what the runbook's retries of StepPending wait in all
# (ferry.domain.conventions.RUNBOOK_RETRIES: 20 full-jitter waits capped at a minute, about 7 minutes on
# average), so a refused pod ends reported, not as a step that ran out of retries. A warning whose deadline is
# days away (a scheduled retirement) is drained now and reports what its budgets still hold after this.
DRAIN_WINDOW = timedelta(minutes=5)
_LEFT_ON_DRAIN = {"DaemonSet": SkipReason.DAEMONSET_POD}
_DROPPED_TAGS = ("kubernetes.io/created-for/pv/name", REHOMED_TO_TAG, RUN_TAG, RESTORED_FROM_TAG)


@dataclass(frozen=True, slots=True)
class Request:
    """What every plan needs besides the snapshot: the run (for step ids and client tokens) and the time."""

    run_id: str
    now: datetime
    limits: RehomeLimits = field(default_factory=RehomeLimits)


# --- nodes ----------------------------------------------------------------------------------------------------


def plan_fence(node: Node, inventory: ClusterInventory) -> NodePlan | Skipped:
    """Fence, cordon, then free the identity only if the fence is confirmed; otherwise quarantine."""
    subject = f"{inventory.cluster}/node/{node.name}"
    if node.control_plane:
        return Skipped(subject, SkipReason.CONTROL_PLANE, "control-plane nodes are replaced, not fenced")
    if not node.instance_id or not node.zone:
        return Skipped(subject, SkipReason.NO_INSTANCE, "no EC2 instance id in spec.providerID: cannot fence")
    cluster = inventory.cluster
    fence = Fence(cluster=cluster, node=node.name, instance_id=node.instance_id, zone=node.zone)
    fenced, gate = Condition.FENCED, fence.step_id
    freeing: tuple[Action, ...]
    if inventory.server_version >= OUT_OF_SERVICE_SINCE:
        freeing = (MarkOutOfService(cluster=cluster, node=node.name, when=fenced, gate=gate),)
    else:
        freeing = (
            ForceDeletePods(cluster=cluster, node=node.name, when=fenced, gate=gate),
            DeleteVolumeAttachments(cluster=cluster, node=node.name, when=fenced, gate=gate),
        )
    quarantine = Quarantine(cluster=cluster, node=node.name, when=Condition.NOT_FENCED, gate=fence.step_id)
    actions = (fence, Cordon(cluster=cluster, node=node.name), *freeing, quarantine)
    return NodePlan(cluster=cluster, node=node.name, instance_id=node.instance_id, zone=node.zone, actions=actions)


def plan_node(inventory: ClusterInventory, node_name: str, request: Request) -> Plan:
    """FenceNode: one node, fenced and freed (its pets come back by themselves, or by EvacuateZone)."""
    node = inventory.nodes.get(node_name)
    if node is None:
        skipped = Skipped(f"{inventory.cluster}/node/{node_name}", SkipReason.POD_NOT_FOUND, "no such node")
        return Plan(zone=None, skipped=(skipped,))
    planned = plan_fence(node, inventory)
    if isinstance(planned, Skipped):
        return Plan(zone=node.zone, skipped=(planned,))
    return Plan(zone=node.zone, nodes=(planned,))


def plan_drain(
    cluster: str,
    node: Node | None,
    residents: Iterable[Resident],
    request: Request,
    *,
    node_name: str,
    deadline: datetime | None = None,
    cordon_only: bool = False,
    lifecycle: Mapping[str, str] | None = None,
) -> Plan:
    """DrainNode: cordon, then one eviction per pod (by uid, in name order), each asked until the deadline
    (or `DRAIN_WINDOW` from now, whichever comes first).

    Left on the node, as `kubectl drain` leaves them: DaemonSet pods (their controller ignores the cordon and
    would put them back), mirror pods (the kubelet's; the API cannot evict them) and pods already deleting.
    `cordon_only` (a rebalance recommendation, by default): the cordon alone, every pod stays.
    `lifecycle` (an Auto Scaling terminate hook: `autoScalingGroupName`, `lifecycleHookName`,
    `lifecycleActionToken`): CONTINUE last, once every eviction is finished.
    """
    subject = f"{cluster}/node/{node_name}"
    if node is None:
        return Plan(zone=None, skipped=(Skipped(subject, SkipReason.POD_NOT_FOUND, "no such node"),))
    window = request.now + DRAIN_WINDOW
    until = (min(deadline, window) if deadline is not None else window).isoformat()
    actions: list[Action] = [Cordon(cluster=cluster, node=node.name)]
    skipped: list[Skipped] = []
    for pod in () if cordon_only else sorted(residents, key=lambda p: (p.namespace, p.name)):
        where = f"{cluster}/{pod.namespace}/{pod.name}"
        if pod.mirror:
            skipped.append(Skipped(where, SkipReason.MIRROR_POD, "a mirror pod (static pod): the kubelet owns it"))
        elif pod.owner_kind in _LEFT_ON_DRAIN:
            skipped.append(Skipped(where, _LEFT_ON_DRAIN[pod.owner_kind], "its DaemonSet ignores the cordon"))
        elif pod.deleting:
            skipped.append(Skipped(where, SkipReason.POD_DELETING, "already terminating"))
        else:
            actions.append(
                DrainPod(cluster=cluster, namespace=pod.namespace, pod=pod.name, uid=pod.uid, deadline=until)
            )
    if lifecycle is not None and node.instance_id:
        actions.append(
            CompleteLifecycleAction(
                cluster=cluster,
                node=node.name,
                group=lifecycle["autoScalingGroupName"],
                hook=lifecycle["lifecycleHookName"],
                token=lifecycle["lifecycleActionToken"],
                instance_id=node.instance_id,
                after=tuple(a.step_id for a in actions if isinstance(a, DrainPod)),
            )
        )
    plan = NodePlan(
        cluster=cluster,
        node=node.name,
        instance_id=node.instance_id or "",
        zone=node.zone or "",
        actions=tuple(actions),
    )
    return Plan(zone=node.zone, nodes=(plan,), skipped=tuple(skipped))


# --- zones ----------------------------------------------------------------------------------------------------


def schedulable_nodes(inventory: ClusterInventory) -> Counter[str]:
    """Per zone, the nodes that can take a pet (the snapshot's own count, worked out once: read only)."""
    return inventory.schedulable_per_zone()


def healthy_zones(inventory: ClusterInventory, exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """Zones the detector calls HEALTHY, with at least one node that can take a pet."""
    capacity = schedulable_nodes(inventory)
    excluded = set(exclude)
    return tuple(
        sorted(
            zone
            for zone in capacity
            if zone not in excluded and inventory.zone_status(zone) is ZoneStatus.HEALTHY and capacity[zone] > 0
        )
    )


def choose_target_zone(
    statefulset: StatefulSet, inventory: ClusterInventory, exclude: Iterable[str], placed: Counter[str]
) -> str | None:
    """The healthy zone with capacity holding the fewest pets of this StatefulSet (keep the spread); ties go
    to the zone with more schedulable nodes, then by name, so the choice is deterministic."""
    capacity = schedulable_nodes(inventory)
    candidates = [
        zone for zone in healthy_zones(inventory, exclude) if statefulset.zones is None or zone in statefulset.zones
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda zone: (placed[zone], -capacity[zone], zone))


def pets_per_zone(inventory: ClusterInventory, statefulset: StatefulSet, leaving: Iterable[str]) -> Counter[str]:
    """Where the StatefulSet's pets stand now, not counting the ones about to leave."""
    gone = set(leaving)
    counts: Counter[str] = Counter()
    for pod in inventory.pods:
        if pod.namespace == statefulset.namespace and pod.statefulset == statefulset.name and pod.name not in gone:
            node = inventory.nodes.get(pod.node or "")
            if node and node.zone:
                counts[node.zone] += 1
    return counts


# --- pets -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Gate:
    """`when`/`gate` of a pet's actions: FENCED on its node's Fence step when the pet is on a lost node."""

    when: Condition = Condition.ALWAYS
    step: str | None = None


@dataclass(frozen=True, slots=True)
class _Where:
    """How a pet leaves: through its node's fence (lost), by eviction (live), or neither (not running)."""

    node_plan: NodePlan | None
    evict: bool
    target_zone: str | None


def plan_pet(pod: Pod, inventory: ClusterInventory, request: Request, where: _Where) -> PetPlan | Skipped:
    subject = f"{inventory.cluster}/{pod.namespace}/{pod.name}"
    statefulset = inventory.statefulsets.get(key(pod.namespace, pod.statefulset))
    if statefulset is None:
        return Skipped(subject, SkipReason.POD_NOT_FOUND, f"StatefulSet {pod.statefulset} not found")
    if statefulset.deleting:
        return Skipped(subject, SkipReason.STATEFULSET_DELETING, f"StatefulSet {pod.statefulset} is being deleted")
    policy = rehome_policy(statefulset.annotations)
    if policy is None:
        value = statefulset.annotations.get("ferry.io/rehome")
        return Skipped(
            subject, SkipReason.UNKNOWN_POLICY, f"ferry.io/rehome={value!r}: expected snapshot, fresh or stay"
        )
    node = inventory.nodes.get(pod.node or "")
    from_zone = _pet_zone(pod, node, inventory)
    prefix = where.node_plan.actions if where.node_plan else ()
    gate = _Gate(Condition.FENCED, where.node_plan.fence_step) if where.node_plan else _Gate()
    crossing = where.target_zone is not None and where.target_zone != from_zone and policy is not RehomePolicy.STAY
    limit = max_rpo(statefulset.annotations)
    base = PetPlan(
        cluster=inventory.cluster,
        namespace=pod.namespace,
        statefulset=pod.statefulset,
        ordinal=pod.ordinal,
        pod=pod.name,
        node=pod.node,
        policy=policy,
        from_zone=from_zone,
        target_zone=from_zone,
        moves=(),
        max_rpo=limit,
        actions=prefix,
    )
    if not crossing:
        if where.node_plan is None:
            return Skipped(subject, SkipReason.NOTHING_TO_DO, _why_nothing(policy, pod))
        # Free the identity only: the pet keeps its volume and comes back in its own zone.
        tail: tuple[Action, ...] = ()
        if from_zone and inventory.zone_status(from_zone) is ZoneStatus.HEALTHY:
            tail = (
                AwaitPodReleased(
                    cluster=inventory.cluster,
                    namespace=pod.namespace,
                    pod=pod.name,
                    uid=pod.uid,
                    when=gate.when,
                    gate=gate.step,
                ),
                _verify(inventory.cluster, pod, (from_zone,), gate),
            )
        return replace(base, moves=_kept(pod, inventory, statefulset), actions=prefix + tail)
    assert where.target_zone is not None
    moves = _claim_moves(pod, inventory, statefulset, policy, subject)
    if isinstance(moves, Skipped):
        return moves
    claims_actions = _claims_actions(
        pod=pod,
        inventory=inventory,
        statefulset=statefulset,
        policy=policy,
        request=request,
        where=where,
        moves=moves,
        gate=gate,
    )
    zones = (where.target_zone,) if policy is RehomePolicy.SNAPSHOT else _fresh_zones(inventory, from_zone)
    actions = (*prefix, *claims_actions, _verify(inventory.cluster, pod, zones, gate))
    return replace(
        base,
        target_zone=where.target_zone,
        moves=tuple(m for m, _ in moves),
        actions=actions,
        warnings=_warnings(statefulset, moves, request.now, limit) + _released(claims_actions),
    )


def _pet_zone(pod: Pod, node: Node | None, inventory: ClusterInventory) -> str | None:
    """The pet's zone: its node's, or (not scheduled) its volumes'."""
    if node and node.zone:
        return node.zone
    for claim_name in pod.claims:
        claim = inventory.claims.get(key(pod.namespace, claim_name))
        volume = inventory.volumes.get(claim.volume_name or "") if claim else None
        if volume and volume.zone:
            return volume.zone
    return None


def _why_nothing(policy: RehomePolicy, pod: Pod) -> str:
    if policy is RehomePolicy.STAY:
        return "policy stay: the pet keeps its zone"
    return f"pod runs on {pod.node or 'no node'} in a healthy zone; give targetZone to move it"


def _verify(cluster: str, pod: Pod, zones: tuple[str, ...], gate: _Gate) -> VerifyRunning:
    # A pod that never ran anywhere (no node) is the one that will run: do not wait for a new uid.
    old_uid = pod.uid if pod.node else ""
    return VerifyRunning(
        cluster=cluster,
        namespace=pod.namespace,
        pod=pod.name,
        zones=zones,
        old_uid=old_uid,
        when=gate.when,
        gate=gate.step,
    )


def _fresh_zones(inventory: ClusterInventory, from_zone: str | None) -> tuple[str, ...]:
    return healthy_zones(inventory, exclude=[from_zone] if from_zone else []) or ("",)


def _template_claims(pod: Pod, statefulset: StatefulSet) -> list[tuple[str, str]]:
    """(template name, claim name) of the pet's own claims; other claims a pod mounts are shared, not moved."""
    wanted = [(t.name, statefulset.claim_name(t.name, pod.ordinal)) for t in statefulset.claim_templates]
    return [(template, claim) for template, claim in wanted if claim in pod.claims or not pod.claims]


def _kept(pod: Pod, inventory: ClusterInventory, statefulset: StatefulSet) -> tuple[ClaimMove, ...]:
    moves = []
    for _, claim_name in _template_claims(pod, statefulset):
        claim = inventory.claims.get(key(pod.namespace, claim_name))
        volume = inventory.volumes.get(claim.volume_name or "") if claim else None
        if claim and volume:
            moves.append(ClaimMove(claim=claim_name, old_pv=volume.name, old_volume=volume.volume_id))
    return tuple(moves)


def _claim_moves(
    pod: Pod, inventory: ClusterInventory, statefulset: StatefulSet, policy: RehomePolicy, subject: str
) -> list[tuple[ClaimMove, EbsVolume | None]] | Skipped:
    """Each claim's old PV, old volume and (snapshot policy) the newest completed snapshot; or why not."""
    found: list[tuple[ClaimMove, EbsVolume | None]] = []
    claims = _template_claims(pod, statefulset)
    if not claims:
        return Skipped(subject, SkipReason.CLAIM_NOT_BOUND, "the pet has no claim from a volume claim template")
    for _, claim_name in claims:
        claim = inventory.claims.get(key(pod.namespace, claim_name))
        volume = inventory.volumes.get(claim.volume_name or "") if claim else None
        if claim is None or volume is None:
            return Skipped(subject, SkipReason.CLAIM_NOT_BOUND, f"claim {claim_name} is missing or not bound")
        if not volume.is_ebs:
            return Skipped(subject, SkipReason.NOT_EBS, f"PV {volume.name} of claim {claim_name} is not an EBS volume")
        if policy is RehomePolicy.FRESH:
            found.append((ClaimMove(claim=claim_name, old_pv=volume.name, old_volume=volume.volume_id), None))
            continue
        ebs = inventory.ebs_volumes.get(volume.volume_id or "")
        if ebs is None:
            return Skipped(
                subject, SkipReason.VOLUME_UNKNOWN, f"EC2 could not describe {volume.volume_id} (claim {claim_name})"
            )
        snapshot = newest_completed(inventory.snapshots.get(ebs.volume_id, ()))
        if snapshot is None:
            return Skipped(
                subject, SkipReason.NO_SNAPSHOT, f"no completed snapshot of {ebs.volume_id} (claim {claim_name})"
            )
        move = ClaimMove(
            claim=claim_name,
            old_pv=volume.name,
            old_volume=ebs.volume_id,
            snapshot_id=snapshot.snapshot_id,
            snapshot_started_at=snapshot.started_at,
        )
        found.append((move, ebs))
    return found


def newest_completed(snapshots: Iterable[EbsSnapshot]) -> EbsSnapshot | None:
    done = [s for s in snapshots if s.completed]
    return max(done, key=lambda s: (s.started_at, s.snapshot_id)) if done else None


def _claims_actions(
    *,
    pod: Pod,
    inventory: ClusterInventory,
    statefulset: StatefulSet,
    policy: RehomePolicy,
    request: Request,
    where: _Where,
    moves: list[tuple[ClaimMove, EbsVolume | None]],
    gate: _Gate,
) -> list[Action]:
    """Prepare every claim (new volume, PV, Retain), then let go of the old claims, then bind the new ones."""
    cluster, namespace = inventory.cluster, pod.namespace
    assert where.target_zone is not None
    prepare: list[Action] = []
    release: list[Action] = []
    bind: list[Action] = []
    for move, ebs in moves:
        claim = inventory.claims[key(namespace, move.claim)]
        old = inventory.volumes[move.old_pv]
        leftovers = inventory.leftovers(namespace, move.claim)
        pet, zone = f"{namespace}/{move.claim}", where.target_zone
        reusable = (pv for pv in leftovers if _restores(pv, pet, move, zone, inventory))
        reused = next(reusable, None) if policy is RehomePolicy.SNAPSHOT else None
        prepare += [
            ReleasePersistentVolume(
                cluster=cluster,
                name=pv.name,
                claim_namespace=namespace,
                claim_name=move.claim,
                volume_id=pv.volume_id,
                when=gate.when,
                gate=gate.step,
            )
            for pv in leftovers
            if pv is not reused
        ]
        if policy is RehomePolicy.SNAPSHOT:
            assert ebs is not None and move.snapshot_id is not None
            create = CreateVolume(
                cluster=cluster,
                run_id=request.run_id,
                namespace=namespace,
                claim=move.claim,
                snapshot_id=move.snapshot_id,
                zone=where.target_zone,
                volume_type=ebs.volume_type,
                size_gib=ebs.size_gib,
                iops=ebs.iops if ebs.volume_type in ("io1", "io2", "gp3") else None,
                throughput=ebs.throughput if ebs.volume_type == "gp3" else None,
                encrypted=ebs.encrypted,
                kms_key_id=ebs.kms_key_id if ebs.encrypted else None,
                tags=_new_volume_tags(ebs, cluster, namespace, move, request.run_id),
                reuse_volume_id=reused.volume_id if reused else None,
                when=gate.when,
                gate=gate.step,
            )
            pv_name = reused.name if reused else new_pv_name(request.run_id, cluster, namespace, move.claim)
            prepare += [
                create,
                TagOldVolume(
                    cluster=cluster, volume_id=ebs.volume_id, created_by=create.step_id, when=gate.when, gate=gate.step
                ),
                CreatePersistentVolume(
                    cluster=cluster,
                    name=pv_name,
                    created_by=create.step_id,
                    zone=where.target_zone,
                    zone_key=old.zone_key or DEFAULT_ZONE_KEY,
                    capacity=old.capacity,
                    storage_class=old.storage_class,
                    access_modes=old.access_modes,
                    fs_type=old.fs_type,
                    volume_mode=old.volume_mode,
                    claim_namespace=namespace,
                    claim_name=move.claim,
                    when=gate.when,
                    gate=gate.step,
                ),
            ]
            bind.append(
                BindClaim(
                    cluster=cluster,
                    namespace=namespace,
                    name=move.claim,
                    volume_name=pv_name,
                    storage_class=old.storage_class,
                    access_modes=claim.access_modes,
                    request=claim.request,
                    labels=tuple(sorted(claim.labels.items())),
                    when=gate.when,
                    gate=gate.step,
                )
            )
        else:
            bind.append(
                RecreateClaim(
                    cluster=cluster,
                    namespace=namespace,
                    name=move.claim,
                    storage_class=claim.storage_class,
                    access_modes=claim.access_modes,
                    request=claim.request,
                    labels=tuple(sorted(claim.labels.items())),
                    when=gate.when,
                    gate=gate.step,
                )
            )
        prepare.append(RetainPersistentVolume(cluster=cluster, name=old.name, when=gate.when, gate=gate.step))
        release.append(
            DeleteClaim(
                cluster=cluster,
                namespace=namespace,
                name=move.claim,
                uid=claim.uid,
                volume_name=old.name,
                when=gate.when,
                gate=gate.step,
            )
        )
    released = AwaitPodReleased(
        cluster=cluster, namespace=namespace, pod=pod.name, uid=pod.uid, when=gate.when, gate=gate.step
    )
    if where.evict:
        # Claims first (they stay Terminating while the pod runs), so the recreated pod cannot reuse them; but
        # only once the budget says the eviction may happen now, or the pet could be left on a dying claim.
        leave: list[Action] = [
            AskEviction(cluster=cluster, namespace=namespace, pod=pod.name, uid=pod.uid),
            *release,
            Evict(cluster=cluster, namespace=namespace, pod=pod.name, uid=pod.uid),
            released,
        ]
    elif pod.node:
        leave = [released, *release]
    else:
        leave = list(release)
    return [*prepare, *leave, *bind]


def _restores(pv: PersistentVolume, pet: str, move: ClaimMove, zone: str, inventory: ClusterInventory) -> bool:
    """A leftover PV this move can take instead of making another: its volume, as EC2 describes it now, was
    restored for this pet from this move's snapshot, lies in the target zone and is attached nowhere."""
    ebs = inventory.ebs_volumes.get(pv.volume_id or "")
    return (
        ebs is not None
        and pv.zone == zone
        and ebs.zone == zone
        and ebs.state == "available"
        and ebs.tags.get(RESTORED_FROM_TAG) == move.snapshot_id
        and ebs.tags.get(PET_TAG) == pet
    )


def _released(actions: Iterable[Action]) -> tuple[str, ...]:
    """What a person must hear about each leftover PV a plan releases: Ferry keeps it and its volume."""
    return tuple(
        f"PV {a.name} (volume {a.volume_id or 'unknown'}) was left pre-bound to {a.claim_name} by an earlier run;"
        " released, not used: it and its volume are kept (delete them by hand if they are not needed)"
        for a in actions
        if isinstance(a, ReleasePersistentVolume)
    )


def new_pv_name(run_id: str, cluster: str, namespace: str, claim: str) -> str:
    """Deterministic per run and claim, so a replay finds the PV it made; a later move gets another name."""
    return "ferry-" + hashlib.sha256(f"{run_id}/{cluster}/{namespace}/{claim}".encode()).hexdigest()[:16]


def _new_volume_tags(
    old: EbsVolume, cluster: str, namespace: str, move: ClaimMove, run_id: str
) -> tuple[tuple[str, str], ...]:
    tags = {k: v for k, v in old.tags.items() if not k.startswith("aws:") and k not in _DROPPED_TAGS}
    tags |= {
        MANAGED_TAG: MANAGED_VALUE,
        CLUSTER_TAG: cluster,
        PET_TAG: f"{namespace}/{move.claim}",
        RUN_TAG: run_id,
        RESTORED_FROM_TAG: move.snapshot_id or "",
    }
    return tuple(sorted(tags.items()))


def _warnings(
    statefulset: StatefulSet,
    moves: list[tuple[ClaimMove, EbsVolume | None]],
    now: datetime,
    limit: timedelta | None,
) -> tuple[str, ...]:
    found = []
    for move, _ in moves:
        if move.snapshot_started_at and limit is not None and now - move.snapshot_started_at > limit:
            age = int((now - move.snapshot_started_at).total_seconds())
            found.append(
                f"RPO breach: snapshot {move.snapshot_id} is {age}s old, max-rpo {int(limit.total_seconds())}s"
            )
    if MAX_RPO_ANNOTATION in statefulset.annotations and limit is None:
        found.append(f"{MAX_RPO_ANNOTATION}={statefulset.annotations[MAX_RPO_ANNOTATION]!r} is not a duration like 15m")
    return tuple(found)


def spread_blocks(
    statefulset: StatefulSet, inventory: ClusterInventory, placed: Counter[str], target: str
) -> str | None:
    """Why the pod template's DoNotSchedule zone spread would keep the moved pod Pending in `target`, if it
    would: the scheduler's skew (pods in the target, plus this one, minus the emptiest counted zone) must not
    exceed maxSkew. With `nodeTaintsPolicy: Ignore` the dead zone's tainted nodes still count, with no pods."""
    spread = statefulset.spread
    if spread is None:
        return None
    capacity = schedulable_nodes(inventory)
    zones = [
        zone
        for zone in inventory.known_zones()
        if (statefulset.zones is None or zone in statefulset.zones) and (not spread.honor_taints or capacity[zone])
    ]
    after = placed.copy()
    after[target] += 1
    skew = after[target] - min((after[zone] for zone in zones), default=0)
    if skew <= spread.max_skew:
        return None
    policy = "" if spread.honor_taints else " (nodeTaintsPolicy Ignore counts the dead zone; Honor would not)"
    return f"its zone spread allows a skew of {spread.max_skew}, a move to {target} makes it {skew}{policy}"


# --- requests -------------------------------------------------------------------------------------------------


def plan_evacuation(zone: str, inventories: Iterable[ClusterInventory], request: Request) -> Plan:
    """EvacuateZone: every worker node of `zone` fenced (within the run's limit, nodes with pets first), every
    pet there freed and moved per its policy."""
    nodes: list[NodePlan] = []
    pets: list[PetPlan] = []
    skipped: list[Skipped] = []
    budget = request.limits.max_fences_per_run
    for inventory in sorted(inventories, key=lambda i: i.cluster):
        node_plans, node_skips, budget = _fence_zone(zone, inventory, budget)
        nodes += node_plans.values()
        skipped += node_skips.values()
        planned_pets, pet_skips = _evacuate_pets(zone, inventory, request, node_plans, node_skips)
        pets += planned_pets
        skipped += pet_skips
    return Plan(zone=zone, nodes=tuple(nodes), pets=tuple(pets), skipped=tuple(skipped))


def _pets_in_zone(zone: str, inventory: ClusterInventory) -> list[Pod]:
    """The zone's pets, lowest ordinals first and StatefulSets interleaved: an OrderedReady StatefulSet brings
    its pods back one at a time in ordinal order, so pets re-homed at once had better belong to different
    StatefulSets, and each StatefulSet's lowest ordinal should go first."""
    pets = [p for p in inventory.pods if _pet_zone(p, inventory.nodes.get(p.node or ""), inventory) == zone]
    rank: dict[tuple[str, str], list[int]] = {}
    for pod in pets:
        rank.setdefault((pod.namespace, pod.statefulset), []).append(pod.ordinal)
    position = {
        (ns, sts, ordinal): index
        for (ns, sts), ordinals in rank.items()
        for index, ordinal in enumerate(sorted(ordinals))
    }
    return sorted(pets, key=lambda p: (position[(p.namespace, p.statefulset, p.ordinal)], p.namespace, p.statefulset))


def _fence_zone(
    zone: str, inventory: ClusterInventory, budget: int
) -> tuple[dict[str, NodePlan], dict[str, Skipped], int]:
    with_pets = {p.node for p in _pets_in_zone(zone, inventory) if p.node}
    in_zone = sorted(
        (n for n in inventory.nodes.values() if n.zone == zone), key=lambda n: (n.name not in with_pets, n.name)
    )
    plans: dict[str, NodePlan] = {}
    skips: dict[str, Skipped] = {}
    for node in in_zone:
        planned = plan_fence(node, inventory)
        if isinstance(planned, NodePlan) and budget <= 0:
            planned = Skipped(
                f"{inventory.cluster}/node/{node.name}", SkipReason.FENCE_LIMIT, "this run's fence budget is spent"
            )
        if isinstance(planned, NodePlan):
            plans[node.name] = planned
            budget -= 1
        else:
            skips[node.name] = planned
    return plans, skips, budget


def _evacuate_pets(
    zone: str,
    inventory: ClusterInventory,
    request: Request,
    node_plans: Mapping[str, NodePlan],
    node_skips: Mapping[str, Skipped],
) -> tuple[list[PetPlan], list[Skipped]]:
    planned: list[PetPlan] = []
    skipped: list[Skipped] = []
    leaving = _pets_in_zone(zone, inventory)
    placed: dict[str, Counter[str]] = {}
    for pod in leaving:
        subject = f"{inventory.cluster}/{pod.namespace}/{pod.name}"
        if pod.node and pod.node not in node_plans:
            why = node_skips.get(pod.node)
            detail = f"node {pod.node} is not fenced in this run" + (f" ({why.reason.value})" if why else "")
            skipped.append(Skipped(subject, SkipReason.NODE_NOT_FENCED, detail))
            continue
        statefulset = inventory.statefulsets.get(key(pod.namespace, pod.statefulset))
        target = None
        if statefulset is not None:
            counts = placed.setdefault(
                key(pod.namespace, pod.statefulset),
                pets_per_zone(inventory, statefulset, (p.name for p in leaving if p.namespace == pod.namespace)),
            )
            target = choose_target_zone(statefulset, inventory, (zone,), counts)
            moving = rehome_policy(statefulset.annotations) in (RehomePolicy.SNAPSHOT, RehomePolicy.FRESH)
            if target is None and moving:
                skipped.append(
                    Skipped(subject, SkipReason.NO_TARGET_ZONE, f"every zone but {zone} is impaired or full")
                )
                continue
            blocked = spread_blocks(statefulset, inventory, counts, target) if target and moving else None
            if blocked:
                skipped.append(Skipped(subject, SkipReason.SPREAD_BLOCKS, blocked))
                continue
        where = _Where(node_plan=node_plans.get(pod.node or ""), evict=False, target_zone=target)
        result = plan_pet(pod, inventory, request, where)
        if isinstance(result, Skipped):
            skipped.append(result)
            continue
        planned.append(result)
        if result.crosses_zones and result.target_zone and statefulset is not None:
            placed[key(pod.namespace, pod.statefulset)][result.target_zone] += 1
    return planned, skipped


def plan_rehome(
    inventory: ClusterInventory,
    namespace: str,
    statefulset: str,
    ordinal: int,
    *,
    request: Request,
    target_zone: str | None = None,
) -> Plan:
    """RehomePet: one pet, by the rules in the module docstring."""
    name = f"{statefulset}-{ordinal}"
    subject = f"{inventory.cluster}/{namespace}/{name}"
    pod = next((p for p in inventory.pods if p.namespace == namespace and p.name == name), None)
    sts = inventory.statefulsets.get(key(namespace, statefulset))
    if pod is None or sts is None:
        return Plan(zone=None, skipped=(Skipped(subject, SkipReason.POD_NOT_FOUND, "no such pet"),))
    if pod.deleting and pod.node and inventory.nodes.get(pod.node, None) and inventory.nodes[pod.node].ready:
        return Plan(zone=None, skipped=(Skipped(subject, SkipReason.POD_DELETING, "the pod is already leaving"),))
    node = inventory.nodes.get(pod.node or "")
    from_zone = _pet_zone(pod, node, inventory)
    impaired = from_zone is not None and inventory.zone_status(from_zone) is not ZoneStatus.HEALTHY
    node_plan: NodePlan | None = None
    skipped: list[Skipped] = []
    if node is not None and not node.ready:
        fenced = plan_fence(node, inventory)
        if isinstance(fenced, Skipped):
            return Plan(zone=from_zone, skipped=(fenced, Skipped(subject, SkipReason.NODE_NOT_FENCED, fenced.detail)))
        node_plan = fenced
    evict = node is not None and node.ready
    wanted = target_zone or (_auto_target(sts, inventory, from_zone, pod) if impaired else None)
    if target_zone is not None and target_zone not in healthy_zones(inventory):
        skip = Skipped(subject, SkipReason.NO_TARGET_ZONE, f"{target_zone} is not a healthy zone with capacity")
        return Plan(zone=from_zone, skipped=(skip,))
    if impaired and wanted is None and rehome_policy(sts.annotations) is not RehomePolicy.STAY:
        skip = Skipped(subject, SkipReason.NO_TARGET_ZONE, f"every zone but {from_zone} is impaired or full")
        return Plan(zone=from_zone, skipped=(skip,))
    blocked = None
    if wanted is not None and wanted != from_zone and rehome_policy(sts.annotations) is not RehomePolicy.STAY:
        blocked = spread_blocks(sts, inventory, pets_per_zone(inventory, sts, (pod.name,)), wanted)
    if blocked:
        return Plan(zone=from_zone, skipped=(Skipped(subject, SkipReason.SPREAD_BLOCKS, blocked),))
    if evict and wanted and wanted != from_zone and request.limits.max_evictions_per_run < 1:
        skip = Skipped(subject, SkipReason.EVICTION_LIMIT, "evictions are disabled (FERRY_MAX_EVICTIONS_PER_RUN=0)")
        return Plan(zone=from_zone, skipped=(skip,))
    result = plan_pet(pod, inventory, request, _Where(node_plan=node_plan, evict=evict, target_zone=wanted))
    if isinstance(result, Skipped):
        skipped.append(result)
        return Plan(zone=from_zone, nodes=(node_plan,) if node_plan else (), skipped=tuple(skipped))
    return Plan(zone=from_zone, nodes=(node_plan,) if node_plan else (), pets=(result,))


def _auto_target(sts: StatefulSet, inventory: ClusterInventory, from_zone: str | None, pod: Pod) -> str | None:
    counts = pets_per_zone(inventory, sts, (pod.name,))
    return choose_target_zone(sts, inventory, (from_zone,) if from_zone else (), counts)
