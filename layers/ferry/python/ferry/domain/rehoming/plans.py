"""A re-homing plan: ordered, frozen actions, each with an absolute target and a deterministic step id (pure).

The planner decides; the executor (`ferry.executor.plans.PlanExecutor`) carries actions out, one at a time, in
order, and journals each completed step under its id (`<cluster>/<kind>/<target>`). Because a step id names
what the step does and to what, not when, replaying a plan finds every finished step in the journal and
the world, and does nothing twice.

Some actions only make sense once a node's fence is confirmed (the out-of-service taint, force-deleting
pods, everything that moves a pet off that node): they carry `when=FENCED` and `gate=<the Fence step id>`,
and the executor runs them only if that Fence step reported the instance stopped or terminated. The others
(`NOT_FENCED`: quarantine the node) run only if it did not. "No fencing, no force" is thus in the plan's
structure, and the executor checks it again against EC2 before it frees anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar, Self

from ferry.domain.errors import InputError
from ferry.domain.rehoming.policies import RehomePolicy
from ferry.domain.serialization import CamelJsonModel, JsonModel, dump, load, wire


class ActionKind(StrEnum):
    FENCE = "fence"
    CORDON = "cordon"
    MARK_OUT_OF_SERVICE = "out-of-service"
    FORCE_DELETE_PODS = "force-delete-pods"
    DELETE_VOLUME_ATTACHMENTS = "delete-volume-attachments"
    QUARANTINE = "quarantine"
    AWAIT_POD_RELEASED = "await-pod-released"
    CREATE_VOLUME = "create-volume"
    TAG_OLD_VOLUME = "tag-old-volume"
    CREATE_PERSISTENT_VOLUME = "create-pv"
    RETAIN_PERSISTENT_VOLUME = "retain-pv"
    RELEASE_PERSISTENT_VOLUME = "release-pv"
    DELETE_CLAIM = "delete-pvc"
    BIND_CLAIM = "bind-pvc"
    RECREATE_CLAIM = "recreate-pvc"
    ASK_EVICTION = "ask-eviction"
    EVICT = "evict"
    DRAIN_POD = "drain-pod"
    COMPLETE_LIFECYCLE_ACTION = "complete-lifecycle-action"
    VERIFY_RUNNING = "verify-running"
    LIFT = "lift"  # FailbackZone: give back what Ferry did to a node (ferry.domain.rehoming.failback)


FREEING_KINDS = frozenset(
    {ActionKind.MARK_OUT_OF_SERVICE, ActionKind.FORCE_DELETE_PODS, ActionKind.DELETE_VOLUME_ATTACHMENTS}
)


_NODE_KINDS = FREEING_KINDS | {ActionKind.FENCE, ActionKind.CORDON, ActionKind.QUARANTINE, ActionKind.LIFT}


class Condition(StrEnum):
    ALWAYS = "always"
    FENCED = "fenced"  # only if the gate's Fence step confirmed the instance stopped or terminated
    NOT_FENCED = "not-fenced"  # only if it did not


@dataclass(frozen=True, slots=True, kw_only=True)
class Action(JsonModel):
    """One step. Its JSON (the journal's form, and the plan a step reads back) is its kind and step id, then its
    fields by name, snake_case; `Action.from_dict` picks the class by kind."""

    cluster: str
    when: Condition = Condition.ALWAYS
    gate: str | None = None  # step id of the Fence step that decides `when`

    kind: ClassVar[ActionKind]

    @property
    def target(self) -> str:
        raise NotImplementedError

    @property
    def step_id(self) -> str:
        return f"{self.cluster}/{self.kind.value}/{self.target}"

    def describe(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "stepId": self.step_id, **dump(self)}

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """The action class that `kind` names (one of `cls`'s); a `stepId`, if given, must be the one its fields
        make, so a journaled step cannot be read back as another."""
        kind: Any = data.get("kind") if isinstance(data, Mapping) else None
        try:
            found: type[Action] | None = ACTION_TYPES[ActionKind(kind)]
        except ValueError:
            found = None
        if found is None or not issubclass(found, cls):
            kinds = ", ".join(k.value for k, c in ACTION_TYPES.items() if issubclass(c, cls))
            raise InputError([f"kind: expected one of {kinds}, got {kind!r}"])
        action = load(found, data)
        if data.get("stepId") not in (None, action.step_id):
            raise InputError([f"stepId: {data['stepId']!r} does not match the action ({action.step_id!r})"])
        return action


# --- nodes ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeAction(Action):
    """An action on one node: the node is its target."""

    node: str

    @property
    def target(self) -> str:
        return self.node


@dataclass(frozen=True, slots=True, kw_only=True)
class Fence(NodeAction):
    """Confirm through EC2 that the node's instance is stopped or terminated; stop it (force) if it runs."""

    kind: ClassVar[ActionKind] = ActionKind.FENCE
    instance_id: str
    zone: str

    def describe(self) -> str:
        return f"fence {self.node}: confirm {self.instance_id} stopped, or stop it (force) and wait"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cordon(NodeAction):
    kind: ClassVar[ActionKind] = ActionKind.CORDON

    def describe(self) -> str:
        return f"cordon {self.node}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkOutOfService(NodeAction):
    """`node.kubernetes.io/out-of-service=nodeshutdown:NoExecute`: Kubernetes 1.28+ then force-deletes the
    node's pods and detaches their volumes."""

    kind: ClassVar[ActionKind] = ActionKind.MARK_OUT_OF_SERVICE

    def describe(self) -> str:
        return f"taint {self.node} node.kubernetes.io/out-of-service=nodeshutdown:NoExecute"


@dataclass(frozen=True, slots=True, kw_only=True)
class ForceDeletePods(NodeAction):
    """Before Kubernetes 1.28: delete the fenced node's pods with grace period 0."""

    kind: ClassVar[ActionKind] = ActionKind.FORCE_DELETE_PODS

    def describe(self) -> str:
        return f"force-delete the pods of {self.node} (grace period 0)"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteVolumeAttachments(NodeAction):
    kind: ClassVar[ActionKind] = ActionKind.DELETE_VOLUME_ATTACHMENTS

    def describe(self) -> str:
        return f"delete the VolumeAttachments of {self.node}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Quarantine(NodeAction):
    """A node whose fence is not confirmed: no new pods (NoSchedule), and nothing forced."""

    kind: ClassVar[ActionKind] = ActionKind.QUARANTINE

    def describe(self) -> str:
        return f"taint {self.node} ferry.io/fence-unconfirmed:NoSchedule (fence not confirmed: nothing forced)"


@dataclass(frozen=True, slots=True, kw_only=True)
class LiftNode(NodeAction):
    """FailbackZone: unless the zone has relapsed, lift Ferry's marked cordon and taints and its quarantine in
    one write; if the zone relapses meanwhile, put Ferry's cordon back (ferry.domain.rehoming.failback)."""

    kind: ClassVar[ActionKind] = ActionKind.LIFT
    zone: str

    def describe(self) -> str:
        return f"give {self.node} back: lift Ferry's cordon and taints (only those), unless {self.zone} relapsed"


# --- pets -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PodAction(Action):
    """An action on one pod (a pet's pod, by name): `<namespace>/<pod>` is its target."""

    namespace: str
    pod: str

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.pod}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AwaitPodReleased(PodAction):
    """The pet's old pod (by uid) is gone: its identity is free and its volumes are no longer in use."""

    kind: ClassVar[ActionKind] = ActionKind.AWAIT_POD_RELEASED
    uid: str

    def describe(self) -> str:
        return f"wait until pod {self.namespace}/{self.pod} (uid {self.uid[:8]}) is gone"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateVolume(Action):
    """A new EBS volume from a snapshot, shaped like the old one, with a client token and Ferry's tags; or, with
    `reuse_volume_id`, the volume an earlier run of the same move (same snapshot, same zone) already restored,
    whose PV is still pre-bound to the claim: taken as it is, no second volume made."""

    kind: ClassVar[ActionKind] = ActionKind.CREATE_VOLUME
    run_id: str
    namespace: str
    claim: str
    snapshot_id: str
    zone: str
    volume_type: str
    size_gib: int
    iops: int | None = None
    throughput: int | None = None
    encrypted: bool = False
    kms_key_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    reuse_volume_id: str | None = field(default=None, metadata=wire(omit_empty=True))

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.claim}"

    @property
    def client_token(self) -> str:
        """EC2 returns the same volume for a repeated request with this token (at most 64 characters)."""
        return hashlib.sha256(f"{self.run_id}/{self.step_id}".encode()).hexdigest()[:48]

    def describe(self) -> str:
        if self.reuse_volume_id:
            return (
                f"reuse {self.reuse_volume_id} in {self.zone}, restored from {self.snapshot_id} by an earlier run,"
                f" for {self.namespace}/{self.claim}"
            )
        return (
            f"create a {self.size_gib} GiB {self.volume_type} volume in {self.zone} from {self.snapshot_id}"
            f" for {self.namespace}/{self.claim}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TagOldVolume(Action):
    """`ferry:rehomed-to=<new volume>` on the old volume, which stays: where the pet's data went."""

    kind: ClassVar[ActionKind] = ActionKind.TAG_OLD_VOLUME
    volume_id: str
    created_by: str  # step id of the CreateVolume whose result names the new volume

    @property
    def target(self) -> str:
        return self.volume_id

    def describe(self) -> str:
        return f"tag {self.volume_id} ferry:rehomed-to=<the new volume> (the old volume is kept)"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatePersistentVolume(Action):
    """A static PV for the new volume, zone affinity as the EBS CSI driver writes it, pre-bound to the claim."""

    kind: ClassVar[ActionKind] = ActionKind.CREATE_PERSISTENT_VOLUME
    name: str
    created_by: str
    zone: str
    zone_key: str
    capacity: str
    storage_class: str
    access_modes: tuple[str, ...]
    fs_type: str | None
    volume_mode: str
    claim_namespace: str
    claim_name: str

    @property
    def target(self) -> str:
        return self.name

    def describe(self) -> str:
        return (
            f"create PV {self.name} ({self.zone}, Retain) for the new volume, "
            f"pre-bound to {self.claim_namespace}/{self.claim_name}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RetainPersistentVolume(Action):
    kind: ClassVar[ActionKind] = ActionKind.RETAIN_PERSISTENT_VOLUME
    name: str

    @property
    def target(self) -> str:
        return self.name

    def describe(self) -> str:
        return f"set PV {self.name} reclaim policy to Retain"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleasePersistentVolume(Action):
    """A PV an earlier run made for this claim, still pre-bound to it by name, that this move does not use (its
    volume holds another snapshot, or lies in another zone): before the claim is let go, its claimRef gets a
    uid no claim has, so the PV controller treats it as Released (Retain: the PV and its volume stay, reported)
    and binds the claim's next incarnation to this move's PV, not to that one. Nothing is deleted."""

    kind: ClassVar[ActionKind] = ActionKind.RELEASE_PERSISTENT_VOLUME
    name: str
    claim_namespace: str
    claim_name: str
    volume_id: str | None

    @property
    def target(self) -> str:
        return self.name

    def describe(self) -> str:
        return (
            f"release PV {self.name} (volume {self.volume_id or 'unknown'}, left by an earlier run) from "
            f"{self.claim_namespace}/{self.claim_name}: Released, kept with its volume"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteClaim(Action):
    """Delete the old claim (that uid only), after its PV is Retain: the volume stays."""

    kind: ClassVar[ActionKind] = ActionKind.DELETE_CLAIM
    namespace: str
    name: str
    uid: str
    volume_name: str

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.name}"

    def describe(self) -> str:
        return f"delete PVC {self.namespace}/{self.name} (uid {self.uid[:8]}; PV {self.volume_name} is Retain)"


@dataclass(frozen=True, slots=True, kw_only=True)
class BindClaim(Action):
    """The claim again, same name, pre-bound to the new PV."""

    kind: ClassVar[ActionKind] = ActionKind.BIND_CLAIM
    namespace: str
    name: str
    volume_name: str
    storage_class: str
    access_modes: tuple[str, ...]
    request: str
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.name}"

    def describe(self) -> str:
        return f"create PVC {self.namespace}/{self.name} bound to PV {self.volume_name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecreateClaim(Action):
    """`fresh`: the claim from the StatefulSet's template, unbound, so it is provisioned where the pod lands."""

    kind: ClassVar[ActionKind] = ActionKind.RECREATE_CLAIM
    namespace: str
    name: str
    storage_class: str | None
    access_modes: tuple[str, ...]
    request: str
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.name}"

    def describe(self) -> str:
        return f"create PVC {self.namespace}/{self.name} from the claim template (a new empty volume)"


