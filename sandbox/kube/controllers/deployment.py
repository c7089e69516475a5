"""The Deployment and ReplicaSet controllers.

A Deployment owns ReplicaSets named `<deployment>-<pod-template-hash>` and rolls a template change out
within `maxSurge`/`maxUnavailable` (or all at once with Recreate); a ReplicaSet owns pods named
`<replicaset>-<5 random characters>`. A ReplicaSet does not count a Terminating pod, so an evicted pod is
replaced at once even when it stays Terminating on a dead node; it scales down unscheduled, pending and
unready pods first, then the newest.
"""

from __future__ import annotations

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.controllers.owners import owned, scaled_value, template_hash
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    Obj,
    clone,
    condition,
    is_deleting,
    is_pod_active,
    is_pod_ready,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    parse_time,
    set_condition,
    uid_of,
)
from sandbox.kube.registry import DeleteOptions

COMPONENT_RS = "replicaset-controller"
COMPONENT_DEPLOY = "deployment-controller"


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
