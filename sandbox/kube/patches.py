"""The three PATCH content types the API server accepts for built-in kinds, applied as it applies them.

- `application/merge-patch+json` (RFC 7386): maps merge, `null` deletes, lists are replaced.
- `application/strategic-merge-patch+json`: like a merge patch, but a list whose Go type carries a patch
  strategy merges element by element (containers by `name`, conditions by `type`, finalizers as a set),
  and the `$patch`, `$retainKeys`, `$deleteFromPrimitiveList/` and `$setElementOrder/` directives work.
  Lists without a strategy are replaced whole; node `spec.taints` and pod `spec.tolerations` are such
  lists (`+listType=atomic` in k8s.io/api), so patching one taint replaces the node's taints.
- `application/json-patch+json` (RFC 6902), `test` included; a failing operation is a 422, as there.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube import errors
from sandbox.kube.objects import clone

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC, APPLY)

# Lists that merge (patchStrategy:"merge") and their patchMergeKey, by path from the pod spec (`*` is any
# element). None as a key means a list of scalars merged as a set.
_POD_SPEC_LISTS: dict[tuple[str, ...], str | None] = {
    ("containers",): "name",
    ("initContainers",): "name",
    ("ephemeralContainers",): "name",
    ("volumes",): "name",
    ("imagePullSecrets",): "name",
    ("hostAliases",): "ip",
    ("schedulingGates",): "name",
    ("topologySpreadConstraints",): "topologyKey",
}
for _containers in ("containers", "initContainers", "ephemeralContainers"):
    _POD_SPEC_LISTS[(_containers, "*", "env")] = "name"
    _POD_SPEC_LISTS[(_containers, "*", "volumeMounts")] = "mountPath"
    _POD_SPEC_LISTS[(_containers, "*", "volumeDevices")] = "devicePath"
    _POD_SPEC_LISTS[(_containers, "*", "ports")] = "containerPort"

_POD_SPEC_AT = {"Pod": ("spec",), "StatefulSet": ("spec", "template", "spec")}
_POD_SPEC_AT["Deployment"] = _POD_SPEC_AT["ReplicaSet"] = _POD_SPEC_AT["StatefulSet"]

_KIND_LISTS: dict[str, dict[tuple[str, ...], str | None]] = {
    "Node": {("status", "addresses"): "type", ("spec", "podCIDRs"): None},
    "Pod": {("status", "podIPs"): "ip", ("status", "hostIPs"): "ip"},
}
_CONDITION_KINDS = {
    "Pod",
    "Node",
    "Namespace",
    "PersistentVolumeClaim",
    "StatefulSet",
    "Deployment",
    "ReplicaSet",
    "PodDisruptionBudget",
}


class _Delete:
    """Returned by a `$patch: delete` map: the caller drops the key."""


_DELETE = _Delete()


def _list_rule(kind: str, path: tuple[str, ...]) -> tuple[bool, str | None]:
    """(merges, merge key) for the list at `path` (element indices written as `*`)."""
    if path[-2:] == ("metadata", "finalizers"):
        return True, None
    if path[-2:] == ("metadata", "ownerReferences"):
        return True, "uid"
    if path == ("status", "conditions") and kind in _CONDITION_KINDS:
        return True, "type"
    if path in _KIND_LISTS.get(kind, {}):
        return True, _KIND_LISTS[kind][path]
    prefix = _POD_SPEC_AT.get(kind)
    if prefix and path[: len(prefix)] == prefix and path[len(prefix) :] in _POD_SPEC_LISTS:
        return True, _POD_SPEC_LISTS[path[len(prefix) :]]
    return False, None


def _strip(value: Any) -> Any:
    """A patch value with its directives removed, for places where it is taken as is."""
    if isinstance(value, dict):
        return {
            k: _strip(v) for k, v in value.items() if not k.startswith("$") and not (isinstance(v, dict) and _gone(v))
        }
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("$patch"))]
    return value


def _gone(value: dict[str, Any]) -> bool:
    return value.get("$patch") == "delete"


def merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(kind: str, original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = _merge_map(kind, original, patch, ())
    if not isinstance(merged, dict):
        raise errors.bad_request("the patch deletes the whole object")
    return merged


def _merge_map(kind: str, original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return _DELETE
    if directive not in (None, "merge"):
        raise errors.bad_request(f"Unknown patch type: {directive} in map: {patch}")
    result = dict(original)
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            merged = _merge_map(kind, current if isinstance(current, dict) else {}, value, (*path, key))
            if isinstance(merged, _Delete):
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            current = result.get(key)
            result[key] = _merge_list(kind, current if isinstance(current, list) else [], value, (*path, key))
        else:
            result[key] = value
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if not isinstance(value, list):
                raise errors.bad_request("invalid patch: $deleteFromPrimitiveList must be a list")
            result[field] = [item for item in result.get(field) or [] if item not in value]
        elif key.startswith("$setElementOrder/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = _reorder(kind, result[field], value, (*path, field))
    retain = patch.get("$retainKeys")
    if retain is not None:
        if not isinstance(retain, list):
            raise errors.bad_request("invalid patch: $retainKeys must be a list")
        result = {key: value for key, value in result.items() if key in retain}
    return result


def _merge_list(kind: str, original: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    merges, merge_key = _list_rule(kind, path)
    if not merges:
        return [_strip(item) for item in patch]
    if merge_key is None:
        result = list(original)
        result.extend(item for item in patch if item not in result)
        return result
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_strip(item) for item in patch if not (isinstance(item, dict) and item.get("$patch"))]
    result = [clone(item) for item in original]
    element_path = (*path, "*")
    for item in patch:
        if not isinstance(item, dict):
            raise errors.bad_request(f"invalid patch: list {'.'.join(path)} must hold objects")
        if merge_key not in item:
            raise errors.internal(f"map: {item} does not contain declared merge key: {merge_key}")
        index = next((i for i, have in enumerate(result) if have.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            result = [have for have in result if have.get(merge_key) != item[merge_key]]
            continue
        merged = _merge_map(kind, result[index] if index is not None else {}, item, element_path)
        if index is None:
            result.append(merged)
        else:
            result[index] = merged
    return result


def _reorder(kind: str, items: list[Any], order: list[Any], path: tuple[str, ...]) -> list[Any]:
    _, merge_key = _list_rule(kind, path)

    def identity(item: Any) -> Any:
        return item.get(merge_key) if merge_key and isinstance(item, dict) else item

    wanted = {identity(item): rank for rank, item in enumerate(order)}
    ranked = sorted(enumerate(items), key=lambda pair: (wanted.get(identity(pair[1]), len(wanted)), pair[0]))
    return [item for _, item in ranked]


# --- RFC 6902 ---------------------------------------------------------------------------------------------------


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise errors.bad_request("json patch: path must be a string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.rejected_patch(f'JSON pointer must be empty or start with a "/": {path}')
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], op: str, path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise errors.rejected_patch(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return node


def _index(container: list[Any], part: str, path: str, *, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(container)
    if not part.isdigit() or (part != "0" and part.startswith("0")):
        raise errors.rejected_patch(f"Unable to access invalid index: {part}: invalid index referenced")
    index = int(part)
    if index > len(container) or (index == len(container) and not allow_end):
        raise errors.rejected_patch(f"Unable to access invalid index: {index}: invalid index referenced")
    return index


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise errors.rejected_patch(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise errors.rejected_patch(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    parts = _pointer(path)
    if not parts:
        raise errors.rejected_patch(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    parent = _parent(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise errors.rejected_patch(
                f"error in remove for path: '{path}': Unable to remove nonexistent key: {last}: missing value"
            )
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, path, allow_end=False)]
    else:
        raise errors.rejected_patch(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def json_patch(document: dict[str, Any], operations: Any) -> Any:
    """Apply RFC 6902 operations to a copy of `document`."""
    if not isinstance(operations, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc: Any = clone(document)
    for operation in operations:
        if not isinstance(operation, dict):
            raise errors.bad_request("json: cannot unmarshal into Go value of type jsonpatch.Operation")
        op, path = operation.get("op"), str(operation.get("path"))
        if op == "add":
            doc = _add(doc, path, clone(_value(operation)))
        elif op == "remove":
            doc = _remove(doc, path)
        elif op == "replace":
            _get(doc, path, "replace")
            doc = _remove(doc, path, "replace")
            doc = _add(doc, path, clone(_value(operation)), "replace")
        elif op in ("move", "copy"):
            source = str(operation.get("from"))
            value = clone(_get(doc, source, op))
            if op == "move":
                doc = _remove(doc, source, "move")
            doc = _add(doc, path, value, op)
        elif op == "test":
            try:
                actual = _get(doc, path, "test")
            except errors.ApiError:
                actual = None
            if actual != _value(operation):
                raise errors.rejected_patch(f"testing value {path} failed: test failed")
        else:
            raise errors.rejected_patch(f"Unexpected kind: {op}")
    return doc


def _value(operation: dict[str, Any]) -> Any:
    if "value" not in operation:
        raise errors.rejected_patch(f"{operation.get('op')} operation, missing value field: missing value")
    return operation["value"]
