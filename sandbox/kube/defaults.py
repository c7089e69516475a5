"""Server-side defaulting and the mutating admission plugins a stock cluster runs, applied on create.

A client that creates a bare Pod gets back `restartPolicy: Always`, the default not-ready/unreachable
tolerations of 300 s, `serviceAccountName: default`, and so on; a PVC gets the default StorageClass and the
`kubernetes.io/pvc-protection` finalizer. Code written against the sandbox must see the same objects it
would see from a real server, so these are applied here, kind by kind.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.kube.objects import Obj, annotations_of, meta

DEFAULT_TOLERATION_SECONDS = 300
DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"


def _image_pull_policy(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return "IfNotPresent"
    tag = name.split(":", 1)[1] if ":" in name else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _container(container: Obj) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    if "image" in container:
        container.setdefault("imagePullPolicy", _image_pull_policy(str(container["image"])))
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")


def pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec and its containers (also used for workload pod templates)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    for field in ("containers", "initContainers"):
        for container in spec.get(field) or []:
            _container(container)


def _template(obj: Obj) -> None:
    template = obj.setdefault("spec", {}).setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec(template.setdefault("spec", {}))


def _qos_class(spec: Obj) -> str:
    requests_seen = limits_seen = False
    guaranteed = True
    for container in spec.get("containers") or []:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        requests_seen |= bool(requests)
        limits_seen |= bool(limits)
        for resource in ("cpu", "memory"):
            if resource not in limits or requests.get(resource, limits[resource]) != limits[resource]:
                guaranteed = False
    if not requests_seen and not limits_seen:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod(obj: Obj) -> None:
    pod_spec(obj.setdefault("spec", {}))


def admit_pod(obj: Obj) -> None:
    """ServiceAccount, Priority and DefaultTolerationSeconds admission, and the initial status."""
    spec = obj["spec"]
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") in (key, None, "") and t.get("effect") in ("NoExecute", None, "") for t in tolerations):
            tolerations.append(
                {
                    "key": key,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    obj["status"] = {"phase": "Pending", "qosClass": _qos_class(spec)}


def stateful_set(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    if spec["updateStrategy"].get("type") == "RollingUpdate":
        spec["updateStrategy"].setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    for template in spec.get("volumeClaimTemplates") or []:
        template.setdefault("apiVersion", "v1")
        template.setdefault("kind", "PersistentVolumeClaim")
        template.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        template.setdefault("status", {"phase": "Pending"})
    _template(obj)


def deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy["type"] = "RollingUpdate"
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)


def replica_set(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)


def persistent_volume_claim(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")


def persistent_volume(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")


def storage_class(obj: Obj) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def _protect(finalizer: str) -> Callable[[Obj], None]:
    """StorageObjectInUseProtection admission: claims and volumes in use are not deleted under a pod."""

    def admit(obj: Obj) -> None:
        obj["status"] = {"phase": "Pending"}
        finalizers = meta(obj).setdefault("finalizers", [])
        if finalizer not in finalizers:
            finalizers.append(finalizer)

    return admit


def admit_namespace(obj: Obj) -> None:
    meta(obj).setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj["status"] = {"phase": "Active"}


def is_default_class(storage_class: Obj) -> bool:
    return annotations_of(storage_class).get(DEFAULT_STORAGE_CLASS_ANNOTATION) == "true"


# Status is the controllers' to write: a new object starts with the zero status, whose non-omitempty Go
# fields still appear (and the official client insists on them: `replicas` must not be None).
ZERO_STATUS: dict[str, Obj] = {
    "StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "Deployment": {},
    "ReplicaSet": {"replicas": 0},
    "PodDisruptionBudget": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
    "VolumeAttachment": {"attached": False},
}


def reset_status(obj: Obj) -> None:
    obj["status"] = dict(ZERO_STATUS[obj["kind"]])


# Defaulting happens whenever the server decodes an object, so on updates and patches too.
DEFAULTING: dict[str, Callable[[Obj], None]] = {
    "Pod": pod,
    "StatefulSet": stateful_set,
    "Deployment": deployment,
    "ReplicaSet": replica_set,
    "PersistentVolumeClaim": persistent_volume_claim,
    "PersistentVolume": persistent_volume,
    "StorageClass": storage_class,
}

# What only happens on create: admission plugins and the strategies' PrepareForCreate.
ON_CREATE: dict[str, Callable[[Obj], None]] = {
    "Pod": admit_pod,
    "StatefulSet": reset_status,
    "Deployment": reset_status,
    "ReplicaSet": reset_status,
    "PodDisruptionBudget": reset_status,
    "VolumeAttachment": reset_status,
    "PersistentVolumeClaim": _protect(PVC_PROTECTION),
    "PersistentVolume": _protect(PV_PROTECTION),
    "Namespace": admit_namespace,
}
