"""Readiness benchmark: "what if each of 3 zones failed now" over 10 clusters of 300 nodes and 200 pets each.

The readiness step (`ferry.services.readiness.Readiness.assess`) runs whole, with its real adapters
(`KubeWriter`'s parsing aside, which a fake replaces: each listing is served as the JSON text an API server
would send and decoded on every call, as the real adapter decodes it), its real EC2 adapters over a fake EC2
client answering the batched describes (instances with their tags, volumes, snapshots), and fakes for the
table and the topic. Nothing runs but Ferry, so the wall time is Ferry's own time.

Per cluster: 300 nodes (100 per zone), 200 pets (20 StatefulSets of 10, spread over the zones, each with a
request and a claim), two other pods per node (what each node already holds), 20 PodDisruptionBudgets, one
SelfSubjectRulesReview. Reported: the CPU time of one assessment (median of 3; target < 5 s; every thread of
the process is Ferry's, the fakes answer from memory) and its wall time, its peak of Python memory (tracemalloc,
a separate run; target < 256 MB) and the process's peak RSS, and the Kubernetes calls per cluster, which must not
grow with nodes or pets.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import statistics
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

# isort: off
from sandbox import lambdas  # noqa: F401  (first: puts Ferry's layer on sys.path for `python -m bench`)

# isort: on
from ferry.adapters.states import RegionSnapshot
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.detection.regions import RegionState
from ferry.domain.federation.apps import FederatedApp, Placement
from ferry.domain.modes import Mode
from ferry.domain.readiness_inputs import REQUIRED
from ferry.domain.rehoming.policies import RehomeLimits
from ferry.services.readiness import Readiness
from ferry.services.settings.rehoming import RehomeSettings

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CLUSTERS = 10
NODES = 300
PETS = 200
SETS = 20
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
ZONE_LABEL = "topology.kubernetes.io/zone"


def _node(cluster: int, index: int) -> dict[str, Any]:
    zone = ZONES[index % 3]
    return {
        "metadata": {"name": f"n{index}", "labels": {ZONE_LABEL: zone}},
        "spec": {"providerID": f"aws:///{zone}/i-{cluster:04x}{index:013x}"},
        "status": {
            "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def _pet(s: int, ordinal: int) -> dict[str, Any]:
    name, node = f"app{s}", (s * 10 + ordinal) * 3 // 2 % NODES
    return {
        "metadata": {
            "namespace": "shop",
            "name": f"{name}-{ordinal}",
            "uid": f"uid-{name}-{ordinal}",
            "labels": {"app": name, "statefulset.kubernetes.io/pod-name": f"{name}-{ordinal}"},
            "ownerReferences": [{"kind": "StatefulSet", "name": name, "controller": True}],
        },
        "spec": {
            "nodeName": f"n{node}",
            "containers": [{"name": "db", "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{name}-{ordinal}"}}],
        },
        "status": {"phase": "Running"},
    }


def _other(index: int, copy: int) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "web", "name": f"web-{index}-{copy}", "labels": {"app": "web"}},
        "spec": {
            "nodeName": f"n{index}",
            "containers": [{"resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}],
        },
        "status": {"phase": "Running"},
    }


def _volume_id(cluster: int, s: int, ordinal: int) -> str:
    return f"vol-{cluster:04x}{s:04x}{ordinal:09x}"


def listings(cluster: int) -> dict[str, bytes]:
    """Each listing as the API server's JSON text (one page: the sandbox pages at 500, the count stays bounded)."""
    pets = [_pet(s, o) for s in range(SETS) for o in range(PETS // SETS)]
    zone_of = {f"n{i}": ZONES[i % 3] for i in range(NODES)}
    statefulsets = [
        {
            "metadata": {
                "namespace": "shop",
                "name": f"app{s}",
                "annotations": {"ferry.io/rehome": "snapshot", "ferry.io/max-rpo": "15m"},
            },
            "spec": {
                "selector": {"matchLabels": {"app": f"app{s}"}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"storageClassName": "ebs-sc"}}],
            },
        }
        for s in range(SETS)
    ]
    claims, volumes = [], []
    for pet in pets:
        name, ordinal = pet["metadata"]["name"].rsplit("-", 1)
        claim = f"data-{name}-{ordinal}"
        zone = zone_of[pet["spec"]["nodeName"]]
        claims.append(
            {
                "metadata": {"namespace": "shop", "name": claim, "uid": f"uid-{claim}"},
                "spec": {"volumeName": f"pv-{claim}"},
            }
        )
        volumes.append(
            {
                "metadata": {"name": f"pv-{claim}"},
                "spec": {
                    "csi": {
                        "driver": "ebs.csi.aws.com",
                        "volumeHandle": _volume_id(cluster, int(name[3:]), int(ordinal)),
                    },
                    "claimRef": {"namespace": "shop", "name": claim, "uid": f"uid-{claim}"},
                    "nodeAffinity": {
                        "required": {
                            "nodeSelectorTerms": [
                                {"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": [zone]}]}
                            ]
                        }
                    },
                },
            }
        )
    budgets = [
        {
            "metadata": {"namespace": "shop", "name": f"app{s}"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": f"app{s}"}}},
        }
        for s in range(SETS)
    ]
    rules = {
        "status": {
            "resourceRules": [
                {"verbs": [n.verb], "apiGroups": [n.group], "resources": [n.resource]}
                for n in REQUIRED
                if not n.resource.startswith("/")
            ],
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/readyz", "/version"]}],
        }
    }
    pods = pets + [_other(i, c) for i in range(NODES) for c in range(2)]

    def text(items: Any) -> bytes:
        return json.dumps({"items": items} if isinstance(items, list) else items).encode()

    return {
        "nodes": text([_node(cluster, i) for i in range(NODES)]),
        "pods": text(pods),
        "statefulsets": text(statefulsets),
        "claims": text(claims),
        "volumes": text(volumes),
        "budgets": text(budgets),
        "rules": text(rules),
    }


class FakeKube:
    """The `KubeWriter` calls readiness makes, answered from canned JSON (decoded per call), each counted."""

    def __init__(self, name: str, served: dict[str, bytes], calls: Counter[str]) -> None:
        self.cluster, self._served, self._calls = name, served, calls

    def __enter__(self) -> FakeKube:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def _items(self, what: str) -> list[dict[str, Any]]:
        self._calls[f"{self.cluster} {what}"] += 1
        return list(json.loads(self._served[what])["items"])

    def node_objects(self) -> list[dict[str, Any]]:
        return self._items("nodes")

    def pod_objects(self) -> list[dict[str, Any]]:
        return self._items("pods")

    def statefulset_objects(self) -> list[dict[str, Any]]:
        return self._items("statefulsets")

    def claim_objects(self) -> list[dict[str, Any]]:
        return self._items("claims")

    def volume_objects(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        return self._items("volumes")

    def disruption_budget_objects(self) -> list[dict[str, Any]]:
        return self._items("budgets")

    def rules_review(self, namespace: str) -> dict[str, Any]:
        self._calls[f"{self.cluster} rules"] += 1
        return dict(json.loads(self._served["rules"]))

    def server_version(self) -> tuple[int, int]:
        self._calls[f"{self.cluster} version"] += 1
        return (1, 31)


class FakeEc2:
    """describe_instances / describe_volumes / describe_snapshots by id filter, as EC2's paginators answer."""

    def __init__(self, calls: Counter[str]) -> None:
        self.calls = calls

    def get_paginator(self, operation: str) -> FakeEc2:
        self._operation = operation
        return self

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.calls[self._operation] += 1
        ids = kwargs["Filters"][0]["Values"]
        if self._operation == "describe_instances":
            yield {"Reservations": [{"Instances": [_instance(i) for i in ids]}]}
        elif self._operation == "describe_volumes":
            yield {"Volumes": [_ebs(v) for v in ids]}
        else:
            yield {"Snapshots": [_snapshot(v) for v in ids]}


def _instance(instance_id: str) -> dict[str, Any]:
    cluster, index = int(instance_id[2:6], 16), int(instance_id[6:], 16)
    tags = [{"Key": "ferry:cluster", "Value": f"c{cluster}"}]
    return {
        "InstanceId": instance_id,
        "Placement": {"AvailabilityZone": ZONES[index % 3]},
        "State": {"Name": "running"},
        "Tags": tags,
    }


def _ebs(volume_id: str) -> dict[str, Any]:
    return {"VolumeId": volume_id, "AvailabilityZone": "us-east-1a", "State": "in-use", "VolumeType": "gp3", "Size": 10}


def _snapshot(volume_id: str) -> dict[str, Any]:
    return {
        "SnapshotId": f"snap-{volume_id[4:]}",
        "VolumeId": volume_id,
        "State": "completed",
        "StartTime": NOW - timedelta(minutes=4),
    }


class Quiet:
    """The table and the topic: registry, zone states, the kept answers, notifications."""

    def __init__(self, registrations: list[ClusterRegistration]) -> None:
        self.registrations, self.kept, self.notified = registrations, 0, 0

    def clusters(self) -> list[ClusterRegistration]:
        return self.registrations

    def apps(self) -> list[FederatedApp]:
        return [FederatedApp("web", f"web{n}", 30, (Placement("*", weight=1),)) for n in range(5)]

    def read_region(self, region: str, zones: Iterable[str]) -> RegionSnapshot:
        names = sorted(set(zones))
        return RegionSnapshot(RegionState.new(region, names, []), dict.fromkeys(names, 0))

    def grades(self) -> dict[str, str]:
        return {}

    def keep(self, *args: Any) -> None:
        self.kept += 1

    def notify(self, *args: Any) -> None:
        self.notified += 1


def _readiness(calls: Counter[str], ec2: FakeEc2) -> tuple[Readiness, Quiet]:
    served = {f"c{n}": listings(n) for n in range(CLUSTERS)}
    registrations = [
        ClusterRegistration(name, ClusterKind.SELF_MANAGED, "https://example.invalid", "us-east-1", ZONES, "ferry/x")
        for name in served
    ]
    quiet = Quiet(registrations)
    settings = RehomeSettings("table", "topic", Mode.OBSERVE, RehomeLimits(max_fences_per_run=500))
    service = Readiness(
        settings,
        registry=quiet,  # type: ignore[arg-type]
        connect=lambda registration: FakeKube(registration.name, served[registration.name], calls),
        ec2=ec2,
        states=quiet,  # type: ignore[arg-type]
        store=quiet,  # type: ignore[arg-type]
        notifier=quiet,  # type: ignore[arg-type]
        clock=lambda: NOW,
    )
    return service, quiet


def run() -> dict[str, Any]:
    calls: Counter[str] = Counter()
    ec2 = FakeEc2(Counter())
    service, _ = _readiness(calls, ec2)
    timings: list[float] = []
    cpus: list[float] = []
    report = None
    with contextlib.redirect_stdout(io.StringIO()):  # the EMF metrics, printed as Lambda would log them
        for round_ in range(3):
            calls.clear()
            ec2.calls.clear()
            began, cpu = time.perf_counter(), time.process_time()
            report = service.assess({"runId": f"bench-{round_}"})
            timings.append(time.perf_counter() - began)
            cpus.append(time.process_time() - cpu)
        per_cluster = Counter(key.split(" ")[0] for key in calls)
        tracemalloc.start()
        service.assess({"runId": "bench-memory"})
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert report is not None
    pets = sum(len(z["pets"]) + z.get("petsOmitted", 0) for z in report["zones"])
    kinds = sorted({k.split(" ")[1] for k in calls})
    return {
        "readiness: 3 zones, 10 clusters x 300 nodes x 200 pets, CPU (s) [< 5]": round(statistics.median(cpus), 2),
        "readiness: the same, wall time on this (shared) machine (s)": round(statistics.median(timings), 2),
        "readiness: peak Python memory of one run (MB) [< 256]": round(peak / 2**20, 1),
        "readiness: Kubernetes calls per cluster (bounded)": f"{max(per_cluster.values())} ({', '.join(kinds)})",
        "readiness: process peak RSS, imports included (MB)": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
        "readiness: EC2 describes per run (batches of 200)": sum(ec2.calls.values()),
        "readiness: pets answered / findings / output (KB)": (
            f"{pets} / {sum(len(z['findings']) + z.get('findingsOmitted', 0) for z in report['zones'])}"
            f" / {len(json.dumps(report)) // 1024}"
        ),
    }


if __name__ == "__main__":
    for label, value in run().items():
        print(f"  {label:<62} {value}")
