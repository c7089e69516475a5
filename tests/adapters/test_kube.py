"""Ferry's Kubernetes adapter against the sandbox API server: what the probe reads, and typed errors."""

from __future__ import annotations

import pytest

import ferry.adapters.kube as kube
from ferry.adapters.kube import Credentials, KubeApi
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.errors import Forbidden, Throttled, Unavailable
from sandbox.kube import KubeCluster


@pytest.fixture(scope="module")
def cluster():
    with KubeCluster("east-1", version="v1.31.0") as running:
        for index in range(7):
            zone = "us-east-1a" if index < 4 else "us-east-1b"
            running.add_node(f"n{index}", zone, instance_id=f"i-0{index:016x}")
        running.settle()
        yield running


def registration(cluster: KubeCluster) -> ClusterRegistration:
    return ClusterRegistration(
        name=cluster.name,
        kind=ClusterKind.SELF_MANAGED,
        endpoint=cluster.url,
        region="us-east-1",
        zones=("us-east-1a", "us-east-1b"),
        credentials_secret="ferry/east-1",
    )


def api(cluster: KubeCluster, token: str | None = None) -> KubeApi:
    return KubeApi(registration(cluster), Credentials(token=token or cluster.token), timeout=2)


def test_reads_nodes_with_zone_instance_and_readiness(cluster, monkeypatch) -> None:
    monkeypatch.setattr(kube, "PAGE_SIZE", 3)  # force limit/continue pagination

    with api(cluster) as client:
        nodes = sorted(client.nodes(), key=lambda n: n.name)

    assert [(n.name, n.zone, n.instance_id, n.ready) for n in nodes[:2]] == [
        ("n0", "us-east-1a", "i-00000000000000000", True),
        ("n1", "us-east-1a", "i-00000000000000001", True),
    ]
    assert len(nodes) == 7


def test_reads_lease_renewals_and_version(cluster) -> None:
    with api(cluster) as client:
        renewals = client.lease_renewals()
        version = client.server_version()

    assert set(renewals) == {f"n{i}" for i in range(7)}
    assert all(at is not None for at in renewals.values())
    assert version == (1, 31)
    assert client.readyz() is True


@pytest.mark.parametrize("call", ["readyz", "nodes"])
def test_a_wrong_token_is_forbidden_not_retried(cluster, call) -> None:
    with api(cluster, token="not-the-token") as client, pytest.raises(Forbidden):
        list(client.nodes()) if call == "nodes" else client.readyz()


def test_throttling_carries_retry_after(cluster) -> None:
    cluster.set_error_rate(1.0, codes=(429,), retry_after=7, seed=1)
    try:
        with api(cluster) as client, pytest.raises(Throttled) as throttled:
            list(client.nodes())
    finally:
        cluster.set_error_rate(0.0)

    assert throttled.value.retry_after == 7


def test_server_errors_and_outages_are_unavailable(cluster) -> None:
    cluster.set_error_rate(1.0, codes=(500,), seed=1)
    try:
        with api(cluster) as client, pytest.raises(Unavailable):
            client.lease_renewals()
    finally:
        cluster.set_error_rate(0.0)
    cluster.set_outage(True)
    try:
        with api(cluster) as client, pytest.raises(Unavailable):
            client.readyz()
    finally:
        cluster.set_outage(False)
