"""Talking to a cluster's Kubernetes API: connecting with the registry's credentials, reading, typed errors.

The only module that imports the `kubernetes` client. Every call carries a timeout, lists are paginated
(`limit`/`continue`, never a full pod listing for a probe), and every failure leaves as a `ferry.domain.errors`
type: 404 NotFound, 409 Conflict, 401/403 Forbidden, 422 Invalid, 429 Throttled (with Retry-After), 5xx,
timeouts, refused connections and failed TLS handshakes Unavailable, so callers decide by type whether to retry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import urllib3
from botocore.exceptions import BotoCoreError, ClientError
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from ferry.adapters.aws import LazyClient, client, session, translate_error
from ferry.adapters.eks import EksAccess
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.errors import Conflict, FerryError, Forbidden, Invalid, NotFound, Throttled, Unavailable

ZONE_LABEL = "topology.kubernetes.io/zone"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
PAGE_SIZE = 500


def translate_api_error(error: Exception) -> FerryError:
    if isinstance(error, ApiException):
        reason = _status_message(error)
        status = error.status or 0
        if status == 404:
            return NotFound(reason)
        if status == 409:
            return Conflict(reason)
        if status in (401, 403):
            return Forbidden(reason)
        if status == 422:
            return Invalid(reason)
        if status == 429:
            retry_after = (error.headers or {}).get("Retry-After")
            return Throttled(reason, retry_after=float(retry_after) if retry_after else None)
        if status >= 500 or status == 0:
            return Unavailable(reason)
        return FerryError(reason)
    if isinstance(error, (urllib3.exceptions.HTTPError, OSError)):
        return Unavailable(f"{type(error).__name__}: {error}")
    if isinstance(error, (AttributeError, TypeError)) and _raised_by_transport(error):
        # The client (36/37) over TLS with a CA that does not match: urllib3 gives up on the handshake and
        # the client then reads `.decode` of a response that never came. No answer: Unavailable.
        return Unavailable(f"no usable answer (TLS or connection failure inside the client): {error}")
    if isinstance(error, ValueError):
        # The client raises ValueError on a body it cannot deserialize: an answer, but garbage.
        return Unavailable(f"unreadable response: {error}")
    return FerryError(str(error))


def _raised_by_transport(error: BaseException) -> bool:
    """Whether the error's innermost frame is in the client's or urllib3's code, not in Ferry's."""
    trace = error.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    filename = trace.tb_frame.f_code.co_filename if trace is not None else ""
    return any(part in filename for part in ("/kubernetes/client/", "/urllib3/"))


def _status_message(error: ApiException) -> str:
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        body = {}
    return f"{error.status} {error.reason}: {body.get('message', '') if isinstance(body, dict) else ''}".strip()


def ca_file(ca_pem: str) -> str:
    """The path of a file holding this CA bundle, named by its digest: the client reads CAs only from files, and
    a warm Lambda connects every round, so one file per distinct CA is written once and reused (a file per
    connection would fill /tmp). Written to a temporary name and renamed, so a reader never sees half a file."""
    path = Path(tempfile.gettempdir()) / f"ferry-ca-{hashlib.sha256(ca_pem.encode()).hexdigest()[:32]}.pem"
    if not path.exists():
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".part", delete=False) as part:
            part.write(ca_pem)
        os.replace(part.name, path)
    return str(path)


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to reach and authenticate to one cluster: a bearer token, the CA bundle (PEM) for TLS, and the API's
    address when the registration does not give it (an EKS cluster's, from DescribeCluster)."""

    token: str
    ca_pem: str | None = None
    endpoint: str | None = None

    def __repr__(self) -> str:  # never log a token
        return (
            f"Credentials(token=<{len(self.token)} chars>, ca_pem={'set' if self.ca_pem else None}, "
            f"endpoint={self.endpoint!r})"
        )


class ClusterAccess:
    """How Ferry's functions reach every registered cluster: a self-managed cluster's token and CA from its
    Secrets Manager secret, an EKS cluster's endpoint, CA and token through `EksAccess`. One per process."""

    def __init__(self, *, secrets: Any, eks: EksAccess) -> None:
        self._secrets = secrets
        self._eks = eks

    @classmethod
    def from_environment(cls, *, now: Callable[[], datetime]) -> ClusterAccess:
        """Clients made on first use, from the standard configuration (in a VPC, the endpoints the stack sets)."""
        eks = EksAccess(
            session=session(),
            eks=lambda region: client("eks", region),
            sts=lambda region: client("sts", region),
            now=now,
        )
        return cls(secrets=LazyClient("secretsmanager"), eks=eks)

    def credentials(self, registration: ClusterRegistration) -> Credentials:
        if registration.kind is ClusterKind.EKS:
            described = self._eks.describe(registration)
            return Credentials(
                token=self._eks.token(registration).value,
                ca_pem=described.ca_pem,
                endpoint=registration.endpoint or described.endpoint,
            )
        try:
            value = json.loads(self._secrets.get_secret_value(SecretId=registration.credentials_secret)["SecretString"])
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        ca = value.get("certificate-authority-data")
        return Credentials(token=value["token"], ca_pem=base64.b64decode(ca).decode() if ca else None)


