"""Kubernetes objects as JSON, both ways (pure): raw API objects into inventory types, and the bodies Ferry
writes (a static EBS PersistentVolume, a claim, a taint list).

The adapter reads with the official client but keeps the JSON (no model deserialization: it costs more than
the request on big listings), so parsing lives here, where it is tested without a server. Parsing is
lenient about what re-homing does not need and strict about what it does: a PV whose volume cannot be
identified as EBS is "not EBS", never a guessed volume id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ferry.domain.rehoming.inventory import (
    EBS_CSI_DRIVER,
    IN_TREE_EBS,
    Claim,
    ClaimTemplate,
    Node,
    PersistentVolume,
    Pod,
    Resident,
    StatefulSet,
    Taint,
    ZoneSpread,
)

Obj = Mapping[str, Any]
ZONE_KEYS = ("topology.ebs.csi.aws.com/zone", "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
ZONE_LABEL = "topology.kubernetes.io/zone"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
_VOLUME_ID = re.compile(r"(vol-[0-9a-f]+)$")
MANAGED_LABEL = "ferry.io/managed"  # on every PV Ferry creates (value "true")
# The claimRef uid Ferry writes on a leftover PV it releases: no claim has it, so the PV controller sees the PV's
# claim as gone (Released: kept, with its volume, under Retain) and binds no claim of that name to it.
RELEASED_CLAIM_UID = "released-by-ferry"


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def instance_id(provider_id: str | None) -> str | None:
    """`aws:///us-east-1a/i-0123456789abcdef0` -> `i-0123456789abcdef0`."""
    if provider_id and provider_id.startswith("aws://"):
        return provider_id.rsplit("/", 1)[-1] or None
    return None


def parse_node(obj: Obj) -> Node:
    meta, spec = _meta(obj), _spec(obj)
    labels = meta.get("labels") or {}
    conditions = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}
    return Node(
        name=meta.get("name", ""),
        zone=labels.get(ZONE_LABEL) or labels.get("failure-domain.beta.kubernetes.io/zone"),
        instance_id=instance_id(spec.get("providerID")),
        ready=conditions.get("Ready") == "True",
        unschedulable=bool(spec.get("unschedulable")),
        control_plane=CONTROL_PLANE_LABEL in labels,
        taints=tuple(
            Taint(key=t.get("key", ""), effect=t.get("effect", ""), value=t.get("value") or "")
            for t in spec.get("taints") or []
        ),
    )


MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def parse_resident(obj: Obj) -> Resident:
    """Any pod, for a drain: its controller's kind and whether it is a mirror pod."""
    meta = _meta(obj)
    owner = next((ref.get("kind") for ref in meta.get("ownerReferences") or [] if ref.get("controller")), None)
    return Resident(
        namespace=meta.get("namespace", "default"),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        owner_kind=str(owner) if owner else None,
        mirror=MIRROR_ANNOTATION in (meta.get("annotations") or {}),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def owner_statefulset(obj: Obj) -> str | None:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == "StatefulSet":
            return str(ref.get("name"))
    return None


def parse_pod(obj: Obj) -> Pod | None:
    """A StatefulSet's pod as a pet; None for any other pod."""
    meta, spec = _meta(obj), _spec(obj)
    owner = owner_statefulset(obj)
    name = meta.get("name", "")
    if owner is None or not name.startswith(owner + "-") or not name[len(owner) + 1 :].isdigit():
        return None
    return Pod(
        namespace=meta.get("namespace", "default"),
        name=name,
        uid=meta.get("uid", ""),
        statefulset=owner,
        ordinal=int(name[len(owner) + 1 :]),
        node=spec.get("nodeName") or None,
        phase=(obj.get("status") or {}).get("phase") or "Pending",
        claims=tuple(
            v["persistentVolumeClaim"]["claimName"]
            for v in spec.get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName")
        ),
        deleting=bool(meta.get("deletionTimestamp")),
    )


def _zones_allowed(template_spec: Obj) -> frozenset[str] | None:
    """Zones a pod template's required node affinity (or nodeSelector) allows, if it pins zones at all."""
    selector = (template_spec.get("nodeSelector") or {}).get(ZONE_LABEL)
    if selector:
        return frozenset({selector})
    required = ((template_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    allowed: set[str] = set()
    for term in required.get("nodeSelectorTerms") or []:
        expressions = [e for e in term.get("matchExpressions") or [] if e.get("key") == ZONE_LABEL]
        if not expressions:
            return None  # a term that does not constrain the zone allows every zone
        for expression in expressions:
            if expression.get("operator") != "In":
                return None
            allowed |= set(expression.get("values") or [])
    return frozenset(allowed) if allowed else None


def _zone_spread(template_spec: Obj) -> ZoneSpread | None:
    """The pod template's DoNotSchedule spread over zones, if any (the tightest, when several)."""
    found = [
        ZoneSpread(int(c.get("maxSkew", 1)), c.get("nodeTaintsPolicy", "Ignore") == "Honor")
        for c in template_spec.get("topologySpreadConstraints") or []
        if c.get("topologyKey") == ZONE_LABEL and c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule"
    ]
    return min(found, key=lambda s: (s.max_skew, s.honor_taints)) if found else None


def parse_statefulset(obj: Obj) -> StatefulSet:
    meta, spec = _meta(obj), _spec(obj)
    template_spec = (spec.get("template") or {}).get("spec") or {}
    return StatefulSet(
        namespace=meta.get("namespace", "default"),
        name=meta.get("name", ""),
        annotations=meta.get("annotations") or {},
        deleting=bool(meta.get("deletionTimestamp")),
        claim_templates=tuple(
            ClaimTemplate(
                name=_meta(t).get("name", ""),
                storage_class=_spec(t).get("storageClassName"),
                request=str(((_spec(t).get("resources") or {}).get("requests") or {}).get("storage", "1Gi")),
                access_modes=tuple(_spec(t).get("accessModes") or ("ReadWriteOnce",)),
            )
            for t in spec.get("volumeClaimTemplates") or []
        ),
        selector=(spec.get("selector") or {}).get("matchLabels") or {},
        zones=_zones_allowed(template_spec),
        spread=_zone_spread(template_spec),
    )


def parse_claim(obj: Obj) -> Claim:
    meta, spec = _meta(obj), _spec(obj)
    return Claim(
        namespace=meta.get("namespace", "default"),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        volume_name=spec.get("volumeName") or None,
        storage_class=spec.get("storageClassName"),
        request=str(((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")),
        access_modes=tuple(spec.get("accessModes") or ("ReadWriteOnce",)),
        labels=meta.get("labels") or {},
        deleting=bool(meta.get("deletionTimestamp")),
    )


def _zone_affinity(spec: Obj) -> tuple[str | None, str | None]:
    required = (spec.get("nodeAffinity") or {}).get("required") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expression in term.get("matchExpressions") or []:
            values = expression.get("values") or []
            if expression.get("key") in ZONE_KEYS and expression.get("operator") == "In" and len(values) == 1:
                return str(expression["key"]), str(values[0])
    return None, None


def parse_volume(obj: Obj) -> PersistentVolume:
    meta, spec = _meta(obj), _spec(obj)
    csi = spec.get("csi") or {}
    in_tree = spec.get("awsElasticBlockStore") or {}
    volume_id = None
    driver = csi.get("driver")
    if driver == EBS_CSI_DRIVER:
        match = _VOLUME_ID.search(str(csi.get("volumeHandle", "")))
        volume_id = match.group(1) if match else None
    elif in_tree:
        driver = IN_TREE_EBS
        match = _VOLUME_ID.search(str(in_tree.get("volumeID", "")))
        volume_id = match.group(1) if match else None
    zone_key, zone = _zone_affinity(spec)
    if zone is None:
        labels = meta.get("labels") or {}
        zone_key = next((k for k in ZONE_KEYS if labels.get(k)), None)
        zone = labels.get(zone_key) if zone_key else None
    ref = spec.get("claimRef") or {}
    return PersistentVolume(
        name=meta.get("name", ""),
        reclaim_policy=spec.get("persistentVolumeReclaimPolicy", "Delete"),
        storage_class=spec.get("storageClassName", ""),
        capacity=str((spec.get("capacity") or {}).get("storage", "")),
        access_modes=tuple(spec.get("accessModes") or ("ReadWriteOnce",)),
        volume_id=volume_id,
        driver=driver,
        zone=zone,
        zone_key=zone_key,
        fs_type=csi.get("fsType") or in_tree.get("fsType"),
        volume_mode=spec.get("volumeMode", "Filesystem"),
        claim=(ref.get("namespace", ""), ref.get("name", "")) if ref.get("name") else None,
        deleting=bool(meta.get("deletionTimestamp")),
        claim_uid=ref.get("uid") or None,
        managed=(meta.get("labels") or {}).get(MANAGED_LABEL) == "true",
    )


# --- bodies Ferry writes --------------------------------------------------------------------------------------


def static_volume(
    *,
    name: str,
    volume_id: str,
    zone: str,
    zone_key: str,
    capacity: str,
    storage_class: str,
    access_modes: tuple[str, ...],
    fs_type: str | None,
    volume_mode: str,
    claim_namespace: str,
    claim_name: str,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """A PV as the EBS CSI driver writes one, pre-bound to the claim by name, Retain (Ferry's volumes are
    never deleted by Kubernetes either)."""
    csi: dict[str, Any] = {"driver": EBS_CSI_DRIVER, "volumeHandle": volume_id}
    if fs_type:
        csi["fsType"] = fs_type
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": dict(labels),
            "annotations": {"pv.kubernetes.io/provisioned-by": EBS_CSI_DRIVER},
        },
        "spec": {
            "accessModes": list(access_modes),
            "capacity": {"storage": capacity},
            "csi": csi,
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": storage_class,
            "volumeMode": volume_mode,
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": claim_namespace,
                "name": claim_name,
            },
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": zone_key, "operator": "In", "values": [zone]}]}]
                }
            },
        },
    }


def claim_body(
    *,
    namespace: str,
    name: str,
    storage_class: str | None,
    access_modes: tuple[str, ...],
    request: str,
    labels: Mapping[str, str],
    volume_name: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": list(access_modes), "resources": {"requests": {"storage": request}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    if volume_name:
        spec["volumeName"] = volume_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": spec,
    }


def csi_volume_handle(obj: Obj) -> str | None:
    return (_spec(obj).get("csi") or {}).get("volumeHandle")