@dataclass(frozen=True, slots=True, kw_only=True)
class AskEviction(PodAction):
    """Before a live pet's claims are let go: ask the Eviction API with dryRun=All whether its budget allows the
    eviction now. A claim deleted while the eviction is then refused would leave the pet running on a claim
    that is Terminating, and any later restart would come up on a fresh, empty claim."""

    kind: ClassVar[ActionKind] = ActionKind.ASK_EVICTION
    uid: str

    def describe(self) -> str:
        return f"ask whether pod {self.namespace}/{self.pod} may be evicted now (dry run; PodDisruptionBudgets)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Evict(PodAction):
    """A pet on a live node leaves through the Eviction API, so PodDisruptionBudgets hold."""

    kind: ClassVar[ActionKind] = ActionKind.EVICT
    uid: str

    def describe(self) -> str:
        return f"evict pod {self.namespace}/{self.pod} (Eviction API; PodDisruptionBudgets apply)"


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainPod(PodAction):
    """DrainNode: one pod of a warned node leaves through the Eviction API, as `kubectl drain` evicts it: never
    forced, its claims untouched. A budget's refusal is asked again until `deadline` (ISO 8601), then the step
    ends with the pod reported not evicted and why (the node is going away; Ferry still does not force)."""

    kind: ClassVar[ActionKind] = ActionKind.DRAIN_POD
    uid: str
    deadline: str

    def describe(self) -> str:
        return (
            f"evict pod {self.namespace}/{self.pod} (Eviction API; PodDisruptionBudgets apply; never forced)"
            f" until {self.deadline}"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CompleteLifecycleAction(NodeAction):
    """DrainNode for an Auto Scaling terminate hook: CONTINUE once every `after` step (the node's evictions)
    is finished, evicted or reported at its deadline; the group then terminates the instance."""

    kind: ClassVar[ActionKind] = ActionKind.COMPLETE_LIFECYCLE_ACTION
    group: str
    hook: str
    token: str
    instance_id: str
    after: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"complete the lifecycle action of {self.instance_id} ({self.group}/{self.hook}): CONTINUE"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyRunning(PodAction):
    kind: ClassVar[ActionKind] = ActionKind.VERIFY_RUNNING
    zones: tuple[str, ...]
    old_uid: str

    def describe(self) -> str:
        return f"verify pod {self.namespace}/{self.pod} runs again, in {' or '.join(self.zones)}"


ACTION_TYPES: Mapping[ActionKind, type[Action]] = {
    cls.kind: cls
    for cls in (
        Fence,
        Cordon,
        MarkOutOfService,
        ForceDeletePods,
        DeleteVolumeAttachments,
        Quarantine,
        AwaitPodReleased,
        CreateVolume,
        TagOldVolume,
        CreatePersistentVolume,
        RetainPersistentVolume,
        ReleasePersistentVolume,
        DeleteClaim,
        BindClaim,
        RecreateClaim,
        AskEviction,
        Evict,
        DrainPod,
        CompleteLifecycleAction,
        VerifyRunning,
        LiftNode,
    )
}


def action_from_dict(data: Mapping[str, Any]) -> Action:
    """The inverse of `Action.to_dict` (a journaled or passed-along plan back into actions)."""
    return Action.from_dict(data)


# --- plans ----------------------------------------------------------------------------------------------------


class SkipReason(StrEnum):
    """Why a node or a pet is left alone; each is said in the report, none is a half-move."""

    UNKNOWN_POLICY = "unknown-policy"
    STATEFULSET_DELETING = "statefulset-deleting"
    NOT_EBS = "volume-not-ebs"
    NO_SNAPSHOT = "no-snapshot"
    CLAIM_NOT_BOUND = "claim-not-bound"
    VOLUME_UNKNOWN = "volume-unknown"
    NO_TARGET_ZONE = "no-healthy-zone-with-capacity"
    FENCE_LIMIT = "fence-limit"
    EVICTION_LIMIT = "eviction-limit"
    NO_INSTANCE = "no-instance-id"
    CONTROL_PLANE = "control-plane-node"
    POD_NOT_FOUND = "pod-not-found"
    POD_DELETING = "pod-deleting"
    NOTHING_TO_DO = "nothing-to-do"
    NODE_NOT_FENCED = "node-not-fenced"
    DAEMONSET_POD = "daemonset-pod"  # a drain leaves it, as `kubectl drain --ignore-daemonsets` does
    MIRROR_POD = "mirror-pod"  # a static pod's mirror: the API cannot evict it
    SPREAD_BLOCKS = "topology-spread-blocks"  # the moved pod would stay Pending: its zone spread forbids the move
    NODE_NOT_READY = "node-not-ready"  # failback: its kubelet is not back; it keeps Ferry's cordon and taints
    LIVING_AWAY = "living-away-from-its-zone"  # failback: a pet moved away stays where its data now is
    ZONE_RELAPSED = "zone-relapsed"  # failback: the zone is impaired again; nothing is given back
    PLANNED_STAGE = "planned-stage"  # failback: federated replicas return with FailbackCluster (issue 15)


@dataclass(frozen=True, slots=True)
class Skipped:
    subject: str  # `<cluster>/node/<name>` or `<cluster>/<namespace>/<pod>`
    reason: SkipReason
    detail: str

    def to_dict(self) -> dict[str, str]:
        # Written by hand: one way only, into `models.SkippedItem`'s shape (the reason and its detail in one
        # line for a person), never read back.
        return {"subject": self.subject, "reason": f"{self.reason.value}: {self.detail}"}


@dataclass(frozen=True, slots=True)
class NodePlan(CamelJsonModel):
    cluster: str
    node: str
    instance_id: str
    zone: str
    actions: tuple[Action, ...]

    @property
    def fence_step(self) -> str:
        return self.actions[0].step_id

    @property
    def drains(self) -> bool:
        """A DrainNode plan (cordon, then evict): no fence, so nothing in it may be forced."""
        return not any(a.kind in (ActionKind.FENCE, ActionKind.LIFT) for a in self.actions)

    @property
    def fails_back(self) -> bool:
        """A FailbackZone plan: give the node back, nothing else."""
        return any(a.kind is ActionKind.LIFT for a in self.actions)


@dataclass(frozen=True, slots=True)
class ClaimMove(CamelJsonModel):
    """One claim of a pet and what happens to its data: from which volume, through which snapshot."""

    claim: str
    old_pv: str
    old_volume: str | None
    snapshot_id: str | None = field(default=None, metadata=wire(key="snapshot"))
    snapshot_started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PetPlan(CamelJsonModel):
    """One pet's steps. Its node's steps come first (same step ids as the node's own plan: done once)."""

    cluster: str
    namespace: str
    statefulset: str = field(metadata=wire(key="statefulSet"))
    ordinal: int
    pod: str
    node: str | None
    policy: RehomePolicy
    from_zone: str | None
    target_zone: str | None
    moves: tuple[ClaimMove, ...]
    max_rpo: timedelta | None = field(metadata=wire(key="maxRpoSeconds"))
    actions: tuple[Action, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def subject(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.pod}"

    @property
    def crosses_zones(self) -> bool:
        return any(a.kind in (ActionKind.CREATE_VOLUME, ActionKind.RECREATE_CLAIM) for a in self.actions)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one run would do: node plans, then pet plans, and what it leaves alone and why."""

    zone: str | None
    nodes: tuple[NodePlan, ...] = ()
    pets: tuple[PetPlan, ...] = ()
    skipped: tuple[Skipped, ...] = ()

    def steps(self) -> Iterator[Action]:
        """Every action in execution order, each step id once (pets share their node's steps)."""
        seen: set[str] = set()
        for actions in [n.actions for n in self.nodes] + [p.actions for p in self.pets]:
            for action in actions:
                if action.step_id not in seen:
                    seen.add(action.step_id)
                    yield action

    def to_dict(self) -> dict[str, Any]:
        """Written only: a plan is read back per node and per pet (`NodePlan`, `PetPlan`), never whole."""
        return dump(self)

    def readable(self, *, detailed: bool = True) -> dict[str, Any]:
        """The plan as a person reads it in the console: one line per step (`detailed`), or, for a plan
        too big for a Step Functions state, one line per node and pet (the steps are in the journal)."""
        if detailed:
            nodes: dict[str, Any] = {f"{n.cluster}/{n.node}": [_line(a) for a in n.actions] for n in self.nodes}
        else:
            nodes = {f"{n.cluster}/{n.node}": _summary(n) for n in self.nodes}
        return {
            "zone": self.zone,
            "nodes": nodes,
            "pets": {
                p.subject: {
                    "policy": p.policy.value,
                    "from": p.from_zone,
                    "to": p.target_zone,
                    "snapshots": [m.snapshot_id for m in p.moves if m.snapshot_id],
                    **({"steps": [_line(a) for a in p.actions if a.kind not in _NODE_KINDS]} if detailed else {}),
                    **({"warnings": list(p.warnings)} if p.warnings else {}),
                }
                for p in self.pets
            },
            "skipped": [s.to_dict() for s in self.skipped],
        }


def _summary(node: NodePlan) -> str:
    if node.fails_back:
        return "give back: lift Ferry's cordon and taints"
    if node.drains:
        return f"cordon, evict {sum(1 for a in node.actions if a.kind is ActionKind.DRAIN_POD)} pod(s)"
    return f"fence {node.instance_id}, cordon, free identities"


def _line(action: Action) -> str:
    condition = {Condition.ALWAYS: "", Condition.FENCED: " [once fenced]", Condition.NOT_FENCED: " [if not fenced]"}
    return action.describe() + condition[action.when]
