"""The workload controllers: StatefulSet, Deployment, ReplicaSet, and the disruption controller for PDBs.

They follow their kube-controller-manager namesakes where Ferry relies on them: a StatefulSet recreates a
missing pod under the same name and ordinal, creates `<template>-<sts>-<ordinal>` claims and never deletes
them, waits for pod N to be Running and Ready before it creates N+1 (OrderedReady), and waits for a
Terminating pod to be gone before it replaces it; a ReplicaSet does not count Terminating pods, so it
replaces an evicted pod at once, and scales down newest-first; a PDB's status says how many disruptions
the eviction API may allow.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import timedelta
from typing import Any

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    Obj,
    clone,
    condition,
    controller_of,
    is_deleting,
    is_pod_active,
    is_pod_ready,
    is_pod_terminal,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    parse_time,
    set_condition,
    uid_of,
)
from sandbox.kube.registry import DeleteOptions
from sandbox.kube.selectors import SelectorError, from_label_selector

COMPONENT_STS = "statefulset-controller"
COMPONENT_RS = "replicaset-controller"
COMPONENT_DEPLOY = "deployment-controller"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_DISRUPTED_POD_TIMEOUT = timedelta(minutes=2)


def template_hash(template: Any) -> str:
    """A short stable hash of a pod template (controller-revision-hash, pod-template-hash)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    value = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(10):
        value, index = divmod(value, len(_SAFE))
        chars.append(_SAFE[index])
    return "".join(chars)


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """An IntOrString such as `maxSurge: 25%` resolved against a total."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    percent = int(str(value).rstrip("%"))
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def owned(context: Context, owner: Obj, resource: str) -> list[Obj]:
    uid = uid_of(owner)
    return [
        obj
        for kind, obj in context.store.owned_by(uid)
        if kind == resource and (controller_of(obj) or {}).get("uid") == uid
    ]


def running_and_ready(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and is_pod_ready(pod)


class StatefulSetController:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry

    def sync(self) -> None:
        for sts in self.context.store.list(resources.STATEFUL_SETS.key):
            if not is_deleting(sts):
                self._sync(sts)

    def _sync(self, sts: Obj) -> None:
        spec = sts["spec"]
        name = name_of(sts)
        revision = f"{name}-{template_hash(spec['template'])}"
        start = (spec.get("ordinals") or {}).get("start", 0)
        wanted = range(start, start + spec.get("replicas", 1))
        pods = {_ordinal(name, pod): pod for pod in owned(self.context, sts, resources.PODS.key)}
        monotonic = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        progress = True
        for ordinal in wanted:
            pod = pods.get(ordinal)
            if pod is None:
                self._create(sts, ordinal, revision)
                if monotonic:
                    progress = False
                    break
            elif is_pod_terminal(pod) and not is_deleting(pod):
                self._delete(sts, pod)
                if monotonic:
                    progress = False
                    break
            elif monotonic and (is_deleting(pod) or not running_and_ready(pod)):
                progress = False
                break
        condemned = sorted((o, pod) for o, pod in pods.items() if o is None or o not in wanted)
        condemned.reverse()
        for _, pod in condemned:
            if is_deleting(pod):
                if monotonic:
                    break
                continue
            if monotonic and not (
                progress and all(running_and_ready(p) and not is_deleting(p) for o, p in pods.items() if o in wanted)
            ):
                break
            self._delete(sts, pod)
            if monotonic:
                break
        self._roll(sts, pods, wanted, revision, progress)
        self._status(sts, list(pods.values()), revision)

    def _roll(self, sts: Obj, pods: dict[int | None, Obj], wanted: range, revision: str, progress: bool) -> None:
        """RollingUpdate: replace the highest-ordinal outdated pod once every pod is Running and Ready."""
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate" or not progress:
            return
        current = [pods[o] for o in wanted if o in pods]
        if len(current) < len(wanted) or not all(running_and_ready(p) and not is_deleting(p) for p in current):
            return
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
        for ordinal in reversed(wanted):
            pod = pods[ordinal]
            if ordinal >= partition and labels_of(pod).get("controller-revision-hash") != revision:
                self._delete(sts, pod)
                return

    def _create(self, sts: Obj, ordinal: int, revision: str) -> None:
        spec, name, namespace = sts["spec"], name_of(sts), namespace_of(sts)
        pod_name = f"{name}-{ordinal}"
        claims = []
        for template in spec.get("volumeClaimTemplates") or []:
            claim_name = f"{template['metadata']['name']}-{pod_name}"
            claims.append((template["metadata"]["name"], claim_name))
            existing = self.context.store.get(resources.PERSISTENT_VOLUME_CLAIMS.key, namespace, claim_name)
            if existing is not None:
                if is_deleting(existing):
                    return  # "pvc <name> is being deleted": wait until it is gone, then create it afresh
                continue
            self._create_claim(sts, template, claim_name)
        template = clone(spec["template"])
        labels = {
            **(template.get("metadata", {}).get("labels") or {}),
            "controller-revision-hash": revision,
            "statefulset.kubernetes.io/pod-name": pod_name,
            "apps.kubernetes.io/pod-index": str(ordinal),
        }
        pod_spec = template["spec"]
        volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in {t for t, _ in claims}]
        volumes += [
            {"name": template_name, "persistentVolumeClaim": {"claimName": claim}} for template_name, claim in claims
        ]
        if volumes:
            pod_spec["volumes"] = volumes
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        metadata: Obj = {
            "name": pod_name,
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(sts)],
        }
        if template.get("metadata", {}).get("annotations"):
            metadata["annotations"] = template["metadata"]["annotations"]
        try:
            self.registry.create(
                resources.PODS, namespace, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": pod_spec}
            )
        except ApiError as problem:
            self.registry.record_event(
                sts,
                "FailedCreate",
                f"create Pod {pod_name} in StatefulSet {name} failed error: {problem.message}",
                component=COMPONENT_STS,
                event_type="Warning",
            )
            return
        self.registry.record_event(
            sts, "SuccessfulCreate", f"create Pod {pod_name} in StatefulSet {name} successful", component=COMPONENT_STS
        )

    def _create_claim(self, sts: Obj, template: Obj, claim_name: str) -> None:
        spec, name, namespace = sts["spec"], name_of(sts), namespace_of(sts)
        labels = {
            **(template.get("metadata", {}).get("labels") or {}),
            **((spec.get("selector") or {}).get("matchLabels") or {}),
        }
        metadata: Obj = {"name": claim_name, "namespace": namespace, "labels": labels}
        if template.get("metadata", {}).get("annotations"):
            metadata["annotations"] = template["metadata"]["annotations"]
        if (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted") == "Delete":
            metadata["ownerReferences"] = [owner_reference(sts)]
        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": metadata,
            "spec": clone(template.get("spec") or {}),
        }
        pod_name = claim_name[len(template["metadata"]["name"]) + 1 :]
        try:
            self.registry.create(resources.PERSISTENT_VOLUME_CLAIMS, namespace, claim)
        except ApiError as problem:
            self.registry.record_event(
                sts,
                "FailedCreate",
                f"create Claim {claim_name} for Pod {pod_name} in StatefulSet {name} failed error: {problem.message}",
                component=COMPONENT_STS,
                event_type="Warning",
            )
            return
        self.registry.record_event(
            sts,
            "SuccessfulCreate",
            f"create Claim {claim_name} Pod {pod_name} in StatefulSet {name} success",
            component=COMPONENT_STS,
        )

    def _delete(self, sts: Obj, pod: Obj) -> None:
        try:
            self.registry.delete(
                resources.PODS, namespace_of(pod), name_of(pod), DeleteOptions(preconditions={"uid": uid_of(pod)})
            )
        except ApiError:
            return
        self.registry.record_event(
            sts,
            "SuccessfulDelete",
            f"delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful",
            component=COMPONENT_STS,
        )

    def _status(self, sts: Obj, pods: list[Obj], revision: str) -> None:
        created = [pod for pod in pods if pod.get("status", {}).get("phase")]
        ready = [pod for pod in created if running_and_ready(pod)]
        updated = [pod for pod in created if labels_of(pod).get("controller-revision-hash") == revision]
        previous = sts.get("status") or {}
        replicas = sts["spec"].get("replicas", 1)
        current_revision = previous.get("currentRevision") or revision
        if len(updated) == replicas and len(ready) == replicas:
            current_revision = revision
        current = [pod for pod in created if labels_of(pod).get("controller-revision-hash") == current_revision]
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(created),
            "readyReplicas": len(ready),
            "currentReplicas": len(current),
            "updatedReplicas": len(updated),
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
            "availableReplicas": len(ready),
        }
        for key in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[key]:
                del status[key]
        if status != previous:
            self.registry.mutate(
                resources.STATEFUL_SETS,
                namespace_of(sts),
                name_of(sts),
                lambda obj: obj.update(status=status),
                subresource="status",
            )


def _ordinal(sts_name: str, pod: Obj) -> int | None:
    suffix = name_of(pod)[len(sts_name) + 1 :]
    return int(suffix) if name_of(pod).startswith(f"{sts_name}-") and suffix.isdigit() else None


class ReplicaSetController:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry

    def sync(self) -> None:
        for rs in self.context.store.list(resources.REPLICA_SETS.key):
            if not is_deleting(rs):
                self._sync(rs)

    def _sync(self, rs: Obj) -> None:
        pods = owned(self.context, rs, resources.PODS.key)
        active = [pod for pod in pods if is_pod_active(pod)]
        replicas = rs["spec"].get("replicas", 1)
        name, namespace = name_of(rs), namespace_of(rs)
        if len(active) < replicas:
            template = clone(rs["spec"]["template"])
            for _ in range(replicas - len(active)):
                metadata: Obj = {
                    "generateName": f"{name}-",
                    "namespace": namespace,
                    "labels": template.get("metadata", {}).get("labels") or {},
                    "ownerReferences": [owner_reference(rs)],
                }
                if template.get("metadata", {}).get("annotations"):
                    metadata["annotations"] = template["metadata"]["annotations"]
                try:
                    pod = self.registry.create(
                        resources.PODS,
                        namespace,
                        {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]},
                    )
                except ApiError as problem:
                    self.registry.record_event(
                        rs,
                        "FailedCreate",
                        f"Error creating: {problem.message}",
                        component=COMPONENT_RS,
                        event_type="Warning",
                    )
                    break
                self.registry.record_event(
                    rs, "SuccessfulCreate", f"Created pod: {name_of(pod)}", component=COMPONENT_RS
                )
                active.append(pod)
        elif len(active) > replicas:
            for pod in sorted(active, key=_deletion_rank)[: len(active) - replicas]:
                try:
                    self.registry.delete(
                        resources.PODS, namespace, name_of(pod), DeleteOptions(preconditions={"uid": uid_of(pod)})
                    )
                except ApiError:
                    continue
                active.remove(pod)
                self.registry.record_event(
                    rs, "SuccessfulDelete", f"Deleted pod: {name_of(pod)}", component=COMPONENT_RS
                )
        ready = [pod for pod in active if is_pod_ready(pod)]
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(active),
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        status = {key: value for key, value in status.items() if value or key in ("replicas", "observedGeneration")}
        if status != rs.get("status"):
            self.registry.mutate(
                resources.REPLICA_SETS, namespace, name, lambda obj: obj.update(status=status), subresource="status"
            )


def _deletion_rank(pod: Obj) -> tuple[int, int, int, float]:
    """Which pods a ReplicaSet removes first: unscheduled, pending, not ready, then the newest."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.get("status", {}).get("phase", "Pending"), 0)
    created = parse_time(pod["metadata"]["creationTimestamp"]).timestamp()
    return (1 if pod.get("spec", {}).get("nodeName") else 0, phase_rank, 1 if is_pod_ready(pod) else 0, -created)


