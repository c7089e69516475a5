"""The sandbox's etcd: every object by resource, namespace and name, under one global resourceVersion.

Objects are stored as plain dicts and never changed in place once stored (writers put a new dict), so a
reader can hold a list of references without copying and encode them outside the lock. The store keeps
the indexes the API server and controllers need to stay fast on thousands of pods (pods by node, objects
by owner uid), a cache of each object's JSON encoding, consistent list snapshots for `limit`/`continue`,
and a bounded change log that watches read from.
"""

from __future__ import annotations

import builtins
import json
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.kube.objects import Obj

PODS = "pods"
_SNAPSHOTS = 64
_CHANGE_LOG = 50_000


@dataclass(frozen=True)
class Change:
    """One write, as a watch reports it: ADDED, MODIFIED or DELETED, with the object before and after."""

    resource_version: int
    type: str
    resource: str
    namespace: str
    obj: Obj
    previous: Obj | None


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._rv = 0
        self._tables: dict[str, dict[str, dict[str, Obj]]] = {}
        self._sorted_names: dict[tuple[str, str], builtins.list[str]] = {}
        self._sorted_namespaces: dict[str, builtins.list[str]] = {}
        self._pods_by_node: dict[str, dict[tuple[str, str], Obj]] = {}
        self._owned: dict[str, set[tuple[str, str, str]]] = {}
        self._uids: dict[str, tuple[str, str, str]] = {}
        self._deleting: set[tuple[str, str, str]] = set()
        self._encoded: dict[tuple[str, str, str], tuple[str, bytes]] = {}
        self._snapshots: OrderedDict[tuple[str, str, int], builtins.list[Obj]] = OrderedDict()
        self._log: deque[Change] = deque(maxlen=_CHANGE_LOG)

    @property
    def resource_version(self) -> int:
        return self._rv

    # --- reads ------------------------------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self._tables.get(resource, {}).get(namespace, {}).get(name)

    def list(self, resource: str, namespace: str | None = None) -> builtins.list[Obj]:
        """Objects in key order (namespace, then name), as etcd returns a range."""
        with self.lock:
            table = self._tables.get(resource, {})
            namespaces = [namespace] if namespace is not None else self._namespaces(resource)
            items: builtins.list[Obj] = []
            for ns in namespaces:
                objects = table.get(ns)
                if objects:
                    items.extend(objects[name] for name in self._names(resource, ns))
            return items

    def count(self, resource: str) -> int:
        return sum(len(objects) for objects in self._tables.get(resource, {}).values())

    def pods_on(self, node: str) -> builtins.list[Obj]:
        """Pods whose spec.nodeName is `node` ("" for unscheduled pods)."""
        with self.lock:
            return list(self._pods_by_node.get(node, {}).values())

    def pods_by_node(self) -> dict[str, builtins.list[Obj]]:
        with self.lock:
            return {node: list(pods.values()) for node, pods in self._pods_by_node.items() if pods}

    def owned_by(self, uid: str) -> builtins.list[tuple[str, Obj]]:
        """(resource, object) for every object with an ownerReference to `uid`."""
        with self.lock:
            found = []
            for resource, namespace, name in sorted(self._owned.get(uid, ())):
                obj = self.get(resource, namespace, name)
                if obj is not None:
                    found.append((resource, obj))
            return found

    def deleting(self) -> builtins.list[tuple[str, Obj]]:
        """(resource, object) for every object marked for deletion (deletionTimestamp set)."""
        with self.lock:
            found = [
                (resource, self.get(resource, namespace, name)) for resource, namespace, name in sorted(self._deleting)
            ]
            return [(resource, obj) for resource, obj in found if obj is not None]

    def dangling_owners(self) -> builtins.list[str]:
        """Owner uids that some object references but no stored object has (the owner was deleted)."""
        with self.lock:
            return [uid for uid in self._owned if uid not in self._uids]

    def has_uid(self, uid: str) -> bool:
        return uid in self._uids

    def _namespaces(self, resource: str) -> builtins.list[str]:
        cached = self._sorted_namespaces.get(resource)
        if cached is None:
            cached = self._sorted_namespaces[resource] = sorted(self._tables.get(resource, {}))
        return cached

    def _names(self, resource: str, namespace: str) -> builtins.list[str]:
        cached = self._sorted_names.get((resource, namespace))
        if cached is None:
            cached = self._sorted_names[(resource, namespace)] = sorted(self._tables[resource][namespace])
        return cached

    # --- writes -----------------------------------------------------------------------------------------------

    def put(self, resource: str, obj: Obj) -> Obj:
        """Create or replace `obj` (the store takes ownership) and give it the next resourceVersion."""
        metadata = obj["metadata"]
        namespace, name = metadata.get("namespace", ""), metadata["name"]
        with self.lock:
            self._rv += 1
            metadata["resourceVersion"] = str(self._rv)
            objects = self._tables.setdefault(resource, {}).setdefault(namespace, {})
            previous = objects.get(name)
            if previous is None:
                self._sorted_names.pop((resource, namespace), None)
                if len(objects) == 0:
                    self._sorted_namespaces.pop(resource, None)
            else:
                self._unindex(resource, previous)
            objects[name] = obj
            self._index(resource, obj)
            self._record(
                Change(self._rv, "ADDED" if previous is None else "MODIFIED", resource, namespace, obj, previous)
            )
            return obj

    def remove(self, resource: str, namespace: str, name: str) -> Obj | None:
        with self.lock:
            objects = self._tables.get(resource, {}).get(namespace, {})
            obj = objects.pop(name, None)
            if obj is None:
                return None
            self._rv += 1
            self._sorted_names.pop((resource, namespace), None)
            if not objects:
                del self._tables[resource][namespace]
                self._sorted_namespaces.pop(resource, None)
            self._unindex(resource, obj)
            self._encoded.pop((resource, namespace, name), None)
            gone = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}
            self._record(Change(self._rv, "DELETED", resource, namespace, gone, obj))
            return obj

    def _index(self, resource: str, obj: Obj) -> None:
        metadata = obj["metadata"]
        key = (resource, metadata.get("namespace", ""), metadata["name"])
        if metadata.get("uid"):
            self._uids[metadata["uid"]] = key
        if metadata.get("deletionTimestamp"):
            self._deleting.add(key)
        for ref in metadata.get("ownerReferences") or ():
            self._owned.setdefault(ref.get("uid", ""), set()).add(key)
        if resource == PODS:
            node = obj.get("spec", {}).get("nodeName") or ""
            self._pods_by_node.setdefault(node, {})[key[1:]] = obj

    def _unindex(self, resource: str, obj: Obj) -> None:
        metadata = obj["metadata"]
        key = (resource, metadata.get("namespace", ""), metadata["name"])
        self._uids.pop(metadata.get("uid", ""), None)
        self._deleting.discard(key)
        for ref in metadata.get("ownerReferences") or ():
            owned = self._owned.get(ref.get("uid", ""))
            if owned is not None:
                owned.discard(key)
                if not owned:
                    del self._owned[ref.get("uid", "")]
        if resource == PODS:
            node = obj.get("spec", {}).get("nodeName") or ""
            self._pods_by_node.get(node, {}).pop(key[1:], None)

    def _record(self, change: Change) -> None:
        self._log.append(change)
        self.changed.notify_all()

    # --- encoding, snapshots, watch ---------------------------------------------------------------------------

    def encode(self, resource: str, obj: Obj) -> bytes:
        """The JSON of a stored object, cached per resourceVersion."""
        metadata = obj["metadata"]
        key = (resource, metadata.get("namespace", ""), metadata["name"])
        version = metadata.get("resourceVersion", "")
        cached = self._encoded.get(key)
        if cached is not None and cached[0] == version and self.get(*key) is obj:
            return cached[1]
        data = json.dumps(obj, separators=(",", ":")).encode()
        if self.get(*key) is obj:
            self._encoded[key] = (version, data)
        return data

    def save_snapshot(self, resource: str, namespace: str, items: builtins.list[Obj]) -> int:
        """Keep a list result so that later pages of it are served from the same resourceVersion."""
        with self.lock:
            key = (resource, namespace, self._rv)
            self._snapshots[key] = items
            self._snapshots.move_to_end(key)
            while len(self._snapshots) > _SNAPSHOTS:
                self._snapshots.popitem(last=False)
            return self._rv

    def snapshot(self, resource: str, namespace: str, resource_version: int) -> builtins.list[Obj] | None:
        with self.lock:
            return self._snapshots.get((resource, namespace, resource_version))

    def oldest_change(self) -> int:
        with self.lock:
            return self._log[0].resource_version if self._log else self._rv + 1

    def changes_since(self, resource_version: int) -> Iterator[Change]:
        with self.lock:
            pending = []
            for change in reversed(self._log):
                if change.resource_version <= resource_version:
                    break
                pending.append(change)
        yield from reversed(pending)
