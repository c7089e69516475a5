"""Small helpers over raw API objects (plain JSON dicts), shared by the REST layer and the controllers.

Stored objects are never mutated in place: readers (list responses, controllers) hold references to them
without copying, so every writer clones first (`clone` is a JSON-only deep copy, several times faster
than `copy.deepcopy`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

Obj = dict[str, Any]

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
EBS_ZONE_LABEL = "topology.ebs.csi.aws.com/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
EBS_DRIVER = "ebs.csi.aws.com"


def clone(value: Any) -> Any:
    """Deep copy of JSON data (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {k: clone(v) if isinstance(v, dict | list) else v for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) if isinstance(v, dict | list) else v for v in value]
    return value


def without_nulls(value: Any) -> Any:
    """A decoded body as the server sees it: a JSON null is the field's zero value, which is left out."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def fmt_time(moment: datetime) -> str:
    """metav1.Time: RFC 3339, whole seconds, UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_micro_time(moment: datetime) -> str:
    """metav1.MicroTime (Lease renewTime, Event eventTime): RFC 3339 with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def meta(obj: Obj) -> Obj:
    metadata: Obj = obj.setdefault("metadata", {})
    return metadata


def name_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("name", ""))


def namespace_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("namespace", ""))


def labels_of(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def annotations_of(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def uid_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("uid", ""))


def is_deleting(obj: Obj) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def controller_of(obj: Obj) -> Obj | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_reference(owner: Obj, *, controller: bool = True) -> Obj:
    ref: Obj = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name_of(owner),
        "uid": uid_of(owner),
    }
    if controller:
        ref["controller"] = True
        ref["blockOwnerDeletion"] = True
    return ref


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def set_condition(status: Obj, new: Obj, now: str) -> bool:
    """Put a condition into `status.conditions`; lastTransitionTime moves only when the status does.

    Returns whether anything changed (so controllers write only real changes).
    """
    conditions: list[Obj] = status.setdefault("conditions", [])
    for index, current in enumerate(conditions):
        if current.get("type") != new["type"]:
            continue
        merged = {**current, **new}
        if current.get("status") != new.get("status"):
            merged["lastTransitionTime"] = now
        else:
            merged["lastTransitionTime"] = current.get("lastTransitionTime", now)
        if merged == current:
            return False
        conditions[index] = merged
        return True
    conditions.append({"lastTransitionTime": now, **new})
    return True


# --- pods -------------------------------------------------------------------------------------------------------


def is_pod_ready(pod: Obj) -> bool:
    ready = condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


def is_pod_terminal(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def is_pod_active(pod: Obj) -> bool:
    """Counted by the workload controllers: not terminal and not being deleted."""
    return not is_pod_terminal(pod) and not is_deleting(pod)


def pod_claim_names(pod: Obj) -> list[str]:
    return [
        volume["persistentVolumeClaim"]["claimName"]
        for volume in pod.get("spec", {}).get("volumes") or []
        if volume.get("persistentVolumeClaim", {}).get("claimName")
    ]


# --- nodes ------------------------------------------------------------------------------------------------------


def node_zone(node: Obj) -> str:
    return labels_of(node).get(ZONE_LABEL, "")


def node_ready_status(node: Obj) -> str:
    ready = condition(node, "Ready")
    return str(ready.get("status", "Unknown")) if ready else "Unknown"


def has_taint(node: Obj, key: str, effect: str | None = None) -> bool:
    return any(
        taint.get("key") == key and (effect is None or taint.get("effect") == effect)
        for taint in node.get("spec", {}).get("taints") or []
    )


# --- quantities -------------------------------------------------------------------------------------------------

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[KMGTPE]i?|[mkMGTPE]|n|u)?$")
_SUFFIXES: dict[str, int | Decimal] = {
    "": 1,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def parse_quantity(text: str | int | float) -> Decimal:
    """A resource.Quantity ("10Gi", "500m", "1e3") as a number; ValueError if it is not one."""
    if isinstance(text, int | float):
        return Decimal(str(text))
    match = _QUANTITY.match(text.strip())
    if not match:
        raise ValueError(f"quantities must match the regular expression '{_QUANTITY.pattern}'")
    number, suffix = match.group(1), match.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return Decimal(number) * Decimal(10) ** int(suffix[1:])
    return Decimal(number) * Decimal(_SUFFIXES[suffix])


def gib_ceil(quantity: str) -> int:
    """Bytes rounded up to whole GiB, as the EBS driver sizes volumes (at least 1)."""
    return max(math.ceil(parse_quantity(quantity) / Decimal(2**30)), 1)
