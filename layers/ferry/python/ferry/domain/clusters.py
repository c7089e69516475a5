"""Ferry's registry of the clusters it protects: what a cluster is, where its API is, how to reach it.

A registration is written when a cluster is bootstrapped or an EKS cluster is registered, and read by every
function that talks to clusters. Credentials never live here: `credentials_secret` names a Secrets Manager
secret (self-managed clusters) and EKS clusters get a short-lived token presigned for STS, optionally as the
role `eks_role_arn` (ferry.adapters.eks). An EKS cluster's endpoint and CA come from EKS DescribeCluster at
connection time, so its registration names it (`eks_cluster_name`, `region`) rather than its address; an
`endpoint` given for it replaces the described one (a proxy, a private DNS name), the CA still comes from EKS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ferry.domain.errors import InputError
from ferry.domain.serialization import JsonModel, wire

# arn:<partition>:iam::<account>:role/<path/name>
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
# EKS cluster names: 1-100 of letters, digits, '-' and '_', starting with a letter or digit.
_EKS_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")


class ClusterKind(StrEnum):
    EKS = "eks"
    SELF_MANAGED = "self-managed"


def _sorted_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {value!r}")
    return tuple(sorted(value.items()))


@dataclass(frozen=True, slots=True)
class ClusterRegistration(JsonModel):
    """A cluster Ferry protects, as registered: how to reach it, its zones and what it follows."""

    name: str
    kind: ClusterKind
    endpoint: str | None  # required for a self-managed cluster; an EKS cluster's comes from DescribeCluster
    region: str
    zones: tuple[str, ...]
    credentials_secret: str | None = None  # Secrets Manager id: {"token": ..., "certificate-authority-data": ...}
    eks_cluster_name: str | None = None
    # EKS: the role the token is signed as (as `aws eks get-token --role-arn`); None: the function's own role.
    eks_role_arn: str | None = None
    control_plane_instances: tuple[str, ...] = ()
    # Each control-plane member's own API endpoint (instance id -> https://<address>:6443), probed with
    # /readyz so that one failing member is seen while the load-balanced endpoint still answers.
    # Stored as an object ({instance: url}), kept sorted by instance so that equal registrations compare equal.
    member_endpoints: tuple[tuple[str, str], ...] = field(default=(), metadata=wire(dump=dict, load=_sorted_pairs))
    # ARNs of the cluster's load balancers (its API's NLB, its ingress): a manual ARC zonal shift of one of
    # them is an operator's verdict on the zone that Ferry follows; anyone else's shift is only recorded.
    load_balancers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if not self.name:
            problems.append("name: required")
        if self.kind is ClusterKind.SELF_MANAGED and self.endpoint is None:
            problems.append("endpoint: required for a self-managed cluster")
        if self.endpoint is not None and not self.endpoint.startswith(("https://", "http://")):
            problems.append(f"endpoint: expected an http(s) URL, got {self.endpoint!r}")
        if not self.zones:
            problems.append("zones: at least one zone is required")
        if self.kind is ClusterKind.EKS and not self.eks_cluster_name:
            problems.append("eks_cluster_name: required for an EKS cluster")
        if self.eks_cluster_name and not _EKS_NAME.match(self.eks_cluster_name):
            problems.append(
                "eks_cluster_name: expected an EKS cluster name (letters, digits, '-', '_'), "
                f"got {self.eks_cluster_name!r}"
            )
        if self.eks_role_arn is not None and not _ROLE_ARN.match(self.eks_role_arn):
            problems.append(
                f"eks_role_arn: expected an IAM role ARN (arn:aws:iam::<account>:role/...), got {self.eks_role_arn!r}"
            )
        if self.kind is not ClusterKind.EKS and (self.eks_cluster_name or self.eks_role_arn):
            problems.append("eks_cluster_name, eks_role_arn: for an EKS cluster only")
        if self.kind is ClusterKind.SELF_MANAGED and not self.credentials_secret:
            problems.append("credentials_secret: required for a self-managed cluster")
        for instance, url in self.member_endpoints:
            if not url.startswith(("https://", "http://")):
                problems.append(f"member_endpoints.{instance}: expected an http(s) URL, got {url!r}")
        for arn in self.load_balancers:
            if not arn.startswith("arn:"):
                problems.append(f"load_balancers: expected load balancer ARNs, got {arn!r}")
        if problems:
            raise InputError(problems)
