"""What the workload controllers share: finding the objects they own, and the arithmetic of replicas.

Revision hashes for pod templates (`controller-revision-hash`, `pod-template-hash`), IntOrString values such
as `maxSurge: 25%` resolved against a replica count, and the Running-and-Ready test they all gate on.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from sandbox.kube.controllers import Context
from sandbox.kube.objects import (
    Obj,
    controller_of,
    is_pod_ready,
    uid_of,
)

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


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