@dataclass(frozen=True, slots=True)
class NodeView:
    """What Ferry needs to know about a node, without keeping the whole object."""

    name: str
    zone: str | None
    ready: bool
    unschedulable: bool
    control_plane: bool
    instance_id: str | None
    taints: tuple[str, ...]


def _instance_id(provider_id: str | None) -> str | None:
    # aws:///us-east-1a/i-0123456789abcdef0
    if provider_id and provider_id.startswith("aws://"):
        return provider_id.rsplit("/", 1)[-1] or None
    return None


class KubeApi:
    """One cluster's API, through the official client. Built per cluster per invocation."""

    def __init__(self, registration: ClusterRegistration, credentials: Credentials, *, timeout: float = 5.0):
        configuration = k8s.Configuration()
        configuration.host = credentials.endpoint or registration.endpoint
        # kubernetes 36 reads the token and its prefix under "BearerToken" (the old "authorization" key
        # still finds the token, but not the prefix, and the server answers 401).
        configuration.api_key = {"BearerToken": credentials.token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        configuration.retries = False  # Ferry decides about retries, by error type
        if credentials.ca_pem:
            configuration.ssl_ca_cert = ca_file(credentials.ca_pem)
        self.cluster = registration.name
        self._timeout = timeout
        self._client = k8s.ApiClient(configuration)
        self.core = k8s.CoreV1Api(self._client)
        self.coordination = k8s.CoordinationV1Api(self._client)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, _request_timeout=self._timeout, **kwargs)
        except Exception as error:
            raise translate_api_error(error) from error

    def readyz(self) -> bool:
        """True when the API server answers `/readyz` with 200; typed errors otherwise."""
        self._call(self._client.call_api, "/readyz", "GET", auth_settings=["BearerToken"], _preload_content=False)
        return True

    def server_version(self) -> tuple[int, int]:
        info = self._call(k8s.VersionApi(self._client).get_code)
        return int(info.major), int(str(info.minor).rstrip("+"))

    def _paginate(self, method: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list, page by page (`limit`/`continue`), as plain JSON.

        Raw JSON rather than the client's typed models: deserializing a model costs ~0.5 ms per object
        (mostly timestamps), which is most of a probe round on a thousand-node cluster.
        """
        token = None
        while True:
            response = self._call(method, limit=PAGE_SIZE, _continue=token, _preload_content=False, **kwargs)
            try:
                page = json.loads(response.data)
            except ValueError as error:
                raise Unavailable(f"unreadable response: {error}") from error
            yield from page.get("items") or []
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def nodes(self) -> Iterator[NodeView]:
        for node in self._paginate(self.core.list_node):
            metadata, spec, status = node.get("metadata", {}), node.get("spec", {}), node.get("status", {})
            labels = metadata.get("labels") or {}
            conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            yield NodeView(
                name=metadata["name"],
                zone=labels.get(ZONE_LABEL),
                ready=conditions.get("Ready") == "True",
                unschedulable=bool(spec.get("unschedulable")),
                control_plane=CONTROL_PLANE_LABEL in labels,
                instance_id=_instance_id(spec.get("providerID")),
                taints=tuple(f"{t.get('key')}:{t.get('effect')}" for t in spec.get("taints") or []),
            )

    def volume_objects(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        """Every PersistentVolume (or those with the labels), as JSON (ferry.domain.rehoming.manifests parses
        what matters): the probe remembers where their EBS volumes are, re-homing and the snapshot schedule
        read them too."""
        extra = {"label_selector": label_selector} if label_selector else {}
        return list(self._paginate(self.core.list_persistent_volume, **extra))

    def lease_renewals(self) -> dict[str, datetime | None]:
        """Node name -> the last renewal of its Lease in kube-node-lease (the kubelet's heartbeat)."""
        return {
            lease["metadata"]["name"]: _parse_time((lease.get("spec") or {}).get("renewTime"))
            for lease in self._paginate(self.coordination.list_namespaced_lease, namespace="kube-node-lease")
        }


def _parse_time(value: str | None) -> datetime | None:
    """Kubernetes MicroTime/Time (RFC 3339, `Z` or an offset); None when absent or unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
