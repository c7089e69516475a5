"""Kubernetes reads and writes for the runbooks, through the official client, as JSON, with typed errors.

Extends `KubeApi` (connection, timeouts, error translation) with what fencing, re-homing and shifting touch:
nodes (cordon, taints), pods (force delete, eviction), VolumeAttachments, PersistentVolumes and claims, a
federated app's Deployment (read, annotated, scaled through its scale subresource), and the reads the planner's
inventory needs. Responses stay JSON (`_preload_content=False`): deserializing into client models costs more
than the request on large listings, and `ferry.domain.rehoming.manifests` parses what matters. Every write is
one the real API server accepts as sent: merge patches with an explicit content type, node taints replaced as
a whole list with the resourceVersion read (a concurrent write answers 409 and the change is made again on a
fresh read), deletes with a uid precondition so a newer object of the same name is never touched.
The verbs and resources used here are exactly those of deploy/kubernetes/ferry-rbac.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client as k8s

from ferry.adapters.kube import PAGE_SIZE, ClusterAccess, Credentials, KubeApi
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.errors import Conflict, NotFound
from ferry.domain.rehoming import failback
from ferry.domain.rehoming.inventory import Taint

MERGE_PATCH = "application/merge-patch+json"
CONFLICT_ATTEMPTS = 5  # client-go's retry.DefaultRetry: five tries of a read-modify-write that met a 409
PET_LABEL = "statefulset.kubernetes.io/pod-name"  # set by the StatefulSet controller on every pet

Obj = dict[str, Any]


def writers(access: ClusterAccess, *, timeout: float) -> Callable[[ClusterRegistration], KubeWriter]:
    """How a service reaches each registered cluster: its credentials through `access`, Ferry's client timeout."""
    return lambda registration: KubeWriter(registration, access.credentials(registration), timeout=timeout)


