"""The garbage collector and the namespace controller: what makes deletion cascade.

Garbage collector: an object whose owners (by `ownerReferences` uid) are all gone is deleted (background
propagation); an owner deleted with `propagationPolicy: Foreground` keeps its `foregroundDeletion`
finalizer until its dependents are gone; with `Orphan`, dependents lose the owner reference and the
`orphan` finalizer is removed. Events older than an hour are dropped, as `--event-ttl` does.

Namespace controller: a namespace being deleted has its content deleted, and goes once it is empty.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import Obj, is_deleting, name_of, namespace_of, uid_of
from sandbox.kube.registry import FOREGROUND, ORPHAN, DeleteOptions
from sandbox.kube.resources import RESOURCES, ResourceType

EVENT_TTL = timedelta(hours=1)
EVENT_SWEEP = timedelta(minutes=1)
_BY_KEY = {rt.key: rt for rt in RESOURCES}


class GarbageCollector:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry
        self._expired: datetime | None = None

    def sync(self) -> None:
        store = self.context.store
        for owner_uid in store.dangling_owners():
            for resource, dependent in store.owned_by(owner_uid):
                self._collect(_BY_KEY[resource], dependent)
        for resource, obj in store.deleting():
            finalizers = obj["metadata"].get("finalizers") or []
            if FOREGROUND in finalizers:
                self._foreground(_BY_KEY[resource], obj)
            if ORPHAN in finalizers:
                self._orphan(_BY_KEY[resource], obj)
        now = self.context.clock.now()
        if self._expired is None or now - self._expired >= EVENT_SWEEP:
            self._expired = now
            self.registry.expire_events(EVENT_TTL)

    def _collect(self, rt: ResourceType, dependent: Obj) -> None:
        store = self.context.store
        refs = dependent["metadata"].get("ownerReferences") or []
        alive = [ref for ref in refs if store.has_uid(ref.get("uid", ""))]
        if alive:
            if len(alive) != len(refs):
                self.registry.mutate(
                    rt,
                    namespace_of(dependent),
                    name_of(dependent),
                    lambda obj: obj["metadata"].update(ownerReferences=alive),
                )
            return
        if is_deleting(dependent):
            return
        try:
            self.registry.delete(
                rt,
                namespace_of(dependent),
                name_of(dependent),
                DeleteOptions(propagation_policy="Background", preconditions={"uid": uid_of(dependent)}),
            )
        except ApiError:
            return

    def _foreground(self, rt: ResourceType, owner: Obj) -> None:
        dependents = self.context.store.owned_by(uid_of(owner))
        for resource, dependent in dependents:
            if not is_deleting(dependent):
                try:
                    self.registry.delete(
                        _BY_KEY[resource],
                        namespace_of(dependent),
                        name_of(dependent),
                        DeleteOptions(propagation_policy="Foreground"),
                    )
                except ApiError:
                    continue
        blocking = [
            d
            for _, d in self.context.store.owned_by(uid_of(owner))
            if any(
                r.get("uid") == uid_of(owner) and r.get("blockOwnerDeletion")
                for r in d["metadata"].get("ownerReferences") or []
            )
        ]
        if not blocking:
            self._drop_finalizer(rt, owner, FOREGROUND)

    def _orphan(self, rt: ResourceType, owner: Obj) -> None:
        uid = uid_of(owner)
        for resource, dependent in self.context.store.owned_by(uid):
            self.registry.mutate(
                _BY_KEY[resource],
                namespace_of(dependent),
                name_of(dependent),
                lambda obj: obj["metadata"].update(
                    ownerReferences=[r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                ),
            )
        self._drop_finalizer(rt, owner, ORPHAN)

    def _drop_finalizer(self, rt: ResourceType, obj: Obj, finalizer: str) -> None:
        self.registry.mutate(
            rt,
            namespace_of(obj),
            name_of(obj),
            lambda new: new["metadata"].update(
                finalizers=[f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
            ),
        )


class NamespaceController:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry

    def sync(self) -> None:
        store = self.context.store
        for namespace in store.list(resources.NAMESPACES.key):
            if not is_deleting(namespace):
                continue
            name = name_of(namespace)
            remaining = 0
            for rt in RESOURCES:
                if not rt.namespaced:
                    continue
                for obj in store.list(rt.key, name):
                    remaining += 1
                    if not is_deleting(obj):
                        try:
                            self.registry.delete(rt, name, name_of(obj), DeleteOptions())
                        except ApiError:
                            continue
            if remaining:
                continue
            if namespace.get("spec", {}).get("finalizers"):
                self.registry.update(
                    resources.NAMESPACES,
                    "",
                    name,
                    {**namespace, "spec": {**namespace["spec"], "finalizers": []}},
                    subresource="finalize",
                )
            current = store.get(resources.NAMESPACES.key, "", name)
            if current is not None and not current["metadata"].get("finalizers"):
                store.remove(resources.NAMESPACES.key, "", name)
