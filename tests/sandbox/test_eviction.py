"""The Eviction API against PodDisruptionBudgets ("API-initiated Eviction", "Specifying a Disruption Budget")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sandbox.kube import KubeCluster
from tests.conftest import wait_for
from tests.sandbox.conftest import api_error, deployment, pod_manifest

START = 5.0  # seconds of sandbox time a pod takes to start, where a test needs a replacement not Ready yet
HOLD = "sandbox.ferry.io/hold"
BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


@pytest.fixture
def policy(cluster: KubeCluster) -> client.PolicyV1Api:
    return client.PolicyV1Api(cluster.api_client())


def eviction(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}


def gone(core: client.CoreV1Api, name: str, namespace: str) -> bool:
    try:
        core.read_namespaced_pod(name, namespace)
    except ApiException as error:
        return error.status == 404
    return False


def budget(name: str, app: str, **bounds: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"selector": {"matchLabels": {"app": app}}, **bounds}}


def running_pods(core: client.CoreV1Api, namespace: str) -> list[str]:
    return sorted(
        p.metadata.name for p in core.list_namespaced_pod(namespace).items if not p.metadata.deletion_timestamp
    )


def test_eviction_without_a_budget_deletes_gracefully(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    # The test's own finalizer holds the pod after the eviction, so the graceful deletion can be read before the
    # kubelet completes it (without it, a busy machine's kubelet may finish before the test looks).
    manifest = pod_manifest("free")
    manifest["metadata"]["finalizers"] = [HOLD]
    core.create_namespaced_pod(namespace, manifest)
    cluster.settle()
    core.create_namespaced_pod_eviction("free", namespace, eviction("free", namespace))
    evicted = core.read_namespaced_pod("free", namespace).metadata
    assert evicted.deletion_timestamp is not None
    core.patch_namespaced_pod("free", namespace, {"metadata": {"finalizers": None}})
    wait_for(lambda: gone(core, "free", namespace), what="the evicted pod gone")


def test_a_budget_that_allows_no_disruption_answers_429(
    cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, policy: client.PolicyV1Api, namespace: str
) -> None:
    apps.create_namespaced_deployment(namespace, deployment("strict", 3))
    policy.create_namespaced_pod_disruption_budget(namespace, budget("strict-pdb", "strict", minAvailable=3))
    cluster.settle()
    status = policy.read_namespaced_pod_disruption_budget("strict-pdb", namespace).status
    assert (status.current_healthy, status.desired_healthy, status.disruptions_allowed, status.expected_pods) == (
        3,
        3,
        0,
        3,
    )
    victim = running_pods(core, namespace)[0]
    code, body = api_error(core.create_namespaced_pod_eviction, victim, namespace, eviction(victim, namespace))
    assert (code, body["reason"], body["message"]) == (429, "TooManyRequests", BUDGET_MESSAGE)
    assert body["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget strict-pdb needs 3 healthy pods and has 3 currently",
        }
    ]
    assert core.read_namespaced_pod(victim, namespace).metadata.deletion_timestamp is None


def test_a_budget_counts_evictions_until_replacements_are_ready(make_cluster: Callable[..., KubeCluster]) -> None:
    # Pods take START seconds of sandbox time to start: the replacement stays Pending until the clock moves, as
    # it would for seconds on a real cluster. On a cluster whose pods start at once, the controllers could make
    # it Ready between the two evictions and rightly let the second one through.
    own = make_cluster(kubelet_start_delay=START)
    core, apps = client.CoreV1Api(own.api_client()), client.AppsV1Api(own.api_client())
    policy = client.PolicyV1Api(own.api_client())
    apps.create_namespaced_deployment("default", deployment("rolling", 3))
    policy.create_namespaced_pod_disruption_budget("default", budget("one-at-a-time", "rolling", maxUnavailable=1))
    own.settle()
    own.clock.advance(START)
    own.settle()
    first, second, _ = running_pods(core, "default")
    core.create_namespaced_pod_eviction(first, "default", eviction(first, "default"))
    code, _ = api_error(core.create_namespaced_pod_eviction, second, "default", eviction(second, "default"))
    assert code == 429  # the first eviction used the only allowed disruption
    own.settle()  # the ReplicaSet's replacement is scheduled, and starting
    own.clock.advance(START)
    own.settle()  # it is Running and Ready
    assert policy.read_namespaced_pod_disruption_budget("one-at-a-time", "default").status.disruptions_allowed == 1
    core.create_namespaced_pod_eviction(second, "default", eviction(second, "default"))


def test_a_pod_under_two_budgets_cannot_be_evicted(
    cluster: KubeCluster, core: client.CoreV1Api, policy: client.PolicyV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, pod_manifest("doubly", labels={"app": "doubly"}))
    policy.create_namespaced_pod_disruption_budget(namespace, budget("b1", "doubly", maxUnavailable=1))
    policy.create_namespaced_pod_disruption_budget(namespace, budget("b2", "doubly", maxUnavailable=1))
    cluster.settle()
    code, body = api_error(core.create_namespaced_pod_eviction, "doubly", namespace, eviction("doubly", namespace))
    assert (
        code == 500
        and body["message"]
        == "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    )


def test_evicting_a_missing_pod_is_404(core: client.CoreV1Api, namespace: str) -> None:
    code, body = api_error(core.create_namespaced_pod_eviction, "ghost", namespace, eviction("ghost", namespace))
    assert (code, body["message"]) == (404, 'pods "ghost" not found')


def test_an_eviction_named_for_another_pod_is_400(core: client.CoreV1Api, namespace: str) -> None:
    code, body = api_error(core.create_namespaced_pod_eviction, "one", namespace, eviction("other", namespace))
    assert (code, body["message"]) == (400, "name in URL does not match name in Eviction object")


def test_an_eviction_with_a_stale_uid_is_refused_and_evicts_nothing(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, pod_manifest("pet"))
    cluster.settle()
    current = core.read_namespaced_pod("pet", namespace).metadata.uid
    stale = {**eviction("pet", namespace), "deleteOptions": {"preconditions": {"uid": "0000-stale"}}}

    code, body = api_error(core.create_namespaced_pod_eviction, "pet", namespace, stale)

    assert (code, body["reason"]) == (409, "Conflict")
    assert "the UID in the precondition (0000-stale) does not match" in body["message"]
    survivor = core.read_namespaced_pod("pet", namespace)
    assert (survivor.metadata.uid, survivor.metadata.deletion_timestamp) == (current, None)
