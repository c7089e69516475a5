"""The API server's REST semantics, independent of HTTP: what create, get, list, update, patch and delete do.

This is where the rules that clients depend on live: uid, resourceVersion and optimistic concurrency,
generation, generateName, the status and scale subresources, graceful deletion of pods, finalizers and
propagation policies, namespace lifecycle, pagination with continue tokens, eviction against
PodDisruptionBudgets and pod binding. The HTTP layer (`server.py`) and the in-process controllers both go
through it, so a controller's write obeys the same rules as a client's.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import builtins
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sandbox.kube import defaults, errors, patches, resources, validation
from sandbox.kube.clock import SandboxClock
from sandbox.kube.errors import ApiError, FieldError
from sandbox.kube.objects import (
    Obj,
    clone,
    fmt_time,
    is_deleting,
    is_pod_ready,
    is_pod_terminal,
    labels_of,
    meta,
    parse_time,
    uid_of,
    without_nulls,
)
from sandbox.kube.resources import NAMESPACES, PODS, ResourceType
from sandbox.kube.selectors import (
    FieldRequirement,
    SelectorError,
    fields_match,
    from_label_selector,
    parse_field_selector,
    parse_label_selector,
    selector_string,
)
from sandbox.kube.store import Store

PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)
_MAX_DISRUPTED_PODS = 2000


@dataclass(frozen=True)
class ListPage:
    items: list[Obj]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None


@dataclass(frozen=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    preconditions: dict[str, str] | None = None

    @classmethod
    def from_body(cls, body: Obj | None, query: dict[str, str]) -> DeleteOptions:
        """DeleteOptions from the query string, overridden by a body if the client sent one."""
        body = body or {}
        grace = body.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        policy = body.get("propagationPolicy", query.get("propagationPolicy"))
        orphan = body.get("orphanDependents", query.get("orphanDependents"))
        if policy is None and orphan is not None:
            policy = "Orphan" if str(orphan).lower() == "true" else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise errors.invalid(
                "DeleteOptions.meta.k8s.io",
                "",
                "",
                [
                    FieldError(
                        "propagationPolicy",
                        "NotSupported",
                        'supported values: "Foreground", "Background", "Orphan", "nil"',
                        policy,
                    )
                ],
            )
        try:
            period = None if grace is None else int(grace)
        except (TypeError, ValueError) as problem:
            raise errors.bad_request(f"invalid gracePeriodSeconds: {grace}") from problem
        return cls(period, policy, body.get("preconditions"))


class Registry:
    def __init__(self, store: Store, clock: SandboxClock) -> None:
        self.store = store
        self.clock = clock
        self._random = random.Random()
        self._event_keys: dict[tuple[str, ...], tuple[str, str]] = {}

    # --- helpers --------------------------------------------------------------------------------------------

    def now(self) -> str:
        return fmt_time(self.clock.now())

    def _check_kind(self, rt: ResourceType, obj: Any, *, kind: str | None = None) -> Obj:
        expected = kind or rt.kind
        if not isinstance(obj, dict):
            raise errors.bad_request(
                f'{expected} in version "{rt.version}" cannot be handled as a {expected}: '
                "the body must be a JSON object"
            )
        given = obj.get("kind")
        if given and given != expected:
            raise errors.bad_request(
                f'{given} in version "{rt.version}" cannot be handled as a {expected}: '
                f"the kind in the body ({given}) does not match the kind of the endpoint ({expected})"
            )
        if not isinstance(obj.get("metadata", {}), dict):
            raise errors.bad_request(
                f'{expected} in version "{rt.version}" cannot be handled as a {expected}: metadata must be an object'
            )
        return obj

    def _namespace_of_request(self, rt: ResourceType, obj: Obj, namespace: str) -> None:
        metadata = meta(obj)
        if rt.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)

    def _require(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    # --- read -----------------------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str, name: str, *, subresource: str = "") -> Obj:
        obj = self._require(rt, namespace, name)
        return self._scale_of(obj) if subresource == "scale" else obj

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
    ) -> ListPage:
        try:
            labels = parse_label_selector(label_selector) if label_selector else None
            fields = parse_field_selector(field_selector) if field_selector else ()
        except SelectorError as problem:
            raise errors.bad_request(str(problem)) from problem
        for requirement in fields:
            if not rt.supports_field(requirement.field):
                raise errors.bad_request(f"field label not supported: {requirement.field}")
        scope = namespace or ""
        if continue_token:
            version, start = _decode_continue(continue_token)
            items = self.store.snapshot(rt.key, scope, version)
            if items is None:
                raise errors.expired(_TOO_OLD)
            keys = [_item_key(item, namespace) for item in items]
            items = items[bisect.bisect_left(keys, start) :]
        else:
            with self.store.lock:
                version = self.store.resource_version
                items = [
                    item
                    for item in self._candidates(rt, namespace, fields)
                    if (labels is None or labels.matches(labels_of(item))) and fields_match(item, fields)
                ]
        if not limit or len(items) <= limit:
            return ListPage(items, version)
        if not continue_token:
            version = self.store.save_snapshot(rt.key, scope, items) if items else version
        page, rest = items[:limit], items[limit:]
        token = _encode_continue(version, _item_key(page[-1], namespace) + "\x00")
        remaining = len(rest) if labels is None and not fields else None
        return ListPage(page, version, token, remaining)

    def _candidates(
        self, rt: ResourceType, namespace: str | None, fields: tuple[FieldRequirement, ...]
    ) -> builtins.list[Obj]:
        """Use an index when the field selector pins the node or the name; otherwise the whole range."""
        for requirement in fields:
            if requirement.equal and requirement.field == "metadata.name":
                if rt.namespaced and namespace is None:
                    break
                obj = self.store.get(rt.key, namespace or "", requirement.value)
                return [obj] if obj is not None else []
            if requirement.equal and rt is PODS and requirement.field == "spec.nodeName":
                pods = self.store.pods_on(requirement.value)
                if namespace is not None:
                    pods = [pod for pod in pods if pod["metadata"].get("namespace") == namespace]
                return sorted(pods, key=lambda pod: (pod["metadata"].get("namespace", ""), pod["metadata"]["name"]))
        return self.store.list(rt.key, namespace if rt.namespaced else None)

    # --- create ---------------------------------------------------------------------------------------------

    def create(self, rt: ResourceType, namespace: str, body: Any, *, dry_run: bool = False) -> Obj:
        obj: Obj = without_nulls(self._check_kind(rt, body))
        self._namespace_of_request(rt, obj, namespace)
        metadata = meta(obj)
        if _nonzero_version(metadata.get("resourceVersion")):
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        for field in (*_SYSTEM_FIELDS, "managedFields", "selfLink"):
            metadata.pop(field, None)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = self.now()
        if rt.generation:
            metadata["generation"] = 1
        with self.store.lock:
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = self._generated_name(rt, metadata)
            for step in (defaults.DEFAULTING.get(rt.kind), defaults.ON_CREATE.get(rt.kind)):
                if step is not None:
                    step(obj)
            self._admit_create(rt, obj)
            problems = validation.validate_create(rt.kind, obj)
            if problems:
                raise errors.invalid_object(rt, metadata.get("name", ""), problems)
            if self.store.get(rt.key, metadata.get("namespace", ""), metadata["name"]) is not None:
                raise errors.already_exists(rt, metadata["name"])
            return obj if dry_run else self.store.put(rt.key, obj)

    def _generated_name(self, rt: ResourceType, metadata: Obj) -> str:
        while True:
            suffix = "".join(self._random.choice(_NAME_ALPHABET) for _ in range(5))
            name = f"{metadata['generateName']}{suffix}"
            if self.store.get(rt.key, metadata.get("namespace", ""), name) is None:
                return name

    def _admit_create(self, rt: ResourceType, obj: Obj) -> None:
        """NamespaceLifecycle and DefaultStorageClass admission."""
        metadata = obj["metadata"]
        if rt.namespaced:
            namespace = self.store.get(NAMESPACES.key, "", metadata["namespace"])
            if namespace is None:
                raise errors.not_found(NAMESPACES, metadata["namespace"])
            if is_deleting(namespace) and rt.kind != "Event":
                problem = (
                    f"unable to create new content in namespace {metadata['namespace']} because it is being terminated"
                )
                raise errors.forbidden(
                    rt,
                    metadata.get("name", ""),
                    problem,
                    [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {metadata['namespace']} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                )
        if rt.kind == "PersistentVolumeClaim" and "storageClassName" not in obj.get("spec", {}):
            default = next(
                (sc for sc in self.store.list("storageclasses.storage.k8s.io") if defaults.is_default_class(sc)), None
            )
            if default is not None:
                obj["spec"]["storageClassName"] = default["metadata"]["name"]

    # --- update and patch -----------------------------------------------------------------------------------

    def update(
        self, rt: ResourceType, namespace: str, name: str, body: Any, *, subresource: str = "", dry_run: bool = False
    ) -> Obj:
        if subresource == "scale":
            return self._update_scale(rt, namespace, name, body, dry_run=dry_run)
        new = without_nulls(self._check_kind(rt, body))
        if meta(new).get("name", "") != name:
            raise errors.bad_request(
                f"the name of the object ({new['metadata'].get('name', '')}) "
                f"does not match the name on the URL ({name})"
            )
        self._namespace_of_request(rt, new, namespace)
        with self.store.lock:
            old = self._require(rt, namespace, name)
            return self._write_update(rt, old, new, subresource, dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_manager: str | None = None,
    ) -> Obj:
        if content_type == patches.APPLY:
            return self._apply(rt, namespace, name, patch, field_manager=field_manager, dry_run=dry_run)
        with self.store.lock:
            old = self._require(rt, namespace, name)
            current = self._scale_of(old) if subresource == "scale" else old
            kind = "Scale" if subresource == "scale" else rt.kind
            if content_type == patches.JSON_PATCH:
                patched = patches.json_patch(current, patch)
            elif not isinstance(patch, dict):
                raise errors.bad_request(
                    f"json: cannot unmarshal {type(patch).__name__} into Go value of type map[string]interface {{}}"
                )
            elif content_type == patches.MERGE:
                patched = patches.merge_patch(current, patch)
            else:
                patched = patches.strategic_merge_patch(kind, current, patch)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            return self.update(rt, namespace, name, patched, subresource=subresource, dry_run=dry_run)

    def _apply(
        self, rt: ResourceType, namespace: str, name: str, config: Any, *, field_manager: str | None, dry_run: bool
    ) -> Obj:
        """Server-side apply, simplified: create if missing, else merge the applied fields (no ownership)."""
        if not field_manager:
            raise errors.invalid(
                "PatchOptions.meta.k8s.io",
                "",
                "",
                [FieldError("fieldManager", "Required", "is required for apply patch")],
            )
        self._check_kind(rt, config)
        with self.store.lock:
            if self.store.get(rt.key, namespace if rt.namespaced else "", name) is None:
                return self.create(
                    rt, namespace, {**config, "metadata": {**config.get("metadata", {}), "name": name}}, dry_run=dry_run
                )
            old = self._require(rt, namespace, name)
            merged = patches.strategic_merge_patch(rt.kind, old, config)
            return self.update(rt, namespace, name, merged, dry_run=dry_run)

    def _write_update(self, rt: ResourceType, old: Obj, new: Obj, subresource: str, *, dry_run: bool) -> Obj:
        metadata = meta(new)
        name = old["metadata"]["name"]
        version = metadata.get("resourceVersion")
        if version and version != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt, name)
        if metadata.get("uid") and metadata["uid"] != uid_of(old):
            raise errors.precondition_failed(
                f"UID in precondition: {metadata['uid']}, UID in object meta: {uid_of(old)}"
            )
        if subresource == "status":
            merged = clone(old)
            merged["status"] = new.get("status", {})
        elif subresource == "finalize":
            merged = clone(old)
            merged.setdefault("spec", {})["finalizers"] = (new.get("spec") or {}).get("finalizers") or []
        else:
            merged = new
            merged["apiVersion"], merged["kind"] = rt.api_version, rt.kind
            for field in _SYSTEM_FIELDS:
                if field in old["metadata"]:
                    metadata[field] = old["metadata"][field]
                else:
                    metadata.pop(field, None)
            if rt.has_status:
                if "status" in old:
                    merged["status"] = old["status"]
                else:
                    merged.pop("status", None)
            if rt is NAMESPACES:
                merged.setdefault("spec", {})["finalizers"] = (old.get("spec") or {}).get("finalizers", [])
            defaulting = defaults.DEFAULTING.get(rt.kind)
            if defaulting is not None:
                defaulting(merged)
            if rt.generation and merged.get("spec") != old.get("spec"):
                metadata["generation"] = old["metadata"].get("generation", 1) + 1
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        problems = validation.validate_update(rt.kind, merged, old)
        if is_deleting(old):
            added = [
                f
                for f in merged["metadata"].get("finalizers") or []
                if f not in old["metadata"].get("finalizers") or []
            ]
            if added:
                rendered = "[]string{" + ", ".join(json.dumps(f) for f in added) + "}"
                problems.append(
                    FieldError(
                        "metadata.finalizers",
                        "Forbidden",
                        "no new finalizers can be added if the object is being deleted, "
                        f"found new finalizers {rendered}",
                    )
                )
        if problems:
            raise errors.invalid_object(rt, name, problems)
        if merged == old or dry_run:
            return old if merged == old else merged
        stored = self.store.put(rt.key, merged)
        if self._deletable(stored):
            self.store.remove(rt.key, stored["metadata"].get("namespace", ""), name)
        return stored

    @staticmethod
    def _deletable(obj: Obj) -> bool:
        metadata = obj["metadata"]
        return (
            bool(metadata.get("deletionTimestamp"))
            and not metadata.get("finalizers")
            and metadata.get("deletionGracePeriodSeconds") == 0
        )

    def mutate(
        self, rt: ResourceType, namespace: str, name: str, change: Callable[[Obj], Any], *, subresource: str = ""
    ) -> Obj | None:
        """Read-modify-write for controllers, under the store lock so that it cannot conflict."""
        with self.store.lock:
            old = self.store.get(rt.key, namespace, name)
            if old is None:
                return None
            new = clone(old)
            change(new)
            if new == old:
                return old
            return self._write_update(rt, old, new, subresource, dry_run=False)

    # --- scale ----------------------------------------------------------------------------------------------

    @staticmethod
    def _scale_of(obj: Obj) -> Obj:
        metadata = obj["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                key: metadata[key]
                for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if key in metadata
            },
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
            "status": {
                "replicas": obj.get("status", {}).get("replicas", 0),
                "selector": selector_string(obj.get("spec", {}).get("selector")),
            },
        }

    def _update_scale(self, rt: ResourceType, namespace: str, name: str, body: Any, *, dry_run: bool) -> Obj:
        scale = self._check_kind(rt, body, kind="Scale")
        if meta(scale).get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({scale['metadata']['name']}) does not match the name on the URL ({name})"
            )
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "Scale.autoscaling",
                "autoscaling",
                name,
                [FieldError("spec.replicas", "Invalid", "must be greater than or equal to 0", replicas)],
            )
        with self.store.lock:
            old = self._require(rt, namespace, name)
            version = scale["metadata"].get("resourceVersion")
            if version and version != old["metadata"]["resourceVersion"]:
                raise errors.conflict(rt, name)
            new = clone(old)
            new["spec"]["replicas"] = replicas
            return self._scale_of(self._write_update(rt, old, new, "", dry_run=dry_run))

    # --- delete ---------------------------------------------------------------------------------------------

    def delete(
        self, rt: ResourceType, namespace: str, name: str, options: DeleteOptions, *, dry_run: bool = False
    ) -> Obj:
        """Delete as the real server does; returns the object (pending or removed) or a success Status."""
        with self.store.lock:
            old = self._require(rt, namespace, name)
            precondition = options.preconditions or {}
            if precondition.get("uid") and precondition["uid"] != uid_of(old):
                raise errors.uid_precondition_failed(rt.kind, name, precondition["uid"], uid_of(old))
            if (
                precondition.get("resourceVersion")
                and precondition["resourceVersion"] != old["metadata"]["resourceVersion"]
            ):
                raise errors.precondition_failed(
                    f"ResourceVersion in precondition: {precondition['resourceVersion']}, "
                    f"ResourceVersion in object meta: {old['metadata']['resourceVersion']}"
                )
            if rt is NAMESPACES:
                return self._delete_namespace(old, dry_run=dry_run)
            new = clone(old)
            metadata = new["metadata"]
            finalizers = metadata.setdefault("finalizers", [])
            if options.propagation_policy == "Orphan" and ORPHAN not in finalizers:
                finalizers.append(ORPHAN)
            if options.propagation_policy == "Foreground" and FOREGROUND not in finalizers:
                finalizers.append(FOREGROUND)
            if not finalizers:
                del metadata["finalizers"]
            period = self._grace_period(rt, old, options)
            if period > 0:
                current = metadata.get("deletionGracePeriodSeconds")
                if current is not None and current <= period:
                    return old
                metadata["deletionTimestamp"] = fmt_time(self.clock.now() + timedelta(seconds=period))
                metadata["deletionGracePeriodSeconds"] = period
                return new if dry_run else self._put_deleting(rt, old, new)
            if metadata.get("finalizers"):
                metadata.setdefault("deletionTimestamp", self.now())
                metadata["deletionGracePeriodSeconds"] = 0
                return new if dry_run else self._put_deleting(rt, old, new)
            if not dry_run:
                self.store.remove(rt.key, old["metadata"].get("namespace", ""), name)
            return old if rt.return_deleted_object else _success(rt, old)

    def _put_deleting(self, rt: ResourceType, old: Obj, new: Obj) -> Obj:
        if rt.generation and not is_deleting(old):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        return self.store.put(rt.key, new)

    def _grace_period(self, rt: ResourceType, pod: Obj, options: DeleteOptions) -> int:
        """Only pods are deleted gracefully; an unscheduled or finished pod goes at once."""
        if rt is not PODS:
            return 0
        spec = pod.get("spec", {})
        period = options.grace_period_seconds
        if period is None:
            period = spec.get("terminationGracePeriodSeconds", 30)
        if not spec.get("nodeName") or is_pod_terminal(pod):
            period = 0
        return max(period, 0)

    def _delete_namespace(self, namespace: Obj, *, dry_run: bool) -> Obj:
        name = namespace["metadata"]["name"]
        if name in PROTECTED_NAMESPACES:
            raise errors.forbidden(NAMESPACES, name, "this namespace may not be deleted")
        if is_deleting(namespace):
            return namespace
        new = clone(namespace)
        new["metadata"]["deletionTimestamp"] = self.now()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new["status"] = {"phase": "Terminating"}
        return new if dry_run else self.store.put(NAMESPACES.key, new)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        options: DeleteOptions,
        *,
        label_selector: str = "",
        field_selector: str = "",
        dry_run: bool = False,
    ) -> Obj:
        page = self.list(rt, namespace, label_selector=label_selector, field_selector=field_selector)
        deleted = []
        for item in page.items:
            try:
                deleted.append(
                    self.delete(
                        rt, item["metadata"].get("namespace", ""), item["metadata"]["name"], options, dry_run=dry_run
                    )
                )
            except ApiError as problem:
                if problem.code != 404:
                    raise
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": {}, "items": deleted}

    # --- pods/eviction and pods/binding ---------------------------------------------------------------------

    def evict(self, namespace: str, name: str, body: Any, *, dry_run: bool = False) -> Obj:
        rt = resources.POD_DISRUPTION_BUDGETS
        eviction = body if isinstance(body, dict) else {}
        if (eviction.get("metadata") or {}).get("name", name) != name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        options = DeleteOptions.from_body(eviction.get("deleteOptions"), {})
        with self.store.lock:
            pod = self._require(PODS, namespace, name)
            if is_pod_terminal(pod) or pod.get("status", {}).get("phase") == "Pending" or is_deleting(pod):
                self.delete(PODS, namespace, name, options, dry_run=dry_run)
                return _eviction_success()
            budgets = [
                pdb
                for pdb in self.store.list(rt.key, namespace)
                if from_label_selector(pdb.get("spec", {}).get("selector") or {}).matches(labels_of(pod))
            ]
            if len(budgets) > 1:
                raise ApiError(
                    500,
                    "InternalError",
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                    {},
                )
            # The caller's preconditions hold before any budget is spent, as on the real server: an eviction
            # naming a pod that was since replaced (a stale uid) is refused with 409 and evicts nothing.
            preconditions = {"uid": uid_of(pod), **(options.preconditions or {})}
            if preconditions["uid"] != uid_of(pod):
                raise errors.uid_precondition_failed(PODS.kind, name, preconditions["uid"], uid_of(pod))
            if (
                preconditions.get("resourceVersion", pod["metadata"]["resourceVersion"])
                != pod["metadata"]["resourceVersion"]
            ):
                raise errors.precondition_failed(
                    f"ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                    f"ResourceVersion in object meta: {pod['metadata']['resourceVersion']}"
                )
            if budgets:
                self._check_budget(budgets[0], pod, dry_run=dry_run)
            self.delete(
                PODS,
                namespace,
                name,
                DeleteOptions(options.grace_period_seconds, options.propagation_policy, preconditions),
                dry_run=dry_run,
            )
            return _eviction_success()

    def _check_budget(self, pdb: Obj, pod: Obj, *, dry_run: bool) -> None:
        spec, status = pdb.get("spec", {}), pdb.get("status", {})
        name = pdb["metadata"]["name"]
        healthy, desired = status.get("currentHealthy", 0), status.get("desiredHealthy", 0)
        if not is_pod_ready(pod) and (
            spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or healthy >= desired > 0
        ):
            return
        if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
            raise errors.too_many_requests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                causes=[
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {name} is still being processed by the server.",
                    }
                ],
            )
        allowed = status.get("disruptionsAllowed", 0)
        if allowed < 0:
            raise errors.forbidden(resources.POD_DISRUPTION_BUDGETS, name, "pdb disruptions allowed is negative")
        if len(status.get("disruptedPods") or {}) > _MAX_DISRUPTED_PODS:
            raise errors.forbidden(
                resources.POD_DISRUPTION_BUDGETS,
                name,
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            )
        if allowed == 0:
            raise errors.too_many_requests(
                "Cannot evict pod as it would violate the pod's disruption budget.",
                causes=[
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {name} needs {desired} healthy pods "
                        f"and has {healthy} currently",
                    }
                ],
            )
        if dry_run:
            return

        def decrement(budget: Obj) -> None:
            budget_status = budget.setdefault("status", {})
            budget_status["disruptionsAllowed"] = allowed - 1
            budget_status.setdefault("disruptedPods", {})[pod["metadata"]["name"]] = fmt_time(self.clock.now())

        self.mutate(
            resources.POD_DISRUPTION_BUDGETS, pdb["metadata"]["namespace"], name, decrement, subresource="status"
        )

    def bind(self, namespace: str, name: str, body: Any) -> Obj:
        binding = body if isinstance(body, dict) else {}
        if (binding.get("metadata") or {}).get("name", name) != name:
            raise errors.bad_request("name in URL does not match name in Binding object")
        target = binding.get("target") or {}
        if not target.get("name"):
            raise errors.invalid("Binding", "", name, [FieldError("target.name", "Required")])
        if target.get("kind") not in (None, "", "Node"):
            raise errors.invalid(
                "Binding",
                "",
                name,
                [FieldError("target.kind", "NotSupported", 'supported values: "Node", "<empty>"', target["kind"])],
            )
        with self.store.lock:
            pod = self._require(PODS, namespace, name)
            if is_deleting(pod):
                raise errors.conflict(
                    PODS, name, f"pod {name} is being deleted, cannot be assigned to a host", resource="pods/binding"
                )
            node = pod.get("spec", {}).get("nodeName")
            if node:
                raise errors.conflict(
                    PODS, name, f'pod {name} is already assigned to node "{node}"', resource="pods/binding"
                )
            new = clone(pod)
            new["spec"]["nodeName"] = target["name"]
            for key, value in ((binding.get("metadata") or {}).get("annotations") or {}).items():
                new["metadata"].setdefault("annotations", {})[key] = value
            conditions = [
                c for c in new.setdefault("status", {}).get("conditions") or [] if c.get("type") != "PodScheduled"
            ]
            conditions.append(
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": self.now()}
            )
            new["status"]["conditions"] = conditions
            self.store.put(PODS.key, new)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    # --- events ---------------------------------------------------------------------------------------------

    def record_event(
        self, involved: Obj, reason: str, message: str, *, component: str, event_type: str = "Normal", host: str = ""
    ) -> None:
        """Emit an Event as client-go's recorder does, folding repeats into `count`."""
        metadata = involved["metadata"]
        namespace = metadata.get("namespace") or "default"
        key = (uid_of(involved), reason, message, component, event_type)
        now = self.clock.now()
        with self.store.lock:
            known = self._event_keys.get(key)
            if known is not None:
                updated = self.mutate(resources.EVENTS, known[0], known[1], lambda event: _repeat(event, fmt_time(now)))
                if updated is not None:
                    return
            stamp = int(now.timestamp() * 1e9)
            while self.store.get(resources.EVENTS.key, namespace, f"{metadata['name']}.{stamp:x}") is not None:
                stamp += 1  # a frozen sandbox clock must not fold distinct events into one name
            name = f"{metadata['name']}.{stamp:x}"
            event: Obj = {
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {
                    "kind": involved.get("kind"),
                    "namespace": metadata.get("namespace", ""),
                    "name": metadata["name"],
                    "uid": uid_of(involved),
                    "apiVersion": involved.get("apiVersion"),
                    "resourceVersion": metadata.get("resourceVersion", ""),
                },
                "reason": reason,
                "message": message,
                "source": {"component": component, **({"host": host} if host else {})},
                "firstTimestamp": fmt_time(now),
                "lastTimestamp": fmt_time(now),
                "count": 1,
                "type": event_type,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": host,
            }
            if not involved["metadata"].get("namespace"):
                del event["involvedObject"]["namespace"]
            try:
                self.create(resources.EVENTS, namespace, event)
            except ApiError:
                return  # an event that cannot be written (namespace going away) is dropped, as client-go does
            self._event_keys[key] = (namespace, name)

    def expire_events(self, ttl: timedelta) -> None:
        """Events live an hour on a real cluster (--event-ttl)."""
        cutoff = self.clock.now() - ttl
        for event in self.store.list(resources.EVENTS.key):
            if parse_time(event.get("lastTimestamp") or event["metadata"]["creationTimestamp"]) < cutoff:
                self.store.remove(resources.EVENTS.key, event["metadata"]["namespace"], event["metadata"]["name"])


