"""Reaching an EKS cluster: its endpoint and CA from DescribeCluster, and the bearer token EKS accepts.

An EKS registration names the cluster (`eks_cluster_name`, `region`), not its address, so that a cluster whose
endpoint or CA changes (a rotated CA, a private endpoint turned on) is still reached. DescribeCluster is asked
once per cluster per process (a warm Lambda connects every round; the answer changes only with such an update,
and Lambda replaces its environments within hours, each asking again).

The token is the one `aws eks get-token` prints: `k8s-aws-v1.` + base64url (unpadded) of a presigned STS
GetCallerIdentity URL whose signed headers include `x-k8s-aws-id: <cluster name>`, so that a token made for one
cluster is refused by another. Signing is offline (no STS call). The URL says `X-Amz-Expires=60` as the CLI's
does; EKS accepts the token for 15 minutes from its `X-Amz-Date`, and Ferry reuses one for 14 minutes (the CLI's
`expirationTimestamp`), then signs a new one: a probe round never carries a token that expires in flight. With
`eks_role_arn` the token is signed with that role's credentials (sts:AssumeRole, kept until 5 minutes before
they expire), as `aws eks get-token --role-arn` does.

Tokens and credentials are never logged: they leave this module only inside `Credentials`, whose repr hides them.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.credentials import Credentials as AwsCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import ServiceId
from botocore.signers import RequestSigner

from ferry.adapters.aws import translate_error
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.errors import Unavailable

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
URL_EXPIRES_SECONDS = 60  # X-Amz-Expires, as `aws eks get-token` signs it
TOKEN_LIFETIME = timedelta(minutes=15)  # what EKS accepts, from the URL's X-Amz-Date
TOKEN_REUSE = timedelta(minutes=14)  # then a new one: a minute's margin for a call in flight
ROLE_MARGIN = timedelta(minutes=5)  # assumed-role credentials are renewed this long before they expire
ROLE_SESSION_NAME = "ferry"


@dataclass(frozen=True, slots=True)
class DescribedCluster:
    """What DescribeCluster says about how to reach a cluster."""

    endpoint: str
    ca_pem: str | None


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    signed_at: datetime

    def __repr__(self) -> str:  # never log a token
        return f"Token(<{len(self.value)} chars>, signed_at={self.signed_at.isoformat()})"

    @property
    def expires_at(self) -> datetime:
        return self.signed_at + TOKEN_LIFETIME


def sign_token(credentials: Any, cluster_name: str, region: str, events: Any) -> str:
    """`aws eks get-token`'s token for `cluster_name`, signed with these AWS credentials (no network call)."""
    signer = RequestSigner(ServiceId("sts"), region, "sts", "v4", credentials, events)
    url = signer.generate_presigned_url(
        {
            "method": "GET",
            "url": f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
            "body": {},
            "headers": {CLUSTER_ID_HEADER: cluster_name},
            "context": {},
        },
        region_name=region,
        expires_in=URL_EXPIRES_SECONDS,
        operation_name="",
    )
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


class EksAccess:
    """Endpoints, CAs and tokens of the EKS clusters one process talks to, each kept as long as it is good.

    `eks(region)` and `sts(region)` make the clients (made once per region, on first use); `session` is the
    boto3 session whose credentials sign tokens when no role is named; `now` is the caller's clock.
    Shared by the threads of a probe round: the caches are guarded by one lock.
    """

    def __init__(
        self,
        *,
        session: Any,
        eks: Callable[[str], Any],
        sts: Callable[[str], Any],
        now: Callable[[], datetime],
    ) -> None:
        self._session = session
        self._eks_factory = eks
        self._sts_factory = sts
        self._now = now
        self._clients: dict[tuple[str, str], Any] = {}
        self._described: dict[tuple[str, str], DescribedCluster] = {}
        self._tokens: dict[tuple[str, str, str | None], Token] = {}
        self._roles: dict[tuple[str, str], tuple[AwsCredentials, datetime]] = {}
        self._lock = threading.Lock()

    def describe(self, registration: ClusterRegistration) -> DescribedCluster:
        """The cluster's endpoint and CA (PEM), from DescribeCluster the first time it is asked in this process."""
        key = (registration.region, _cluster_name(registration))
        with self._lock:
            if key in self._described:
                return self._described[key]
        try:
            cluster = self._client("eks", registration.region).describe_cluster(name=key[1])["cluster"]
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        ca = (cluster.get("certificateAuthority") or {}).get("data")
        try:
            ca_pem = base64.b64decode(ca, validate=True).decode("ascii") if ca else None
        except (binascii.Error, UnicodeDecodeError) as error:
            raise Unavailable(f"DescribeCluster {key[1]}: certificateAuthority.data is not a base64 PEM") from error
        described = DescribedCluster(endpoint=cluster["endpoint"], ca_pem=ca_pem)
        with self._lock:
            self._described[key] = described
        return described

    def token(self, registration: ClusterRegistration) -> Token:
        """A token for the cluster, reused while it has at least a minute left, else signed anew."""
        name = _cluster_name(registration)
        key = (registration.region, name, registration.eks_role_arn)
        now = self._now()
        with self._lock:
            token = self._tokens.get(key)
            if token is not None and now < token.signed_at + TOKEN_REUSE:
                return token
        credentials = self._signing_credentials(registration, now)
        token = Token(sign_token(credentials, name, registration.region, self._session.events), signed_at=now)
        with self._lock:
            self._tokens[key] = token
        return token

    def _signing_credentials(self, registration: ClusterRegistration, now: datetime) -> Any:
        role = registration.eks_role_arn
        if role is None:
            return self._session.get_credentials()
        key = (registration.region, role)
        with self._lock:
            held = self._roles.get(key)
            if held is not None and now < held[1] - ROLE_MARGIN:
                return held[0]
        try:
            answer = self._client("sts", registration.region).assume_role(
                RoleArn=role, RoleSessionName=ROLE_SESSION_NAME
            )["Credentials"]
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        credentials = AwsCredentials(answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"])
        with self._lock:
            self._roles[key] = (credentials, answer["Expiration"])
        return credentials

    def _client(self, service: str, region: str) -> Any:
        with self._lock:
            if (service, region) not in self._clients:
                factory = self._eks_factory if service == "eks" else self._sts_factory
                self._clients[(service, region)] = factory(region)
            return self._clients[(service, region)]


def _cluster_name(registration: ClusterRegistration) -> str:
    if not registration.eks_cluster_name:  # the registration's own check makes it required for EKS
        raise ValueError(f"{registration.name}: not an EKS registration")
    return registration.eks_cluster_name
