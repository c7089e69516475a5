"""What each re-homing action does to the world, one function per kind, each checking the world first.

Only `ferry.executor.plans.PlanExecutor` calls this module: it decides whether an action runs at all (dry run,
observe mode, the journal, the fence gate); this module makes a running action idempotent on its own. Every
effect first reads what it is about to change and does nothing when the change is already there (a PV that
exists with the right volume, a claim already bound to the new PV, a taint already set), so replaying a step
whose journal record was lost is harmless. "Not yet" is `StepPending`; a state that would make acting
unsafe is `Refused` (the pet stops there, nothing else happens to it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ferry.adapters.fencing import Fencer
from ferry.adapters.kube_writes import KubeWriter
from ferry.adapters.lifecycle import CONTINUE, LifecycleActions
from ferry.adapters.volumes import Volumes
from ferry.domain.conventions import OUT_OF_SERVICE_MARK, PET_TAG, REHOMED_TO_TAG, RESTORED_FROM_TAG, RUN_TAG
from ferry.domain.errors import Conflict, NotFound, Refused, StepPending, Throttled
from ferry.domain.rehoming import failback, manifests
from ferry.domain.rehoming.inventory import OUT_OF_SERVICE_TAINT, QUARANTINE_TAINT, InstanceState, Taint
from ferry.domain.rehoming.plans import (
    Action,
    AskEviction,
    AwaitPodReleased,
    BindClaim,
    CompleteLifecycleAction,
    Cordon,
    CreatePersistentVolume,
    CreateVolume,
    DeleteClaim,
    DeleteVolumeAttachments,
    DrainPod,
    Evict,
    Fence,
    ForceDeletePods,
    LiftNode,
    MarkOutOfService,
    Quarantine,
    RecreateClaim,
    ReleasePersistentVolume,
    RetainPersistentVolume,
    TagOldVolume,
    VerifyRunning,
)
from ferry.executor.plans import Performed, Results


class ClusterEffects:
    """The effects of actions on one cluster and its AWS account (`ferry.executor.plans.Effects`)."""

    def __init__(
        self,
        *,
        kube: KubeWriter,
        fencer: Fencer,
        volumes: Volumes,
        fence_wait: timedelta,
        clock: Callable[[], datetime],
        lifecycle: LifecycleActions | None = None,
        zone_status: Callable[[str], str | None] = lambda zone: None,
    ) -> None:
        self._lifecycle = lifecycle
        self._zone_status = zone_status  # the detector's word on a zone, read now (failback's relapse check)
        self._kube = kube
        self._fencer = fencer
        self._volumes = volumes
        self._fence_wait = fence_wait
        self._clock = clock
        self._handlers: dict[type[Action], Callable[[Any, Results], Performed]] = {
            Fence: self._fence,
            Cordon: self._cordon,
            MarkOutOfService: self._out_of_service,
            ForceDeletePods: self._force_delete_pods,
            DeleteVolumeAttachments: self._delete_attachments,
            Quarantine: self._quarantine,
            AwaitPodReleased: self._await_released,
            CreateVolume: self._create_volume,
            TagOldVolume: self._tag_old_volume,
            CreatePersistentVolume: self._create_pv,
            RetainPersistentVolume: self._retain,
            ReleasePersistentVolume: self._release,
            DeleteClaim: self._delete_claim,
            BindClaim: self._bind_claim,
            RecreateClaim: self._recreate_claim,
            AskEviction: self._ask_eviction,
            Evict: self._evict,
            DrainPod: self._drain_pod,
            CompleteLifecycleAction: self._complete_lifecycle_action,
            VerifyRunning: self._verify_running,
            LiftNode: self._lift,
        }

    def perform(self, action: Action, results: Results) -> Performed:
        return self._handlers[type(action)](action, results)

    # --- nodes -------------------------------------------------------------------------------------------------

    def _fence(self, action: Fence, _: Results) -> Performed:
        fenced = self._fencer.fence(action.instance_id, self._fence_wait)
        result = {
            "fenced": fenced.fenced,
            "stoppedByFerry": fenced.stopped_by_ferry,
            "state": fenced.state.value,
            "detail": fenced.detail,
        }
        return Performed(done=fenced.fenced, result=result)

    def _cordon(self, action: Cordon, _: Results) -> Performed:
        return Performed(True, {"changed": self._kube.cordon(action.node)})

    def _confirm_fenced(self, node: str) -> None:
        """Before anything is forced off a node: EC2, asked again now, must say its instance is down."""
        current = self._kube.node_object(node)
        if current is None:
            raise NotFound(f"node {node} not found")
        instance = manifests.instance_id((current.get("spec") or {}).get("providerID"))
        state = self._fencer.state(instance) if instance else InstanceState.UNKNOWN
        if not state.fenced:
            raise Refused(f"node {node}: EC2 now reports {instance} {state.value}; nothing forced")

    def _out_of_service(self, action: MarkOutOfService, _: Results) -> Performed:
        self._confirm_fenced(action.node)
        taint = Taint(key=OUT_OF_SERVICE_TAINT, value="nodeshutdown", effect="NoExecute")
        return Performed(True, {"changed": self._kube.add_marked_taint(action.node, taint, OUT_OF_SERVICE_MARK)})

    def _force_delete_pods(self, action: ForceDeletePods, _: Results) -> Performed:
        self._confirm_fenced(action.node)
        deleted = [
            f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in self._kube.pods_on_node(action.node)
            if self._kube.force_delete_pod(p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"])
        ]
        return Performed(True, {"deleted": deleted})

    def _delete_attachments(self, action: DeleteVolumeAttachments, _: Results) -> Performed:
        self._confirm_fenced(action.node)
        names = [va["metadata"]["name"] for va in self._kube.attachments_on_node(action.node)]
        return Performed(True, {"deleted": [n for n in names if self._kube.delete_volume_attachment(n)]})

    def _quarantine(self, action: Quarantine, _: Results) -> Performed:
        taint = Taint(key=QUARANTINE_TAINT, value="true", effect="NoSchedule")
        return Performed(True, {"changed": self._kube.add_taint(action.node, taint)})

    def _lift(self, action: LiftNode, _: Results) -> Performed:
        """Give the node back unless its zone relapsed; a relapse seen right after puts Ferry's cordon back, so
        no node of an impaired zone is left schedulable by failback. Done either way: a relapse ends this run's
        failback of the node (the next episode's failback is another run)."""
        if failback.relapsed(self._zone_status(action.zone)):
            return Performed(True, {"lifted": [], "relapsed": True})
        lift = self._kube.lift(action.node)
        if failback.relapsed(self._zone_status(action.zone)):
            again = lift.uncordon and self._kube.cordon(action.node)
            return Performed(True, {"lifted": lift.describe(), "relapsed": True, "cordonedAgain": again})
        return Performed(True, {"lifted": lift.describe(), "relapsed": False, "keptCordon": lift.kept_cordon})

    # --- pets --------------------------------------------------------------------------------------------------

    def _await_released(self, action: AwaitPodReleased, _: Results) -> Performed:
        pod = self._kube.pod_object(action.namespace, action.pod)
        if pod is not None and pod["metadata"].get("uid") == action.uid:
            raise StepPending(f"pod {action.target} is still on its node: Kubernetes has not deleted it yet")
        return Performed(True, {"releasedAt": self._clock().isoformat()})

    def _create_volume(self, action: CreateVolume, _: Results) -> Performed:
        if action.reuse_volume_id:
            return self._reuse_volume(action, action.reuse_volume_id)
        volume = self._volumes.create_from_snapshot(
            snapshot_id=action.snapshot_id,
            zone=action.zone,
            volume_type=action.volume_type,
            size_gib=action.size_gib,
            iops=action.iops,
            throughput=action.throughput,
            encrypted=action.encrypted,
            kms_key_id=action.kms_key_id,
            tags=dict(action.tags),
            client_token=action.client_token,
            identity={RUN_TAG: action.run_id, PET_TAG: f"{action.namespace}/{action.claim}"},
        )
        return Performed(
            True,
            {"volumeId": volume.volume_id, "snapshotId": action.snapshot_id, "createdAt": self._clock().isoformat()},
        )

    def _reuse_volume(self, action: CreateVolume, volume_id: str) -> Performed:
        """The planner's choice checked again against EC2 now: still this pet's restore of this snapshot, in
        the target zone, attached nowhere. `createdAt` is when this run took it (the pet ran on its old volume
        until then), which is what the report's RPO measures."""
        volume = self._volumes.describe([volume_id]).get(volume_id)
        pet = f"{action.namespace}/{action.claim}"
        if (
            volume is None
            or volume.zone != action.zone
            or volume.state != "available"
            or volume.tags.get(RESTORED_FROM_TAG) != action.snapshot_id
            or volume.tags.get(PET_TAG) != pet
        ):
            seen = f"{volume.state} in {volume.zone}" if volume else "not described by EC2"
            raise Refused(f"volume {volume_id} left for {pet} is no longer reusable ({seen}): plan the move again")
        result = {"volumeId": volume_id, "snapshotId": action.snapshot_id, "createdAt": self._clock().isoformat()}
        return Performed(True, {**result, "reused": True})

    def _new_volume(self, results: Results, step: str) -> str:
        created = results.get(step) or {}
        if not created.get("volumeId"):
            raise Refused(f"the new volume of step {step} is not known: that step has not completed")
        return str(created["volumeId"])

    def _tag_old_volume(self, action: TagOldVolume, results: Results) -> Performed:
        new = self._new_volume(results, action.created_by)
        self._volumes.tag(action.volume_id, {REHOMED_TO_TAG: new})
        return Performed(True, {"rehomedTo": new})

    def _create_pv(self, action: CreatePersistentVolume, results: Results) -> Performed:
        volume_id = self._new_volume(results, action.created_by)
        existing = self._kube.volume_object(action.name)
        if existing is None:
            state = self._volumes.describe([volume_id]).get(volume_id)
            if state is None or state.state != "available":
                raise StepPending(f"volume {volume_id} is {state.state if state else 'not visible yet'}")
            body = manifests.static_volume(
                name=action.name,
                volume_id=volume_id,
                zone=action.zone,
                zone_key=action.zone_key,
                capacity=action.capacity,
                storage_class=action.storage_class,
                access_modes=action.access_modes,
                fs_type=action.fs_type,
                volume_mode=action.volume_mode,
                claim_namespace=action.claim_namespace,
                claim_name=action.claim_name,
                labels={manifests.MANAGED_LABEL: "true"},
            )
            try:
                self._kube.create_volume_object(body)
            except Conflict:
                existing = self._kube.volume_object(action.name)
            else:
                return Performed(True, {"pv": action.name, "volumeId": volume_id, "changed": True})
        handle = manifests.csi_volume_handle(existing or {})
        if handle != volume_id:
            raise Refused(f"PV {action.name} exists for {handle}, not for the new volume {volume_id}")
        ref = ((existing or {}).get("spec") or {}).get("claimRef") or {}
        if (ref.get("namespace"), ref.get("name")) != (action.claim_namespace, action.claim_name):
            raise Refused(f"PV {action.name} is no longer reserved for {action.claim_namespace}/{action.claim_name}")
        return Performed(True, {"pv": action.name, "volumeId": volume_id, "changed": False})

    def _retain(self, action: RetainPersistentVolume, _: Results) -> Performed:
        try:
            return Performed(True, {"changed": self._kube.retain(action.name)})
        except NotFound:
            raise Refused(f"PV {action.name} is gone: its claim is left alone") from None

    def _release(self, action: ReleasePersistentVolume, _: Results) -> Performed:
        """Only while it is still merely pre-bound to that claim; a PV bound since, or gone, is left as it is."""
        current = self._kube.volume_object(action.name)
        if current is None or not manifests.parse_volume(current).pre_bound_to(
            action.claim_namespace, action.claim_name
        ):
            return Performed(True, {"changed": False, "volumeId": action.volume_id})
        self._kube.release_volume(
            action.name, claim_uid=manifests.RELEASED_CLAIM_UID, resource_version=current["metadata"]["resourceVersion"]
        )
        return Performed(True, {"changed": True, "volumeId": action.volume_id})

    def _delete_claim(self, action: DeleteClaim, _: Results) -> Performed:
        claim = self._kube.claim_object(action.namespace, action.name)
        if claim is None or claim["metadata"].get("uid") != action.uid:
            return Performed(True, {"changed": False})  # gone, or a newer claim of that name: never touched
        if claim["metadata"].get("deletionTimestamp"):
            return Performed(True, {"changed": False})
        volume = self._kube.volume_object(action.volume_name)
        policy = ((volume or {}).get("spec") or {}).get("persistentVolumeReclaimPolicy")
        if policy != "Retain":
            raise Refused(f"PV {action.volume_name} is {policy or 'missing'}, not Retain: claim {action.target} kept")
        return Performed(True, {"changed": self._kube.delete_claim(action.namespace, action.name, action.uid)})

    def _bind_claim(self, action: BindClaim, _: Results) -> Performed:
        claim = self._kube.claim_object(action.namespace, action.name)
        if claim is not None:
            bound_to = (claim.get("spec") or {}).get("volumeName")
            if bound_to == action.volume_name:
                return Performed(True, {"changed": False})
            if claim["metadata"].get("deletionTimestamp"):
                raise StepPending(f"claim {action.target} is still being deleted (its pod is not gone yet)")
            if bound_to:
                raise Refused(f"claim {action.target} is bound to {bound_to}, not {action.volume_name}: left alone")
            # Made from the template in the meantime (the StatefulSet controller makes a Pending pet's missing
            # claim again): unbound. Our PV is reserved for its name, the only one (the planner released any
            # other), so the PV controller binds it to ours. Deleting it instead could lose a race with that
            # binding: our PV, bound to a deleted claim, would be Released and the next claim provisioned empty.
            volume = self._kube.volume_object(action.volume_name)
            ref = ((volume or {}).get("spec") or {}).get("claimRef") or {}
            mine = (ref.get("namespace"), ref.get("name")) == (action.namespace, action.name)
            if not mine or ref.get("uid") not in (None, "", claim["metadata"].get("uid")):
                raise Refused(f"claim {action.target} is unbound and PV {action.volume_name} is not reserved for it")
            raise StepPending(f"claim {action.target} was made from the template: the PV controller binds it to ours")
        body = manifests.claim_body(
            namespace=action.namespace,
            name=action.name,
            storage_class=action.storage_class,
            access_modes=action.access_modes,
            request=action.request,
            labels=dict(action.labels),
            volume_name=action.volume_name,
        )
        self._kube.create_claim(action.namespace, body)  # Conflict: a racing writer; the executor re-reads
        return Performed(True, {"changed": True})

    def _recreate_claim(self, action: RecreateClaim, _: Results) -> Performed:
        claim = self._kube.claim_object(action.namespace, action.name)
        if claim is not None:
            if claim["metadata"].get("deletionTimestamp"):
                raise StepPending(f"claim {action.target} is still being deleted")
            return Performed(True, {"changed": False})
        body = manifests.claim_body(
            namespace=action.namespace,
            name=action.name,
            storage_class=action.storage_class,
            access_modes=action.access_modes,
            request=action.request,
            labels=dict(action.labels),
        )
        self._kube.create_claim(action.namespace, body)
        return Performed(True, {"changed": True})

    def _ask_eviction(self, action: AskEviction, _: Results) -> Performed:
        pod = self._kube.pod_object(action.namespace, action.pod)
        if pod is None or pod["metadata"].get("uid") != action.uid:
            return Performed(True, {"allowed": True, "gone": True})
        try:
            self._kube.evict(action.namespace, action.pod, action.uid, dry_run=True)
        except Throttled as error:
            raise StepPending(f"eviction of {action.target} not allowed yet (PodDisruptionBudget): {error}") from None
        return Performed(True, {"allowed": True})

    def _evict(self, action: Evict, _: Results) -> Performed:
        pod = self._kube.pod_object(action.namespace, action.pod)
        if pod is None or pod["metadata"].get("uid") != action.uid:
            return Performed(True, {"changed": False})
        try:
            return Performed(True, {"changed": self._kube.evict(action.namespace, action.pod, action.uid)})
        except Throttled as error:
            raise StepPending(f"eviction of {action.target} refused for now (PodDisruptionBudget): {error}") from None

    def _drain_pod(self, action: DrainPod, _: Results) -> Performed:
        """Evict (never force). A budget's refusal before the deadline is a step not done yet (not journaled:
        the executor goes on to the node's other pods, and the step is asked again on the next attempt); at
        the deadline it is done, with the pod not evicted and the budget's answer as the reason."""
        pod = self._kube.pod_object(action.namespace, action.pod)
        if pod is None or pod["metadata"].get("uid") != action.uid:
            return Performed(True, {"evicted": True, "changed": False})
        try:
            return Performed(
                True, {"evicted": True, "changed": self._kube.evict(action.namespace, action.pod, action.uid)}
            )
        except Throttled as error:
            if self._clock() >= datetime.fromisoformat(action.deadline):
                reason = f"PodDisruptionBudget refused the eviction until the deadline {action.deadline}: {error}"
                return Performed(True, {"evicted": False, "reason": reason})
            reason = f"PodDisruptionBudget refuses for now: {error}"
            return Performed(False, {"evicted": False, "pending": True, "reason": reason})

    def _complete_lifecycle_action(self, action: CompleteLifecycleAction, results: Results) -> Performed:
        """CONTINUE only once no eviction of the node is still waiting for its deadline (not done: asked again
        with them); the group terminates the instance after it."""
        if self._lifecycle is None:
            raise Refused("no Auto Scaling client: the lifecycle action is left to its timeout")
        if any((results.get(step) or {}).get("pending") for step in action.after):
            return Performed(False, {"completed": False, "waitingFor": "evictions before their deadline"})
        completed = self._lifecycle.complete(
            group=action.group, hook=action.hook, token=action.token, instance_id=action.instance_id
        )
        return Performed(True, {"completed": completed, "result": CONTINUE})

    def _verify_running(self, action: VerifyRunning, _: Results) -> Performed:
        pod = self._kube.pod_object(action.namespace, action.pod)
        if pod is None or (action.old_uid and pod["metadata"].get("uid") == action.old_uid):
            raise StepPending(f"pod {action.target} has not been recreated yet")
        node_name = (pod.get("spec") or {}).get("nodeName")
        phase = (pod.get("status") or {}).get("phase")
        if not node_name or phase != "Running":
            raise StepPending(f"pod {action.target} is {phase or 'Pending'}, not Running yet")
        node = self._kube.node_object(node_name)
        zone = manifests.parse_node(node).zone if node else None
        if action.zones != ("",) and zone not in action.zones:
            raise Refused(f"pod {action.target} runs in {zone}, not in {' or '.join(action.zones)}")
        return Performed(True, {"node": node_name, "zone": zone, "runningAt": self._clock().isoformat()})
