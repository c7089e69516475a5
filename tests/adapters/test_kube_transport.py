"""Failures below HTTP and refusals above it, typed as callers need them: retried or reported.

A cluster whose CA Ferry does not have (a rotated CA, a wrong secret) fails inside the official client with
an AttributeError rather than an SSL error; it is a failure to get an answer, so `Unavailable` (retried), not
a bug. A 422 (an immutable field, an invalid name) is the server's considered refusal: `Invalid`, never
retried.
"""

from __future__ import annotations

import http.server
import ssl
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry.adapters.kube import Credentials, KubeApi, ca_file
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.errors import Invalid, TransientError, Unavailable
from sandbox.kube import KubeCluster
from sandbox.realkube import _certificate


def registration(endpoint: str) -> ClusterRegistration:
    return ClusterRegistration(
        name="east-1",
        kind=ClusterKind.SELF_MANAGED,
        endpoint=endpoint,
        region="us-east-1",
        zones=("us-east-1a",),
        credentials_secret="ferry/east-1",
    )


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An HTTPS server on 127.0.0.1 with a certificate from one CA; yields (its URL, another CA's PEM)."""
    ca = _certificate("cluster-ca")
    cert, key = _certificate("kube-apiserver", issuer=ca, server=True).write(tmp_path, "server")
    other_ca, _ = _certificate("another-ca").write(tmp_path, "other")
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", other_ca.read_text()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda api: list(api.nodes()), id="list-nodes"),
        pytest.param(lambda api: api.lease_renewals(), id="leases"),
        pytest.param(lambda api: api.readyz(), id="readyz"),
    ],
)
def test_a_cluster_whose_ca_ferry_does_not_trust_is_unavailable(tls_server, read) -> None:
    endpoint, wrong_ca = tls_server

    api = KubeApi(registration(endpoint), Credentials(token="t", ca_pem=wrong_ca), timeout=2)
    with api, pytest.raises(Unavailable) as failed:
        read(api)

    assert isinstance(failed.value, TransientError)


def test_an_invalid_request_is_invalid_and_not_retried() -> None:
    with KubeCluster("east-1") as cluster:
        api = KubeApi(registration(cluster.url), Credentials(token=cluster.token), timeout=2)
        with api, pytest.raises(Invalid) as refused:
            api._call(api.core.create_namespace, {"metadata": {"name": "Not_A_DNS_Label"}})

    assert not isinstance(refused.value, TransientError)
    assert "422" in str(refused.value)


def test_connecting_every_round_writes_one_ca_file_per_ca(tls_server, tmp_path, monkeypatch) -> None:
    endpoint, ca = tls_server
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "lambda-tmp"))
    (tmp_path / "lambda-tmp").mkdir()

    for _ in range(3):
        KubeApi(registration(endpoint), Credentials(token="t", ca_pem=ca), timeout=2).close()
    KubeApi(registration(endpoint), Credentials(token="t", ca_pem=ca + "\n"), timeout=2).close()

    files = sorted(p.name for p in (tmp_path / "lambda-tmp").iterdir())
    assert len(files) == 2 and all(f.startswith("ferry-ca-") and f.endswith(".pem") for f in files)
    assert Path(ca_file(ca)).name in files and Path(ca_file(ca)).read_text() == ca
