"""The registry in the Ferry table: clusters and federated apps read back as written, each kind in its own
partition (a listing of clusters never meets an app), counts as whole numbers again (DynamoDB hands back
Decimals)."""

from __future__ import annotations

from typing import Any

from ferry.adapters.registry import Registry
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.federation.apps import FederatedApp, Placement, Traffic

EAST_1 = ClusterRegistration(
    name="east-1",
    kind=ClusterKind.SELF_MANAGED,
    endpoint="https://east-1.example:6443",
    region="us-east-1",
    zones=("us-east-1a", "us-east-1b"),
    credentials_secret="ferry/clusters/east-1",
)
# Named, not addressed: its endpoint and CA come from DescribeCluster (ferry.adapters.eks).
EAST_2 = ClusterRegistration(
    name="east-2",
    kind=ClusterKind.EKS,
    endpoint=None,
    region="us-west-2",
    zones=("us-west-2a", "us-west-2b", "us-west-2c"),
    eks_cluster_name="prod-east-2",
    eks_role_arn="arn:aws:iam::123456789012:role/ferry-eks",
)
WEB = FederatedApp(
    "shop",
    "web",
    6,
    (Placement("*", 1, 1), Placement("east-1", 2, 0, 4)),
    traffic=Traffic("Z0123456789ABCDEFGHIJ", "web.example.com"),
)
API = FederatedApp("shop", "api", 2, (Placement("east-1"),))


def test_clusters_and_apps_read_back_as_written_each_in_its_partition(moto_table: Any) -> None:
    registry = Registry(moto_table.client, moto_table.name)
    registry.register(EAST_1)
    registry.register(EAST_2)
    registry.register_app(WEB)
    registry.register_app(API)
    registry.register_app(WEB)  # written again on the next deploy: still one item
    assert registry.clusters() == [EAST_1, EAST_2]
    assert registry.apps() == [API, WEB]  # by key: shop/api, shop/web
    assert all(type(p.weight) is int for app in registry.apps() for p in app.clusters)
