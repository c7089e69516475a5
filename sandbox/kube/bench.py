"""Benchmarks of the sandbox API server, for `make bench`: can it carry the game day, and stay fast when big.

- startup: two clusters of 3 zones x 20 nodes brought up with 600 pods in all (StatefulSet pets with EBS
  claims, and Deployments), through the official client, until every pod is Running;
- list by node: `list pods` with `fieldSelector=spec.nodeName=<node>` on a 5,000-pod cluster, timed at the
  client, both with the official client's typed models (what Ferry's adapters do) and as raw JSON (the
  server and the wire alone; the difference is the client's deserialization, mostly `dateutil` parsing
  timestamps);
- the process's peak RSS.

`run()` prints nothing and returns the figures.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import time
from typing import Any

from kubernetes import client

from sandbox.kube.clock import SandboxClock
from sandbox.kube.cluster import KubeCluster

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
NODES_PER_ZONE = 20


def _cluster(name: str) -> KubeCluster:
    cluster = KubeCluster(name, clock=SandboxClock())
    for zone in ZONES:
        for index in range(NODES_PER_ZONE):
            cluster.add_node(f"{name}-{zone}-{index:02d}", zone, instance_id=f"i-{zone[-1]}{index:016x}")
    cluster.start()
    return cluster


def _workload(kind: str, name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    body: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{"name": "app", "image": "nginx:1.27", "resources": {"requests": {"cpu": "50m"}}}]
                },
            },
        },
    }
    if kind == "StatefulSet":
        body["spec"]["serviceName"] = name
        body["spec"]["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}},
            }
        ]
    return body


def _running(cluster: KubeCluster) -> int:
    return sum(1 for pod in cluster.store.list("pods") if pod.get("status", {}).get("phase") == "Running")


def startup(*, stateful_sets: int = 3, pets: int = 10, deployments: int = 6, replicas: int = 45) -> float:
    """Seconds to bring up two clusters with `2 * (stateful_sets * pets + deployments * replicas)` pods Running."""
    started = time.perf_counter()
    clusters = [_cluster(f"bench{index}") for index in range(2)]
    try:
        per_cluster = stateful_sets * pets + deployments * replicas
        for cluster in clusters:
            apps = client.AppsV1Api(cluster.api_client())
            for index in range(stateful_sets):
                apps.create_namespaced_stateful_set("default", _workload("StatefulSet", f"db{index}", pets))
            for index in range(deployments):
                apps.create_namespaced_deployment("default", _workload("Deployment", f"web{index}", replicas))
        deadline = time.perf_counter() + 120
        while any(_running(cluster) < per_cluster for cluster in clusters) and time.perf_counter() < deadline:
            for cluster in clusters:
                cluster.settle(timeout=30)
        if any(_running(cluster) < per_cluster for cluster in clusters):
            raise RuntimeError("the benchmark clusters did not bring every pod up within two minutes")
        return time.perf_counter() - started
    finally:
        for cluster in clusters:
            cluster.stop()


def list_by_node(*, pods: int = 5000, samples: int = 30) -> tuple[float, float, float]:
    """Median ms of a by-node pod list at the client (typed, raw JSON), and the pods per node it returned."""
    cluster = _cluster("bench-list")
    try:
        apps = client.AppsV1Api(cluster.api_client())
        per_deployment = 100
        for index in range(pods // per_deployment):
            apps.create_namespaced_deployment("default", _workload("Deployment", f"svc{index:02d}", per_deployment))
        cluster.settle(timeout=120)
        # A real client does not share a heap with the API server: keep the server's 5,000 pods out of the
        # client's garbage collections, or they would be timed as client work.
        gc.collect()
        gc.freeze()
        core = client.CoreV1Api(cluster.api_client())
        nodes = [node["metadata"]["name"] for node in cluster.store.list("nodes")]
        typed, raw, sizes = [], [], []
        core.list_namespaced_pod("default", field_selector=f"spec.nodeName={nodes[0]}")  # warm the connection
        for index in range(samples):
            selector = f"spec.nodeName={nodes[index % len(nodes)]}"
            begun = time.perf_counter()
            listed = core.list_namespaced_pod("default", field_selector=selector)
            typed.append(time.perf_counter() - begun)
            sizes.append(len(listed.items))
            begun = time.perf_counter()
            response = core.list_namespaced_pod("default", field_selector=selector, _preload_content=False)
            json.loads(response.data)
            raw.append(time.perf_counter() - begun)
        return statistics.median(typed) * 1000, statistics.median(raw) * 1000, statistics.mean(sizes)
    finally:
        gc.unfreeze()
        cluster.stop()


def run() -> dict[str, float]:
    startup_seconds = startup()
    typed_ms, raw_ms, per_node = list_by_node()
    return {
        "kube_startup_2_clusters_120_nodes_600_pods_s": round(startup_seconds, 3),
        "kube_list_pods_by_node_5000_pods_ms": round(typed_ms, 2),
        "kube_list_pods_by_node_5000_pods_raw_json_ms": round(raw_ms, 2),
        "kube_list_pods_by_node_pods_returned": round(per_node, 1),
        "kube_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
