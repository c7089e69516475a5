"""EKS's side of an EKS-registered cluster, played locally: DescribeCluster and the API server's token check.

`EksDouble` answers `describe_cluster` as the EKS API does (the cluster's endpoint, its CA as base64 PEM,
ResourceNotFoundException for a name it does not know), for a sandbox API server standing in for the cluster.
It is a fake at the adapter boundary: moto's EKS invents a random endpoint and CA that nothing serves.

`EksTokenReview` is what the cluster's authenticator (aws-iam-authenticator, in EKS's control plane) checks of
a bearer token before it asks STS who signed it: the `k8s-aws-v1.` prefix, a base64url presigned
GetCallerIdentity URL for an STS host, `x-k8s-aws-id` among the signed headers, and an `X-Amz-Date` no older
than 15 minutes. Unlike EKS it does not call STS, so the signature itself, and hence the cluster name the
signature covers, is not verified; `sign_token`'s unit tests check what is signed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import ClientError

TOKEN_LIFETIME = timedelta(minutes=15)
_CLOCK_SKEW = timedelta(minutes=1)


@dataclass
class EksDouble:
    """A stand-in EKS client: cluster name -> (endpoint, CA PEM); counts its DescribeCluster calls."""

    clusters: dict[str, tuple[str, str]]
    described: list[str] = field(default_factory=list)

    def describe_cluster(self, *, name: str) -> dict[str, Any]:
        self.described.append(name)
        if name not in self.clusters:
            raise ClientError(
                {
                    "Error": {"Code": "ResourceNotFoundException", "Message": f"No cluster found for name: {name}."},
                    "ResponseMetadata": {"HTTPStatusCode": 404},
                },
                "DescribeCluster",
            )
        endpoint, ca_pem = self.clusters[name]
        return {
            "cluster": {
                "name": name,
                "endpoint": endpoint,
                "certificateAuthority": {"data": base64.b64encode(ca_pem.encode()).decode()},
                "status": "ACTIVE",
            }
        }


@dataclass(frozen=True)
class EksTokenReview:
    """Accepts a bearer token when it has the shape of an EKS token still within its 15 minutes."""

    region: str

    def __call__(self, token: str, now: datetime | None = None) -> bool:
        return self.problem(token, now) is None

    def problem(self, token: str, now: datetime | None = None) -> str | None:
        """Why the token is refused, or None."""
        prefix = "k8s-aws-v1."
        if not token.startswith(prefix):
            return "not an EKS token"
        body = token[len(prefix) :]
        try:
            url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "not base64url"
        parts = urlsplit(url)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if parts.scheme != "https" or parts.hostname not in ("sts.amazonaws.com", f"sts.{self.region}.amazonaws.com"):
            return f"not an STS URL: {parts.scheme}://{parts.hostname}"
        if query.get("Action") != "GetCallerIdentity" or query.get("Version") != "2011-06-15":
            return "not GetCallerIdentity"
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or not query.get("X-Amz-Signature"):
            return "not presigned with SigV4"
        if "x-k8s-aws-id" not in query.get("X-Amz-SignedHeaders", "").split(";"):
            return "x-k8s-aws-id is not signed"
        if int(query.get("X-Amz-Expires", "0")) > TOKEN_LIFETIME.total_seconds():
            return "X-Amz-Expires too large"
        try:
            signed = datetime.strptime(query.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "no X-Amz-Date"
        now = now or datetime.now(UTC)
        if not signed - _CLOCK_SKEW <= now <= signed + TOKEN_LIFETIME:
            return "expired"
        return None