class DeploymentController:
    """Rolls a Deployment out through ReplicaSets named `<deployment>-<pod-template-hash>`."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry

    def sync(self) -> None:
        for deployment in self.context.store.list(resources.DEPLOYMENTS.key):
            if not is_deleting(deployment):
                self._sync(deployment)

    def _sync(self, deployment: Obj) -> None:
        spec = deployment["spec"]
        replicas = spec.get("replicas", 1)
        pod_hash = template_hash(spec["template"])
        sets = owned(self.context, deployment, resources.REPLICA_SETS.key)
        new = next((rs for rs in sets if labels_of(rs).get("pod-template-hash") == pod_hash), None)
        old = [rs for rs in sets if rs is not new]
        revision = 1 + max(
            (int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0")) for rs in sets),
            default=0,
        )
        if new is None:
            new = self._create_set(deployment, pod_hash, revision, 0 if old else replicas)
            if new is None:
                return
        strategy = spec.get("strategy") or {}
        old_total = sum(rs["spec"].get("replicas", 0) for rs in old)
        if strategy.get("type") == "Recreate":
            for rs in old:
                self._scale(rs, 0)
            if not any(rs.get("status", {}).get("replicas") for rs in old):
                self._scale(new, replicas)
        else:
            rolling = strategy.get("rollingUpdate") or {}
            surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, round_up=True)
            unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
            if surge == 0 and unavailable == 0:
                unavailable = 1
            new_replicas = new["spec"].get("replicas", 0)
            if new_replicas > replicas or not old:
                new_replicas = replicas
            elif new_replicas < replicas:
                room = replicas + surge - (new_replicas + old_total)
                new_replicas = min(replicas, new_replicas + max(room, 0))
            self._scale(new, new_replicas)
            available = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in [new, *old])
            budget = max(available - (replicas - unavailable), 0)
            for rs in sorted(old, key=lambda rs: rs["metadata"]["creationTimestamp"]):
                current = rs["spec"].get("replicas", 0)
                unhealthy = current - rs.get("status", {}).get("availableReplicas", 0)
                step = min(current, unhealthy + budget)
                budget -= max(step - unhealthy, 0)
                if step:
                    self._scale(rs, current - step)
        self._status(deployment, new, old, replicas)

    def _create_set(self, deployment: Obj, pod_hash: str, revision: int, replicas: int) -> Obj | None:
        spec, name, namespace = deployment["spec"], name_of(deployment), namespace_of(deployment)
        template = clone(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
        selector = clone(spec["selector"])
        selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
        max_surge = scaled_value(
            (spec.get("strategy", {}).get("rollingUpdate") or {}).get("maxSurge", 0),
            spec.get("replicas", 1),
            round_up=True,
        )
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{name}-{pod_hash}",
                "namespace": namespace,
                "labels": template["metadata"]["labels"],
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                    "deployment.kubernetes.io/max-replicas": str(spec.get("replicas", 1) + max_surge),
                    "deployment.kubernetes.io/revision": str(revision),
                },
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": template},
        }
        try:
            created = self.registry.create(resources.REPLICA_SETS, namespace, rs)
        except ApiError:
            return None
        self.registry.record_event(
            deployment,
            "ScalingReplicaSet",
            f"Scaled up replica set {name_of(created)} to {replicas}",
            component=COMPONENT_DEPLOY,
        )
        self.registry.mutate(
            resources.DEPLOYMENTS,
            namespace,
            name,
            lambda obj: (
                obj["metadata"]
                .setdefault("annotations", {})
                .update({"deployment.kubernetes.io/revision": str(revision)})
            ),
        )
        return created

    def _scale(self, rs: Obj, replicas: int) -> None:
        if rs["spec"].get("replicas", 0) == replicas:
            return
        self.registry.mutate(
            resources.REPLICA_SETS, namespace_of(rs), name_of(rs), lambda obj: obj["spec"].update(replicas=replicas)
        )

    def _status(self, deployment: Obj, new: Obj, old: list[Obj], replicas: int) -> None:
        sets = [
            self.context.store.get(resources.REPLICA_SETS.key, namespace_of(rs), name_of(rs)) or rs
            for rs in [new, *old]
        ]
        total = sum(rs.get("status", {}).get("replicas", 0) for rs in sets)
        ready = sum(rs.get("status", {}).get("readyReplicas", 0) for rs in sets)
        available = sum(rs.get("status", {}).get("availableReplicas", 0) for rs in sets)
        updated = sets[0].get("status", {}).get("replicas", 0)
        rolling = (deployment["spec"].get("strategy") or {}).get("rollingUpdate") or {}
        min_available = replicas - scaled_value(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
        status: Obj = clone(deployment.get("status") or {})
        now = self.registry.now()
        status.update(
            observedGeneration=deployment["metadata"].get("generation", 1),
            replicas=total,
            updatedReplicas=updated,
            readyReplicas=ready,
            availableReplicas=available,
            unavailableReplicas=max(replicas - available, 0),
        )
        for key in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"):
            if not status[key]:
                del status[key]
        if available >= min_available:
            available_condition = {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            }
        else:
            available_condition = {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
            }
        complete = updated == replicas and available == replicas and total == replicas
        progressing = {
            "type": "Progressing",
            "status": "True",
            "reason": "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated",
            "message": f'ReplicaSet "{name_of(new)}" '
            + ("has successfully progressed." if complete else "is progressing."),
        }
        for new_condition in (available_condition, progressing):
            current = condition({"status": status}, new_condition["type"])
            if current is None or any(current.get(k) != v for k, v in new_condition.items()):
                set_condition(status, {**new_condition, "lastUpdateTime": now}, now)
        if status != deployment.get("status"):
            self.registry.mutate(
                resources.DEPLOYMENTS,
                namespace_of(deployment),
                name_of(deployment),
                lambda obj: obj.update(status=status),
                subresource="status",
            )


class DisruptionController:
    """Keeps each PodDisruptionBudget's status (healthy pods, allowed disruptions) current."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry

    def sync(self) -> None:
        for pdb in self.context.store.list(resources.POD_DISRUPTION_BUDGETS.key):
            self._sync(pdb)

    def _sync(self, pdb: Obj) -> None:
        store, spec, namespace = self.context.store, pdb.get("spec") or {}, namespace_of(pdb)
        try:
            selector = from_label_selector(spec.get("selector") or {})
        except SelectorError:
            return
        pods = [pod for pod in store.list(resources.PODS.key, namespace) if selector.matches(labels_of(pod))]
        min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
        if isinstance(min_available, int):
            expected, desired = len(pods), min_available
        else:
            expected = self._expected(pods)
            if max_unavailable is not None:
                desired = max(expected - scaled_value(max_unavailable, expected, round_up=True), 0)
            else:
                desired = scaled_value(min_available, expected, round_up=True)
        now = self.context.clock.now()
        by_name = {name_of(pod): pod for pod in pods}
        disrupted = {
            name: when
            for name, when in ((pdb.get("status") or {}).get("disruptedPods") or {}).items()
            if name in by_name and not is_deleting(by_name[name]) and parse_time(when) + _DISRUPTED_POD_TIMEOUT > now
        }
        healthy = sum(1 for pod in pods if is_pod_ready(pod) and not is_deleting(pod) and name_of(pod) not in disrupted)
        allowed = max(healthy - desired, 0)
        status = clone(pdb.get("status") or {})
        status.update(
            observedGeneration=pdb["metadata"].get("generation", 1),
            disruptionsAllowed=allowed,
            currentHealthy=healthy,
            desiredHealthy=desired,
            expectedPods=expected,
        )
        if disrupted:
            status["disruptedPods"] = disrupted
        else:
            status.pop("disruptedPods", None)
        reason = "SufficientPods" if allowed > 0 else "InsufficientPods"
        set_condition(
            status,
            {
                "type": "DisruptionAllowed",
                "status": "True" if allowed > 0 else "False",
                "reason": reason,
                "message": "",
                "observedGeneration": status["observedGeneration"],
            },
            self.registry.now(),
        )
        if status != pdb.get("status"):
            self.registry.mutate(
                resources.POD_DISRUPTION_BUDGETS,
                namespace,
                name_of(pdb),
                lambda obj: obj.update(status=status),
                subresource="status",
            )

    def _expected(self, pods: list[Obj]) -> int:
        """Percentages count against the owning controllers' scale, as the real controller does."""
        scales: dict[str, int] = {}
        loose = 0
        for pod in pods:
            ref = controller_of(pod)
            owner = self._owner(pod, ref) if ref else None
            if owner is None:
                loose += 1
            else:
                scales[uid_of(owner)] = owner.get("spec", {}).get("replicas", 1)
        return sum(scales.values()) + loose

    def _owner(self, pod: Obj, ref: Obj) -> Obj | None:
        kinds = {"StatefulSet": resources.STATEFUL_SETS, "ReplicaSet": resources.REPLICA_SETS}
        rt = kinds.get(ref.get("kind", ""))
        if rt is None:
            return None
        owner = self.context.store.get(rt.key, namespace_of(pod), ref.get("name", ""))
        return owner if owner is not None and uid_of(owner) == ref.get("uid") else None
