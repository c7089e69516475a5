"""ExampleClusterStack: one SelfManagedCluster in a stack of its own, built only when asked for.

Ferry's own stack never depends on a cluster; this example shows (and tests) the construct with
`-c exampleCluster=<name>` (README, docs/CLUSTERS.md). Later the federation configuration file will say which
clusters to build and feed each one's ClusterProps; until then the example's props come from context.
"""

from __future__ import annotations

from aws_cdk import Environment, Stack, Tags
from constructs import Construct

from cdk.clusters import ClusterProps, SelfManagedCluster
from cdk.constants import TAGS
from cdk.settings import Settings


class ExampleClusterStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, props: ClusterProps) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=settings.account, region=settings.region),
            description=f"Ferry example: self-managed Kubernetes cluster {props.name} over {', '.join(props.zones)}",
        )
        for key, value in TAGS.items():
            Tags.of(self).add(key, value)
        self.cluster = SelfManagedCluster(self, "Cluster", props=props)