def _nonzero_version(version: Any) -> bool:
    """What etcd3's Create refuses: a resourceVersion that parses as a non-zero number (anything else is ignored)."""
    try:
        return int(str(version or 0)) > 0
    except ValueError:
        return False


def _repeat(event: Obj, now: str) -> None:
    event["count"] = event.get("count", 1) + 1
    event["lastTimestamp"] = now


def _success(rt: ResourceType, obj: Obj) -> Obj:
    details: Obj = {"name": obj["metadata"]["name"]}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.plural
    details["uid"] = uid_of(obj)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def _eviction_success() -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _item_key(item: Obj, namespace: str | None) -> str:
    metadata = item["metadata"]
    if namespace is None and metadata.get("namespace"):
        return f"{metadata['namespace']}/{metadata['name']}"
    return str(metadata["name"])


def _encode_continue(version: int, start: str) -> str:
    token = json.dumps({"v": "meta.k8s.io/v1", "rv": version, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        version, start = int(raw["rv"]), str(raw["start"])
        if raw.get("v") != "meta.k8s.io/v1":
            raise ValueError(raw.get("v"))
    except (ValueError, KeyError, TypeError, binascii.Error) as problem:
        raise errors.bad_request(f"continue key is not valid: {problem}") from problem
    return version, start
