"""The resource types the sandbox serves, with the facts about each that the REST layer and discovery need.

One table, so that a resource is added in one place: where it lives (group, version, plural), whether it is
namespaced, which subresources and field selectors it has, and which server-side behaviours apply
(`metadata.generation`, a `status` subresource that the main endpoint may not write).
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None  # when the subresource speaks another group's kind (Scale, Eviction)
    version: str | None = None


STATUS = Subresource("status", "", ("get", "patch", "update"))
SCALE = Subresource("scale", "Scale", ("get", "patch", "update"), group="autoscaling", version="v1")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    field_labels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    generation: bool = False  # metadata.generation counts spec changes (workloads, PDBs)
    return_deleted_object: bool = False  # DELETE answers with the object instead of a Status

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`pods`, `statefulsets.apps`: how error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`Pod`, `StatefulSet.apps`: how validation errors name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def key(self) -> str:
        return self.group_resource

    def subresource(self, name: str) -> Subresource | None:
        return next((sub for sub in self.subresources if sub.name == name), None)

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None

    def supports_field(self, label: str) -> bool:
        if label == "metadata.name" or (label == "metadata.namespace" and self.namespaced):
            return True
        return label in self.field_labels


def _status_of(kind: str) -> Subresource:
    return Subresource("status", kind, STATUS.verbs)


NAMESPACES = ResourceType(
    "",
    "v1",
    "namespaces",
    "namespace",
    "Namespace",
    False,
    ("ns",),
    (_status_of("Namespace"), Subresource("finalize", "Namespace", ("update",))),
    ("status.phase",),
)
NODES = ResourceType("", "v1", "nodes", "node", "Node", False, ("no",), (_status_of("Node"),), ("spec.unschedulable",))
PODS = ResourceType(
    "",
    "v1",
    "pods",
    "pod",
    "Pod",
    True,
    ("po",),
    (
        _status_of("Pod"),
        Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
        Subresource("binding", "Binding", ("create",)),
    ),
    (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    ("all",),
    return_deleted_object=True,
)
PERSISTENT_VOLUME_CLAIMS = ResourceType(
    "",
    "v1",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    "PersistentVolumeClaim",
    True,
    ("pvc",),
    (_status_of("PersistentVolumeClaim"),),
    return_deleted_object=True,
)
PERSISTENT_VOLUMES = ResourceType(
    "",
    "v1",
    "persistentvolumes",
    "persistentvolume",
    "PersistentVolume",
    False,
    ("pv",),
    (_status_of("PersistentVolume"),),
    return_deleted_object=True,
)
EVENTS = ResourceType(
    "",
    "v1",
    "events",
    "event",
    "Event",
    True,
    ("ev",),
    (),
    (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
)
STATEFUL_SETS = ResourceType(
    "apps",
    "v1",
    "statefulsets",
    "statefulset",
    "StatefulSet",
    True,
    ("sts",),
    (_status_of("StatefulSet"), SCALE),
    (),
    ("all",),
    generation=True,
)
DEPLOYMENTS = ResourceType(
    "apps",
    "v1",
    "deployments",
    "deployment",
    "Deployment",
    True,
    ("deploy",),
    (_status_of("Deployment"), SCALE),
    (),
    ("all",),
    generation=True,
)
REPLICA_SETS = ResourceType(
    "apps",
    "v1",
    "replicasets",
    "replicaset",
    "ReplicaSet",
    True,
    ("rs",),
    (_status_of("ReplicaSet"), SCALE),
    ("status.replicas",),
    ("all",),
    generation=True,
)
POD_DISRUPTION_BUDGETS = ResourceType(
    "policy",
    "v1",
    "poddisruptionbudgets",
    "poddisruptionbudget",
    "PodDisruptionBudget",
    True,
    ("pdb",),
    (_status_of("PodDisruptionBudget"),),
    generation=True,
)
LEASES = ResourceType("coordination.k8s.io", "v1", "leases", "lease", "Lease", True)
VOLUME_ATTACHMENTS = ResourceType(
    "storage.k8s.io",
    "v1",
    "volumeattachments",
    "volumeattachment",
    "VolumeAttachment",
    False,
    (),
    (_status_of("VolumeAttachment"),),
)
STORAGE_CLASSES = ResourceType("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", False, ("sc",))

RESOURCES: tuple[ResourceType, ...] = (
    NAMESPACES,
    NODES,
    PODS,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    EVENTS,
    STATEFUL_SETS,
    DEPLOYMENTS,
    REPLICA_SETS,
    POD_DISRUPTION_BUDGETS,
    LEASES,
    VOLUME_ATTACHMENTS,
    STORAGE_CLASSES,
)

_BY_PATH = {(rt.group, rt.version, rt.plural): rt for rt in RESOURCES}
_BY_KIND = {rt.kind: rt for rt in RESOURCES}


def by_path(group: str, version: str, plural: str) -> ResourceType | None:
    return _BY_PATH.get((group, version, plural))


def by_kind(kind: str, api_version: str | None = None) -> ResourceType:
    """The served type of a Kind (`Pod`, `StatefulSet`); KeyError if the sandbox does not serve it."""
    rt = _BY_KIND.get(kind)
    if rt is None or (api_version is not None and api_version != rt.api_version):
        raise KeyError(f"the sandbox does not serve {api_version + ' ' if api_version else ''}{kind}")
    return rt


def groups() -> dict[str, list[str]]:
    """Group name -> served versions, in the order discovery lists them."""
    served: dict[str, list[str]] = {}
    for rt in RESOURCES:
        if rt.group and rt.version not in served.setdefault(rt.group, []):
            served[rt.group].append(rt.version)
    return served