class KubeWriter(KubeApi):
    """One cluster's API for re-homing. Built per cluster per invocation, like `KubeApi`."""

    def __init__(self, registration: ClusterRegistration, credentials: Credentials, *, timeout: float = 5.0):
        super().__init__(registration, credentials, timeout=timeout)
        self.apps = k8s.AppsV1Api(self._client)
        self.storage = k8s.StorageV1Api(self._client)

    def __enter__(self) -> KubeWriter:
        return self

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _json(self, method: Any, *args: Any, **kwargs: Any) -> Obj:
        response = self._call(method, *args, _preload_content=False, **kwargs)
        data = response.data
        return json.loads(data) if data else {}

    def _get(self, method: Any, *args: Any) -> Obj | None:
        try:
            return self._json(method, *args)
        except NotFound:
            return None

    def _list(self, method: Any, **kwargs: Any) -> Iterator[Obj]:
        token = None
        while True:
            page = self._json(method, limit=PAGE_SIZE, _continue=token, **kwargs)
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def _patch(self, method: Any, *args: Any, body: Obj) -> Obj:
        return self._json(method, *args, body, _content_type=MERGE_PATCH)

    # --- reads -------------------------------------------------------------------------------------------------

    def node_object(self, name: str) -> Obj | None:
        return self._get(self.core.read_node, name)

    def node_objects(self) -> list[Obj]:
        return list(self._list(self.core.list_node))

    def pod_object(self, namespace: str, name: str) -> Obj | None:
        return self._get(self.core.read_namespaced_pod, name, namespace)

    def pet_pods(self) -> list[Obj]:
        """Every StatefulSet pod of the cluster (one paginated listing, by the controller's label)."""
        return list(self._list(self.core.list_pod_for_all_namespaces, label_selector=PET_LABEL))

    def pods_in_namespace(self, namespace: str, label_selector: str) -> list[Obj]:
        return list(self._list(self.core.list_namespaced_pod, namespace=namespace, label_selector=label_selector))

    def pods_on_node(self, node: str) -> list[Obj]:
        return list(self._list(self.core.list_pod_for_all_namespaces, field_selector=f"spec.nodeName={node}"))

    def statefulset_object(self, namespace: str, name: str) -> Obj | None:
        return self._get(self.apps.read_namespaced_stateful_set, name, namespace)

    def statefulset_objects(self) -> list[Obj]:
        return list(self._list(self.apps.list_stateful_set_for_all_namespaces))

    def claim_object(self, namespace: str, name: str) -> Obj | None:
        return self._get(self.core.read_namespaced_persistent_volume_claim, name, namespace)

    def claim_objects(self) -> list[Obj]:
        return list(self._list(self.core.list_persistent_volume_claim_for_all_namespaces))

    def volume_object(self, name: str) -> Obj | None:
        return self._get(self.core.read_persistent_volume, name)

    def pod_objects(self) -> list[Obj]:
        """Every pod of the cluster (readiness: what each node already holds), one paginated listing."""
        return list(self._list(self.core.list_pod_for_all_namespaces))

    def disruption_budget_objects(self) -> list[Obj]:
        return list(self._list(k8s.PolicyV1Api(self._client).list_pod_disruption_budget_for_all_namespaces))

    def rules_review(self, namespace: str) -> Obj:
        """What Ferry's own identity may do in `namespace` (cluster-wide rules included), as the API says."""
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace},
        }
        return self._json(k8s.AuthorizationV1Api(self._client).create_self_subject_rules_review, body)

    def attachments_on_node(self, node: str) -> list[Obj]:
        """VolumeAttachments have no field selector on the node: one listing, filtered here."""
        return [
            va for va in self._list(self.storage.list_volume_attachment) if va.get("spec", {}).get("nodeName") == node
        ]

    # --- nodes -------------------------------------------------------------------------------------------------

    def cordon(self, node: str) -> bool:
        """Mark the node unschedulable, with Ferry's mark (failback lifts only marked cordons); False if it
        already was unschedulable (someone's cordon, left unmarked)."""
        return self._rewrite_node(node, failback.cordon_change) is not None

    def add_marked_taint(self, node: str, taint: Taint, mark: str) -> bool:
        """Add a taint and Ferry's mark for it in one write; False if a taint of its key and effect was there."""
        return self._rewrite_node(node, lambda n: failback.marked_taint_change(n, taint.to_dict(), mark)) is not None

    def lift(self, node: str) -> failback.Lift:
        """Give back what Ferry did to the node (its marked cordon and taints, its quarantine) in one write."""
        read = self._rewrite_node(node, failback.lift_change)
        if read is None:  # nothing of Ferry's on it: say what stays
            current = self.node_object(node)
            return failback.lift_of(current) if current is not None else failback.Lift()
        return failback.lift_of(read)

    def release(self, node: str) -> failback.Lift:
        """Lift Ferry's out-of-service taint (the one its mark says Ferry added) and that mark, in one write;
        the cordon, the quarantine and any taint of someone else's stay (`failback.release_of`)."""
        read = self._rewrite_node(node, failback.release_change)
        return failback.release_of(read) if read is not None else failback.Lift()

    def _rewrite_node(self, node: str, change: Callable[[Obj], Obj | None]) -> Obj | None:
        """Read the node, `change` it into a merge patch (None: nothing to do) and write it conditioned on the
        resourceVersion read; on 409 read again and recompute, as client-go's RetryOnConflict does. Returns
        the node as read for the write that was made, None if nothing was to do."""
        attempts = CONFLICT_ATTEMPTS
        while True:
            current = self._get(self.core.read_node, node)
            if current is None:
                raise NotFound(f"node {node} not found")
            body = change(current)
            if body is None:
                return None
            version = (current.get("metadata") or {}).get("resourceVersion")
            body = {**body, "metadata": {**(body.get("metadata") or {}), "resourceVersion": version}}
            try:
                self._patch(self.core.patch_node, node, body=body)
            except Conflict:
                attempts -= 1
                if not attempts:
                    raise
                continue
            return current

    def add_taint(self, node: str, taint: Taint) -> bool:
        """Add a taint unless one with its key and effect is there; False if it was."""

        def added(taints: list[Obj]) -> list[Obj] | None:
            if any(t.get("key") == taint.key and t.get("effect") == taint.effect for t in taints):
                return None
            return [*taints, taint.to_dict()]

        return self._rewrite_taints(node, added)

    def _rewrite_taints(self, node: str, change: Callable[[list[Obj]], list[Obj] | None]) -> bool:
        """Read the node's taints, `change` them (None: nothing to do) and write the whole list back; False if
        nothing was to do.

        A merge patch replaces the whole list, so it is conditioned on the resourceVersion read: the API server
        answers 409 when anyone wrote the node since (the kubelet's status, the node lifecycle controller's own
        taints, a cordon), and the change is made again on a fresh read, as client-go's RetryOnConflict does,
        rather than dropping someone else's taint. Conflict leaves only after `CONFLICT_ATTEMPTS` reads.
        """
        attempts = CONFLICT_ATTEMPTS
        while True:
            current = self._get(self.core.read_node, node)
            if current is None:
                raise NotFound(f"node {node} not found")
            taints = change(list((current.get("spec") or {}).get("taints") or []))
            if taints is None:
                return False
            version = (current.get("metadata") or {}).get("resourceVersion")
            body = {"metadata": {"resourceVersion": version}, "spec": {"taints": taints}}
            try:
                self._patch(self.core.patch_node, node, body=body)
            except Conflict:
                attempts -= 1
                if not attempts:
                    raise
                continue
            return True

    # --- pods --------------------------------------------------------------------------------------------------

    def force_delete_pod(self, namespace: str, name: str, uid: str) -> bool:
        """Delete that pod (that uid) with grace period 0; False if it is gone or replaced."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        try:
            self._json(self.core.delete_namespaced_pod, name, namespace, body=body, grace_period_seconds=0)
        except (NotFound, Conflict):
            return False
        return True

    def evict(self, namespace: str, name: str, uid: str, *, dry_run: bool = False) -> bool:
        """Ask the Eviction API; 429 (a PodDisruptionBudget says no) is raised as Throttled. False if gone.

        With `dry_run`, the server answers as it would (the budget checked) but evicts nothing (dryRun=All)."""
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
            "deleteOptions": {"preconditions": {"uid": uid}},
        }
        try:
            extra = {"dry_run": "All"} if dry_run else {}
            self._json(self.core.create_namespaced_pod_eviction, name, namespace, body, **extra)
        except (NotFound, Conflict):
            return False
        return True

    def delete_volume_attachment(self, name: str) -> bool:
        try:
            self._json(self.storage.delete_volume_attachment, name)
        except NotFound:
            return False
        return True

    # --- federated apps: a member's Deployment and its scale subresource ------------------------------------------

    def deployment_object(self, namespace: str, name: str) -> Obj | None:
        return self._get(self.apps.read_namespaced_deployment, name, namespace)

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        """Set the Deployment's replicas through its scale subresource (what `kubectl scale` and the HPA use):
        absolute, so a repeated call changes nothing, and no other field of the Deployment is written."""
        self._patch(self.apps.patch_namespaced_deployment_scale, name, namespace, body={"spec": {"replicas": replicas}})

    def annotate_deployment(self, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self._patch(
            self.apps.patch_namespaced_deployment, name, namespace, body={"metadata": {"annotations": annotations}}
        )

    # --- volumes and claims ------------------------------------------------------------------------------------

    def retain(self, volume: str) -> bool:
        """Set a PV's reclaim policy to Retain; False if it already was."""
        current = self._get(self.core.read_persistent_volume, volume)
        if current is None:
            raise NotFound(f"PersistentVolume {volume} not found")
        if (current.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Retain":
            return False
        self._patch(
            self.core.patch_persistent_volume, volume, body={"spec": {"persistentVolumeReclaimPolicy": "Retain"}}
        )
        return True

    def release_volume(self, volume: str, *, claim_uid: str, resource_version: str) -> None:
        """Set the uid of a PV's claimRef, if the PV is still at `resource_version` (409 otherwise: the binder
        wrote it since; read again)."""
        body = {"metadata": {"resourceVersion": resource_version}, "spec": {"claimRef": {"uid": claim_uid}}}
        self._patch(self.core.patch_persistent_volume, volume, body=body)

    def create_volume_object(self, body: Obj) -> Obj:
        return self._json(self.core.create_persistent_volume, body)

    def create_claim(self, namespace: str, body: Obj) -> Obj:
        return self._json(self.core.create_namespaced_persistent_volume_claim, namespace, body)

    def delete_claim(self, namespace: str, name: str, uid: str) -> bool:
        """Delete that claim (that uid): a claim recreated under the same name is never touched."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"uid": uid}}
        try:
            self._json(self.core.delete_namespaced_persistent_volume_claim, name, namespace, body=body)
        except NotFound:
            return False
        return True
