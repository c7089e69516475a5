"""The StatefulSet controller, as kube-controller-manager runs it for pets.

It recreates a missing pod under the same name and ordinal; creates `<template>-<sts>-<ordinal>` claims and
never deletes them (unless the retention policy says `whenDeleted: Delete`), and makes a Pending pod's missing
claim again from its template (as kube-controller-manager does since 1.27: a claim deleted under a pod that
never ran, or was made again on a dead node, comes back; one still being deleted is waited for); with
OrderedReady (the default)
it waits for pod N to be Running and Ready before creating N+1, waits for a Terminating pod to be gone
before replacing it, and scales down from the highest ordinal, one pod at a time; with Parallel it does
all at once. A template change rolls pods from the highest ordinal. Status counts replicas, ready,
current and updated pods and the revisions.
"""

from __future__ import annotations

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.controllers.owners import owned, running_and_ready, template_hash
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    Obj,
    clone,
    is_deleting,
    is_pod_terminal,
    labels_of,
    name_of,
    namespace_of,
    owner_reference,
    uid_of,
)
from sandbox.kube.registry import DeleteOptions

COMPONENT = "statefulset-controller"


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
            if pod is not None and pod.get("status", {}).get("phase", "Pending") == "Pending":
                self._create_claims(sts, ordinal)
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

    def _create_claims(self, sts: Obj, ordinal: int) -> list[tuple[str, str]] | None:
        """The pod's (template name, claim name) pairs, each missing claim made from its template; None while
        one is still being deleted ("pvc <name> is being deleted": wait until it is gone, then make it afresh)."""
        namespace, pod_name = namespace_of(sts), f"{name_of(sts)}-{ordinal}"
        claims = []
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            claim_name = f"{template['metadata']['name']}-{pod_name}"
            claims.append((template["metadata"]["name"], claim_name))
            existing = self.context.store.get(resources.PERSISTENT_VOLUME_CLAIMS.key, namespace, claim_name)
            if existing is not None:
                if is_deleting(existing):
                    return None
                continue
            self._create_claim(sts, template, claim_name)
        return claims

    def _create(self, sts: Obj, ordinal: int, revision: str) -> None:
        spec, name, namespace = sts["spec"], name_of(sts), namespace_of(sts)
        pod_name = f"{name}-{ordinal}"
        claims = self._create_claims(sts, ordinal)
        if claims is None:
            return
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
                component=COMPONENT,
                event_type="Warning",
            )
            return
        self.registry.record_event(
            sts, "SuccessfulCreate", f"Create Pod {pod_name} in StatefulSet {name} successful", component=COMPONENT
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
                component=COMPONENT,
                event_type="Warning",
            )
            return
        self.registry.record_event(
            sts,
            "SuccessfulCreate",
            f"create Claim {claim_name} Pod {pod_name} in StatefulSet {name} success",
            component=COMPONENT,
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
            f"Delete Pod {name_of(pod)} in StatefulSet {name_of(sts)} successful",
            component=COMPONENT,
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
