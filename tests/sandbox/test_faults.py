"""Faults as a sick control plane shows them to the official client: gone, throttling, failing, slow, hanging.

And the per-call counter that end-to-end tests use to hold Ferry to its API call budgets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import build_cluster


@pytest.fixture
def own() -> Iterator[KubeCluster]:
    cluster = build_cluster("faults", nodes_per_zone=1)
    yield cluster
    cluster.stop()


def no_retries(cluster: KubeCluster) -> client.CoreV1Api:
    """A client that reports every failure at once, as Ferry's adapter configures it."""
    configuration = cluster.api_client().configuration
    configuration.retries = False
    return client.CoreV1Api(client.ApiClient(configuration))


def test_an_outage_refuses_connections_and_recovery_listens_on_the_same_port(own: KubeCluster) -> None:
    core = no_retries(own)
    url = own.url
    assert core.list_node().items  # a kept-alive connection is now open
    own.set_outage(True)
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.list_node()
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.request("GET", url + "/readyz", retries=False, timeout=2)
    own.set_outage(False)
    assert own.url == url
    assert urllib3.request("GET", url + "/readyz", retries=False).status == 200
    assert client.CoreV1Api(own.api_client()).list_node().items


def test_throttling_answers_429_with_retry_after(own: KubeCluster) -> None:
    core = no_retries(own)
    own.set_error_rate(1.0, codes=(429,), retry_after=3)
    with pytest.raises(ApiException) as caught:
        core.list_node()
    own.set_error_rate(0.0)
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "3"
    assert '"reason":"TooManyRequests"' in caught.value.body


def test_server_errors_are_status_bodies(own: KubeCluster) -> None:
    core = no_retries(own)
    own.set_error_rate(1.0, codes=(500,))
    with pytest.raises(ApiException) as caught:
        core.read_node("us-east-1a-node-0")
    own.set_error_rate(0.0)
    assert caught.value.status == 500 and '"reason":"InternalError"' in caught.value.body


def test_a_seeded_error_rate_fails_the_same_requests_every_run(own: KubeCluster) -> None:
    core = no_retries(own)

    def outcomes() -> list[int]:
        codes = []
        for _ in range(20):
            try:
                core.read_namespace("default")
                codes.append(200)
            except ApiException as error:
                codes.append(error.status)
        return codes

    own.set_error_rate(0.5, codes=(429, 503), seed=7)
    first = outcomes()
    own.set_error_rate(0.5, codes=(429, 503), seed=7)
    second = outcomes()
    own.set_error_rate(0.0)
    assert first == second and {200, 429, 503} <= set(first)


def test_latency_slows_every_answer(own: KubeCluster) -> None:
    core = no_retries(own)
    own.set_latency(0.2)
    started = time.monotonic()
    core.read_namespace("default")
    own.set_latency(0.0)
    assert time.monotonic() - started >= 0.2


def test_a_hanging_request_times_out_at_the_client_or_ends_in_504(own: KubeCluster) -> None:
    core = no_retries(own)
    own.set_timeout_rate(1.0, hang_seconds=0.5)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.read_namespace("default", _request_timeout=0.1)
    with pytest.raises(ApiException) as caught:
        core.read_namespace("default")
    own.set_timeout_rate(0.0)
    assert caught.value.status == 504 and '"reason":"Timeout"' in caught.value.body


def test_request_count_counts_calls_by_verb_and_resource(own: KubeCluster) -> None:
    core = client.CoreV1Api(own.api_client())
    before = own.request_count()
    core.list_namespaced_pod("default", field_selector="spec.nodeName=us-east-1a-node-0")
    core.list_namespaced_pod("default")
    core.patch_node("us-east-1a-node-0", {"metadata": {"labels": {"counted": "yes"}}})
    core.read_node_status("us-east-1a-node-0")
    urllib3.request("GET", own.url + "/readyz", retries=False)
    after = own.request_count()

    def delta(key: str) -> int:
        return after.get(key, 0) - before.get(key, 0)

    assert (delta("list pods"), delta("patch nodes"), delta("get nodes/status"), delta("get /readyz")) == (2, 1, 1, 1)


def test_the_cluster_is_frozen_during_an_outage_and_no_node_is_lost_for_it(own: KubeCluster) -> None:
    own.set_outage(True)
    own.clock.advance(120)  # three grace periods without an API server: no heartbeat could be written
    own.settle()
    own.set_outage(False)
    own.settle()
    nodes = client.CoreV1Api(own.api_client()).list_node().items
    assert all(
        next(c.status for c in n.status.conditions if c.type == "Ready") == "True" and not n.spec.taints for n in nodes
    )
