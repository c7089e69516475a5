"""Validation on create and update, kind by kind, with the field paths and wording of `pkg/apis/*/validation`.

The API server is where bad objects are stopped: a pod without containers, a StatefulSet whose selector
does not match its template, an edit of an immutable field. Each check here returns `FieldError`s; the
registry turns them into one 422 Invalid `Status` naming every failing field, as the real server does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.kube.errors import FieldError, GoValue, go_map
from sandbox.kube.objects import Obj, clone, parse_quantity
from sandbox.kube.selectors import SelectorError, from_label_selector, label_key_problem, label_value_problem

Errors = list[FieldError]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
IMMUTABLE = "field is immutable"


def _supported(values: tuple[str, ...]) -> str:
    return "supported values: " + ", ".join(f'"{value}"' for value in values)


def dns_label_problem(name: str) -> str | None:
    if len(name) > 63:
        return "must be no more than 63 characters"
    return None if _DNS_LABEL.match(name) else DNS_LABEL_MESSAGE


def dns_subdomain_problem(name: str) -> str | None:
    if len(name) > 253:
        return "must be no more than 253 characters"
    return None if _DNS_SUBDOMAIN.match(name) else DNS_SUBDOMAIN_MESSAGE


# --- metadata ---------------------------------------------------------------------------------------------------


def object_meta(obj: Obj, *, name_is_label: bool = False) -> Errors:
    errors: Errors = []
    metadata = obj.get("metadata") or {}
    name = metadata.get("name", "")
    check = dns_label_problem if name_is_label else dns_subdomain_problem
    if not name:
        errors.append(FieldError("metadata.name", "Required", "name or generateName is required"))
    elif problem := check(name):
        errors.append(FieldError("metadata.name", "Invalid", problem, name))
    generate = metadata.get("generateName")
    if generate and (problem := check(generate.rstrip("-") or "x")):
        errors.append(FieldError("metadata.generateName", "Invalid", problem, generate))
    for key, value in (metadata.get("labels") or {}).items():
        if problem := label_key_problem(key):
            errors.append(FieldError("metadata.labels", "Invalid", problem, key))
        if not isinstance(value, str) or (problem := label_value_problem(value)):
            errors.append(FieldError("metadata.labels", "Invalid", problem or "must be a string", value))
    for key in metadata.get("annotations") or {}:
        if problem := label_key_problem(key):
            errors.append(FieldError("metadata.annotations", "Invalid", problem, key))
    return errors


# --- pods -------------------------------------------------------------------------------------------------------


def _containers(containers: Any, path: str, volume_names: set[str], *, required: bool) -> Errors:
    errors: Errors = []
    if not containers:
        if required:
            errors.append(FieldError(path, "Required"))
        return errors
    seen: set[str] = set()
    for index, container in enumerate(containers):
        at = f"{path}[{index}]"
        name = container.get("name", "")
        if not name:
            errors.append(FieldError(f"{at}.name", "Required"))
        elif problem := dns_label_problem(name):
            errors.append(FieldError(f"{at}.name", "Invalid", problem, name))
        elif name in seen:
            errors.append(FieldError(f"{at}.name", "Duplicate", value=name))
        seen.add(name)
        if not container.get("image"):
            errors.append(FieldError(f"{at}.image", "Required"))
        for mount_index, mount in enumerate(container.get("volumeMounts") or []):
            mount_at = f"{at}.volumeMounts[{mount_index}]"
            if not mount.get("name"):
                errors.append(FieldError(f"{mount_at}.name", "Required"))
            elif mount["name"] not in volume_names:
                errors.append(FieldError(f"{mount_at}.name", "NotFound", value=mount["name"]))
            if not mount.get("mountPath"):
                errors.append(FieldError(f"{mount_at}.mountPath", "Required"))
    return errors


def tolerations(items: Any, path: str) -> Errors:
    errors: Errors = []
    for index, toleration in enumerate(items or []):
        at = f"{path}[{index}]"
        operator = toleration.get("operator") or "Equal"
        if operator not in ("Equal", "Exists"):
            errors.append(FieldError(f"{at}.operator", "NotSupported", _supported(("Equal", "Exists")), operator))
        if operator == "Exists" and toleration.get("value"):
            errors.append(
                FieldError(f"{at}.operator", "Invalid", "value must be empty when `operator` is 'Exists'", operator)
            )
        if not toleration.get("key") and operator != "Exists":
            errors.append(
                FieldError(f"{at}.operator", "Invalid", "operator must be Exists when `key` is empty", operator)
            )
        effect = toleration.get("effect") or ""
        if effect and effect not in TAINT_EFFECTS:
            errors.append(FieldError(f"{at}.effect", "NotSupported", _supported(TAINT_EFFECTS), effect))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errors.append(
                FieldError(
                    f"{at}.effect", "Invalid", "effect must be 'NoExecute' when `tolerationSeconds` is set", effect
                )
            )
    return errors


def pod_spec(spec: Obj, path: str) -> Errors:
    errors: Errors = []
    volume_names: set[str] = set()
    for index, volume in enumerate(spec.get("volumes") or []):
        at = f"{path}.volumes[{index}]"
        name = volume.get("name", "")
        if not name:
            errors.append(FieldError(f"{at}.name", "Required"))
        elif name in volume_names:
            errors.append(FieldError(f"{at}.name", "Duplicate", value=name))
        volume_names.add(name)
        claim = volume.get("persistentVolumeClaim")
        if claim is not None and not claim.get("claimName"):
            errors.append(FieldError(f"{at}.persistentVolumeClaim.claimName", "Required"))
    errors += _containers(spec.get("containers"), f"{path}.containers", volume_names, required=True)
    errors += _containers(spec.get("initContainers"), f"{path}.initContainers", volume_names, required=False)
    policy = spec.get("restartPolicy", "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        errors.append(
            FieldError(f"{path}.restartPolicy", "NotSupported", _supported(("Always", "OnFailure", "Never")), policy)
        )
    errors += tolerations(spec.get("tolerations"), f"{path}.tolerations")
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or grace < 0):
        errors.append(
            FieldError(f"{path}.terminationGracePeriodSeconds", "Invalid", "must be greater than or equal to 0", grace)
        )
    return errors


POD_UPDATABLE = (
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def _changed_fields(old: Obj, new: Obj) -> str:
    keys = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
    return "\n".join(f"  {key}: {old.get(key)!r} -> {new.get(key)!r}" for key in keys)


def _pod_update(new: Obj, old: Obj) -> Errors:
    errors: Errors = []
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    munged = clone(old_spec)
    for field in ("containers", "initContainers"):
        old_list, new_list = munged.get(field) or [], new_spec.get(field) or []
        if len(old_list) == len(new_list):
            for have, want in zip(old_list, new_list, strict=True):
                if "image" in want:
                    have["image"] = want["image"]
    if "activeDeadlineSeconds" in new_spec:
        munged["activeDeadlineSeconds"] = new_spec["activeDeadlineSeconds"]
    old_tolerations, new_tolerations = old_spec.get("tolerations") or [], new_spec.get("tolerations") or []
    if all(toleration in new_tolerations for toleration in old_tolerations):
        munged["tolerations"] = new_tolerations
    elif old_tolerations != new_tolerations:
        errors.append(
            FieldError(
                "spec.tolerations", "Forbidden", "existing toleration can not be modified except its tolerationSeconds"
            )
        )
        munged["tolerations"] = new_tolerations
    old_gates, new_gates = old_spec.get("schedulingGates") or [], new_spec.get("schedulingGates") or []
    if all(gate in old_gates for gate in new_gates):
        munged["schedulingGates"] = new_gates
        if not new_gates:
            munged.pop("schedulingGates", None)
    if old_spec.get("terminationGracePeriodSeconds", 0) < 0 and new_spec.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = 1
    if munged != new_spec and not errors:
        errors.append(
            FieldError(
                "spec",
                "Forbidden",
                f"pod updates may not change fields other than {POD_UPDATABLE}\n{_changed_fields(munged, new_spec)}",
            )
        )
    return errors + pod_spec(new_spec, "spec")


# --- workloads --------------------------------------------------------------------------------------------------


def _selector_and_template(obj: Obj, kind_name: str, *, validate_pod_spec: bool = True) -> Errors:
    errors: Errors = []
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if selector is None:
        errors.append(FieldError("spec.selector", "Required"))
    else:
        try:
            parsed = from_label_selector(selector)
        except SelectorError as problem:
            errors.append(FieldError("spec.selector", "Invalid", str(problem), GoValue("v1.LabelSelector{...}")))
        else:
            if parsed.empty:
                errors.append(
                    FieldError(
                        "spec.selector",
                        "Invalid",
                        f"empty selector is invalid for {kind_name}",
                        GoValue("v1.LabelSelector{MatchLabels:map[string]string(nil)}"),
                    )
                )
            template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not parsed.empty and not parsed.matches(template_labels):
                errors.append(
                    FieldError(
                        "spec.template.metadata.labels",
                        "Invalid",
                        "`selector` does not match template `labels`",
                        go_map(template_labels),
                    )
                )
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        errors.append(FieldError("spec.replicas", "Invalid", "must be greater than or equal to 0", replicas))
    template_spec = (spec.get("template") or {}).get("spec") or {}
    if validate_pod_spec:
        errors += pod_spec(template_spec, "spec.template.spec")
    policy = template_spec.get("restartPolicy", "Always")
    if policy != "Always":
        errors.append(FieldError("spec.template.spec.restartPolicy", "NotSupported", _supported(("Always",)), policy))
    return errors


def _stateful_set(obj: Obj) -> Errors:
    # The real server does not validate a StatefulSet's pod template spec (its volumeMounts may name claim
    # templates, which are no volumes of the template); a bad template fails later, at pod creation.
    errors = _selector_and_template(obj, "statefulset", validate_pod_spec=False)
    spec = obj.get("spec") or {}
    policy = spec.get("podManagementPolicy", "OrderedReady")
    if policy not in ("OrderedReady", "Parallel"):
        errors.append(FieldError("spec.podManagementPolicy", "Invalid", "must be 'OrderedReady' or 'Parallel'", policy))
    for index, template in enumerate(spec.get("volumeClaimTemplates") or []):
        at = f"spec.volumeClaimTemplates[{index}]"
        if not (template.get("metadata") or {}).get("name"):
            errors.append(FieldError(f"{at}.metadata.name", "Required", "name or generateName is required"))
        errors += _claim_spec(template.get("spec") or {}, f"{at}.spec")
    return errors


STATEFUL_SET_UPDATABLE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)


def _stateful_set_update(new: Obj, old: Obj) -> Errors:
    mutable = (
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    )
    frozen_old = {k: v for k, v in (old.get("spec") or {}).items() if k not in mutable}
    frozen_new = {k: v for k, v in (new.get("spec") or {}).items() if k not in mutable}
    errors = [] if frozen_old == frozen_new else [FieldError("spec", "Forbidden", STATEFUL_SET_UPDATABLE)]
    return errors + _stateful_set(new)


def _deployment(obj: Obj) -> Errors:
    errors = _selector_and_template(obj, "deployment")
    strategy = ((obj.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate")
    if strategy not in ("RollingUpdate", "Recreate"):
        errors.append(
            FieldError("spec.strategy.type", "NotSupported", _supported(("Recreate", "RollingUpdate")), strategy)
        )
    return errors


def _immutable_selector(new: Obj, old: Obj) -> Errors:
    old_selector, new_selector = (old.get("spec") or {}).get("selector"), (new.get("spec") or {}).get("selector")
    if old_selector != new_selector:
        labels = (new_selector or {}).get("matchLabels") or {}
        rendered = GoValue(
            f"v1.LabelSelector{{MatchLabels:{go_map(labels)}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}"
        )
        return [FieldError("spec.selector", "Invalid", IMMUTABLE, rendered)]
    return []


def _replica_set(obj: Obj) -> Errors:
    return _selector_and_template(obj, "replicaset")


# --- storage ----------------------------------------------------------------------------------------------------


def _claim_spec(spec: Obj, path: str) -> Errors:
    errors: Errors = []
    modes = spec.get("accessModes") or []
    if not modes:
        errors.append(FieldError(f"{path}.accessModes", "Required", "at least 1 access mode is required"))
    for mode in modes:
        if mode not in ACCESS_MODES:
            errors.append(FieldError(f"{path}.accessModes", "NotSupported", _supported(ACCESS_MODES), mode))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        errors.append(FieldError(f"{path}.resources[storage]", "Required"))
    else:
        try:
            if parse_quantity(storage) <= 0:
                errors.append(
                    FieldError(f"{path}.resources[storage]", "Invalid", "must be greater than zero", str(storage))
                )
        except ValueError as problem:
            errors.append(FieldError(f"{path}.resources[storage]", "Invalid", str(problem), str(storage)))
    return errors


def _claim(obj: Obj) -> Errors:
    return _claim_spec(obj.get("spec") or {}, "spec")


def _claim_update(new: Obj, old: Obj) -> Errors:
    errors = _claim(new)
    old_spec, new_spec = clone(old.get("spec") or {}), clone(new.get("spec") or {})
    if not old_spec.get("volumeName"):
        old_spec["volumeName"] = new_spec.get("volumeName")
        if old_spec["volumeName"] is None:
            del old_spec["volumeName"]
    bound = (old.get("status") or {}).get("phase") == "Bound"
    if bound:
        old_request = old_spec.get("resources", {}).get("requests", {}).get("storage")
        new_request = new_spec.get("resources", {}).get("requests", {}).get("storage")
        if old_request and new_request and parse_quantity(new_request) < parse_quantity(old_request):
            errors.append(
                FieldError("spec.resources.requests.storage", "Forbidden", "field can not be less than previous value")
            )
        for spec in (old_spec, new_spec):
            spec.get("resources", {}).pop("requests", None)
            spec.pop("volumeAttributesClassName", None)
    if old_spec != new_spec:
        errors.append(
            FieldError(
                "spec",
                "Forbidden",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for "
                f"bound claims\n{_changed_fields(old_spec, new_spec)}",
            )
        )
    return errors


_VOLUME_SOURCES = (
    "csi",
    "awsElasticBlockStore",
    "hostPath",
    "local",
    "nfs",
    "iscsi",
    "fc",
    "gcePersistentDisk",
    "azureDisk",
    "azureFile",
    "cephfs",
    "rbd",
    "cinder",
    "flexVolume",
    "vsphereVolume",
)


def _volume(obj: Obj) -> Errors:
    errors: Errors = []
    spec = obj.get("spec") or {}
    if not (spec.get("capacity") or {}).get("storage"):
        errors.append(FieldError("spec.capacity", "Required"))
    if not spec.get("accessModes"):
        errors.append(FieldError("spec.accessModes", "Required"))
    for mode in spec.get("accessModes") or []:
        if mode not in ACCESS_MODES:
            errors.append(FieldError("spec.accessModes", "NotSupported", _supported(ACCESS_MODES), mode))
    sources = [source for source in _VOLUME_SOURCES if spec.get(source) is not None]
    if not sources:
        errors.append(FieldError("spec", "Required", "must specify a volume type"))
    elif len(sources) > 1:
        errors.append(FieldError(f"spec.{sources[1]}", "Forbidden", "may not specify more than 1 volume type"))
    csi = spec.get("csi")
    if csi is not None:
        for field in ("driver", "volumeHandle"):
            if not csi.get(field):
                errors.append(FieldError(f"spec.csi.{field}", "Required"))
    policy = spec.get("persistentVolumeReclaimPolicy", "Retain")
    if policy not in ("Retain", "Delete", "Recycle"):
        errors.append(
            FieldError(
                "spec.persistentVolumeReclaimPolicy",
                "NotSupported",
                _supported(("Delete", "Recycle", "Retain")),
                policy,
            )
        )
    affinity = spec.get("nodeAffinity")
    if affinity is not None and not (affinity.get("required") or {}).get("nodeSelectorTerms"):
        errors.append(
            FieldError(
                "spec.nodeAffinity.required.nodeSelectorTerms", "Required", "must have at least one node selector term"
            )
        )
    return errors


def _volume_update(new: Obj, old: Obj) -> Errors:
    errors = _volume(new)
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if any(old_spec.get(source) != new_spec.get(source) for source in _VOLUME_SOURCES):
        errors.append(
            FieldError("spec.persistentvolumesource", "Forbidden", "spec.persistentvolumesource is forbidden.")
        )
    if old_spec.get("nodeAffinity") is not None and old_spec.get("nodeAffinity") != new_spec.get("nodeAffinity"):
        errors.append(FieldError("spec.nodeAffinity", "Invalid", IMMUTABLE, new_spec.get("nodeAffinity")))
    if old_spec.get("volumeMode") != new_spec.get("volumeMode"):
        errors.append(FieldError("spec.volumeMode", "Invalid", IMMUTABLE, new_spec.get("volumeMode")))
    return errors


def _attachment(obj: Obj) -> Errors:
    errors: Errors = []
    spec = obj.get("spec") or {}
    for field in ("attacher", "nodeName"):
        if not spec.get(field):
            errors.append(FieldError(f"spec.{field}", "Required"))
    source = spec.get("source") or {}
    if bool(source.get("persistentVolumeName")) == bool(source.get("inlineVolumeSpec")):
        errors.append(
            FieldError(
                "spec.source", "Required", "must specify exactly one of inlineVolumeSpec and persistentVolumeName"
            )
        )
    return errors


def _attachment_update(new: Obj, old: Obj) -> Errors:
    errors = _attachment(new)
    if new.get("spec") != old.get("spec"):
        errors.append(FieldError("spec", "Invalid", IMMUTABLE, GoValue("storage.VolumeAttachmentSpec{...}")))
    return errors


def _storage_class(obj: Obj) -> Errors:
    errors: Errors = [] if obj.get("provisioner") else [FieldError("provisioner", "Required")]
    mode = obj.get("volumeBindingMode", "Immediate")
    if mode not in ("Immediate", "WaitForFirstConsumer"):
        errors.append(
            FieldError("volumeBindingMode", "NotSupported", _supported(("Immediate", "WaitForFirstConsumer")), mode)
        )
    return errors


def _storage_class_update(new: Obj, old: Obj) -> Errors:
    errors = _storage_class(new)
    for field in ("parameters", "provisioner", "reclaimPolicy"):
        if new.get(field) != old.get(field):
            errors.append(FieldError(field, "Forbidden", f"updates to {field} are forbidden."))
    if new.get("volumeBindingMode") != old.get("volumeBindingMode"):
        errors.append(FieldError("volumeBindingMode", "Forbidden", IMMUTABLE))
    return errors


# --- the rest ---------------------------------------------------------------------------------------------------


def _node(obj: Obj) -> Errors:
    errors: Errors = []
    seen: set[tuple[str, str]] = set()
    for index, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
        at = f"spec.taints[{index}]"
        key, effect = taint.get("key", ""), taint.get("effect", "")
        if not key:
            errors.append(FieldError(f"{at}.key", "Required"))
        elif problem := label_key_problem(key):
            errors.append(FieldError(f"{at}.key", "Invalid", problem, key))
        if effect not in TAINT_EFFECTS:
            errors.append(
                FieldError(f"{at}.effect", "Required")
                if not effect
                else FieldError(f"{at}.effect", "NotSupported", _supported(TAINT_EFFECTS), effect)
            )
        if (key, effect) in seen:
            errors.append(
                FieldError(
                    f"spec.taints[{index}]",
                    "Duplicate",
                    "taints must be unique by key and effect pair",
                    GoValue(f"core.Taint{{Key:{key!r}, Effect:{effect!r}}}"),
                )
            )
        seen.add((key, effect))
    return errors


def _node_update(new: Obj, old: Obj) -> Errors:
    errors = _node(new)
    old_id, new_id = (old.get("spec") or {}).get("providerID"), (new.get("spec") or {}).get("providerID")
    if old_id and old_id != new_id:
        errors.append(
            FieldError("spec.providerID", "Forbidden", 'node updates may not change providerID except from "" to valid')
        )
    return errors


def _budget(obj: Obj) -> Errors:
    spec = obj.get("spec") or {}
    errors: Errors = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errors.append(
            FieldError(
                "spec",
                "Invalid",
                "minAvailable and maxUnavailable cannot be both set",
                GoValue("policy.PodDisruptionBudgetSpec{...}"),
            )
        )
    for field in ("minAvailable", "maxUnavailable"):
        value = spec.get(field)
        if isinstance(value, int) and value < 0:
            errors.append(FieldError(f"spec.{field}", "Invalid", "must be greater than or equal to 0", value))
        if isinstance(value, str) and not re.fullmatch(r"[0-9]+%", value):
            errors.append(
                FieldError(
                    f"spec.{field}",
                    "Invalid",
                    "a valid percent string must be a numeric string followed by an ending '%' "
                    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                    value,
                )
            )
    try:
        from_label_selector(spec.get("selector") or {})
    except SelectorError as problem:
        errors.append(FieldError("spec.selector", "Invalid", str(problem), GoValue("v1.LabelSelector{...}")))
    return errors


def _lease(obj: Obj) -> Errors:
    duration = (obj.get("spec") or {}).get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        return [FieldError("spec.leaseDurationSeconds", "Invalid", "must be greater than 0", duration)]
    return []


def _event(obj: Obj) -> Errors:
    involved = obj.get("involvedObject") or {}
    namespace = (obj.get("metadata") or {}).get("namespace", "")
    if involved.get("namespace") and involved["namespace"] != namespace:
        return [
            FieldError("involvedObject.namespace", "Invalid", "does not match event.namespace", involved["namespace"])
        ]
    return []


def _none(obj: Obj) -> Errors:
    return []


ON_CREATE: dict[str, Callable[[Obj], Errors]] = {
    "Pod": lambda obj: pod_spec(obj.get("spec") or {}, "spec"),
    "StatefulSet": _stateful_set,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "PersistentVolumeClaim": _claim,
    "PersistentVolume": _volume,
    "VolumeAttachment": _attachment,
    "StorageClass": _storage_class,
    "Node": _node,
    "PodDisruptionBudget": _budget,
    "Lease": _lease,
    "Event": _event,
}

ON_UPDATE: dict[str, Callable[[Obj, Obj], Errors]] = {
    "Pod": _pod_update,
    "StatefulSet": _stateful_set_update,
    "Deployment": lambda new, old: _immutable_selector(new, old) + _deployment(new),
    "ReplicaSet": lambda new, old: _immutable_selector(new, old) + _replica_set(new),
    "PersistentVolumeClaim": _claim_update,
    "PersistentVolume": _volume_update,
    "VolumeAttachment": _attachment_update,
    "StorageClass": _storage_class_update,
    "Node": _node_update,
    "PodDisruptionBudget": lambda new, old: _budget(new),
    "Lease": lambda new, old: _lease(new),
    "Event": lambda new, old: _event(new),
}


def validate_create(kind: str, obj: Obj) -> Errors:
    return object_meta(obj, name_is_label=kind == "Namespace") + ON_CREATE.get(kind, _none)(obj)


def validate_update(kind: str, new: Obj, old: Obj) -> Errors:
    errors = object_meta(new, name_is_label=kind == "Namespace")
    update = ON_UPDATE.get(kind)
    return errors + (update(new, old) if update else [])
