"""Fixtures for the sandbox conformance tests: one suite, two backends, and the official client's APIs.

`cluster` is the double (a module shares one, 3 zones x 2 nodes, each test in its own namespace) and, when
`FERRY_KUBE_ASSETS` names the binaries, the real control plane with stand-in kubelets and EBS driver
(`sandbox/realnodes.py`; one per test session and worker, the same 6 nodes). Where the two disagree the real
one is right. Tests that kill nodes or move the clock get double clusters of their own from `make_cluster`;
a test that needs the double's clock or faults on `cluster` says so with `@pytest.mark.double_only(reason)`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sandbox.kube import KubeCluster, SandboxClock

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
_names = itertools.count()


def build_cluster(name: str, *, nodes_per_zone: int = 2, **options: Any) -> KubeCluster:
    options.setdefault("clock", SandboxClock())
    cluster = KubeCluster(name, **options)
    for zone in ZONES:
        for index in range(nodes_per_zone):
            node = f"{zone}-node-{index}"
            cluster.add_node(node, zone, instance_id=f"i-{zone[-1]}{index:016d}")
    cluster.start()
    cluster.settle()
    return cluster


@pytest.fixture(scope="module", params=["double", pytest.param("real", marks=pytest.mark.real_kube)])
def cluster(request: pytest.FixtureRequest) -> Iterator[KubeCluster]:
    if request.param == "real":
        yield request.getfixturevalue("real_cluster")
        return
    shared = build_cluster("shared")
    yield shared
    shared.stop()


@pytest.fixture(autouse=True)
def _double_only(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("double_only")
    callspec = getattr(request.node, "callspec", None)
    if marker is not None and callspec is not None and callspec.params.get("cluster") == "real":
        pytest.skip(f"double only: {marker.args[0] if marker.args else marker.kwargs.get('reason', '')}")


@pytest.fixture
def make_cluster() -> Iterator[Callable[..., KubeCluster]]:
    made: list[KubeCluster] = []

    def make(**options: Any) -> KubeCluster:
        made.append(build_cluster(f"own-{next(_names)}", **options))
        return made[-1]

    yield make
    for cluster in made:
        cluster.stop()


@pytest.fixture
def core(cluster: KubeCluster) -> client.CoreV1Api:
    return client.CoreV1Api(cluster.api_client())


@pytest.fixture
def apps(cluster: KubeCluster) -> client.AppsV1Api:
    return client.AppsV1Api(cluster.api_client())


@pytest.fixture
def namespace(cluster: KubeCluster, core: client.CoreV1Api) -> str:
    name = f"t{next(_names)}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def pod_manifest(name: str, **spec: Any) -> dict[str, Any]:
    labels = spec.pop("labels", {})
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


def parked_pod(name: str, **spec: Any) -> dict[str, Any]:
    """A pod for a scheduler that does not run: no controller writes to it, so read-modify-write tests
    cannot race one."""
    return pod_manifest(name, schedulerName="not-running-scheduler", **spec)


def stateful_set(name: str, replicas: int = 3, *, storage: bool = True, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "db", "image": "postgres:16"}]},
            },
            **spec,
        },
    }
    if storage:
        body["spec"]["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
            }
        ]
    return body


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }


def http(cluster: Any) -> urllib3.PoolManager:
    """Raw HTTP to a cluster, trusting its CA when it has one (the real control plane serves TLS)."""
    return urllib3.PoolManager(ca_certs=getattr(cluster, "ca_file", None), retries=False)


def api_error(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Call the client expecting an ApiException; return its status code and decoded Status body."""
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value.status, json.loads(caught.value.body)
