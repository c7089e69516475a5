"""The configuration file (member clusters, federated apps): what a good one gives, and every problem of a bad one
named at once as entry, field and expectation (the file's name is the caller's: tests/infrastructure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.configuration import read_configuration
from ferry.domain.errors import InputError
from ferry.domain.federation.apps import FederatedApp, Placement, Traffic, WorkloadKind

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = {
    "name": "east-1",
    "kind": "self-managed",
    "region": "us-east-1",
    "endpoint": "https://east-1-api.example.com:6443",
    "zones": ["us-east-1a", "us-east-1b"],
    "credentials_secret": "ferry/clusters/east-1",
}
EKS = {"name": "east-2", "kind": "eks", "region": "us-east-1", "zones": ["us-east-1a"], "eks_cluster_name": "prod-2"}
REGISTRATION_FIELDS = tuple(ClusterRegistration.__dataclass_fields__)
APP = {"namespace": "shop", "name": "web", "replicas": 4, "clusters": {"*": {"weight": 1}}}


def document(*, clusters: list[Any] | None = None, apps: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"clusters": [CLUSTER] if clusters is None else clusters, "apps": [APP] if apps is None else apps, **extra}


def test_the_example_file_reads_into_registrations_and_apps() -> None:
    configuration = read_configuration(yaml.safe_load((ROOT / "deploy/ferry.example.yaml").read_text()))
    assert [c.name for c in configuration.clusters] == ["east-1", "east-2"]
    assert configuration.clusters[1].kind is ClusterKind.EKS
    assert configuration.clusters[0].member_endpoints == (("i-0123456789abcdef0", "https://10.0.1.10:6443"),)
    assert configuration.apps == (
        FederatedApp(
            "shop",
            "web",
            6,
            (Placement("*", 1, 1, None), Placement("east-2", 2, 0, 6)),
            WorkloadKind.DEPLOYMENT,
            Traffic("Z0123456789ABCDEFGHIJ", "web.example.com", 60),
        ),
    )


@pytest.mark.parametrize("text", ["", "clusters: []\napps: []\n"], ids=["empty-file", "empty-lists"])
def test_an_empty_configuration_declares_nothing(text: str) -> None:
    configuration = read_configuration(yaml.safe_load(text))
    assert (configuration.clusters, configuration.apps) == ((), ())


def test_the_readme_example_is_valid() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Protecting a cluster") :]
    example = section[section.index("```yaml\n") + len("```yaml\n") : section.index("```\n", section.index("```yaml"))]
    configuration = read_configuration(yaml.safe_load(example))
    assert ([c.name for c in configuration.clusters], [a.key for a in configuration.apps]) == (["east-1"], ["shop/web"])


def test_the_shipped_file_is_valid() -> None:
    read_configuration(yaml.safe_load((ROOT / "ferry.yaml").read_text()))


def test_an_app_without_clusters_spans_every_member_cluster_with_weight_one() -> None:
    configuration = read_configuration(document(apps=[{"namespace": "shop", "name": "web", "replicas": 2}]))
    assert configuration.apps[0].clusters == (Placement("*"),)
    assert configuration.clusters == (ClusterRegistration.from_dict(CLUSTER),)


def test_an_eks_cluster_is_named_not_addressed_and_may_name_the_role_its_token_is_signed_as() -> None:
    role = "arn:aws:iam::123456789012:role/ferry-eks"
    configuration = read_configuration(document(clusters=[EKS, {**EKS, "name": "east-3", "eks_role_arn": role}]))
    east_2, east_3 = configuration.clusters
    assert (east_2.kind, east_2.endpoint, east_2.eks_cluster_name, east_2.eks_role_arn) == (
        ClusterKind.EKS,
        None,  # DescribeCluster gives it when Ferry connects
        "prod-2",
        None,
    )
    assert east_3.eks_role_arn == role


BAD = [
    pytest.param(document(extra=1), ["extra: unknown field; expected one of clusters, apps"], id="unknown-top-field"),
    pytest.param(document(clusters=[{**CLUSTER, "endpoint": "east-1:6443"}]),
                 ["clusters[0].endpoint: expected an http(s) URL, got 'east-1:6443'"], id="cluster-endpoint"),
    pytest.param(document(clusters=[{**CLUSTER, "kind": "eks", "credentials_secret": None}]),
                 ["clusters[0].eks_cluster_name: required for an EKS cluster"], id="eks-without-its-name"),
    pytest.param(document(clusters=[{**EKS, "eks_cluster_name": "prod 2", "eks_role_arn": "ferry-eks"}]),
                 ["clusters[0].eks_cluster_name: expected an EKS cluster name (letters, digits, '-', '_'), "
                  "got 'prod 2'",
                  "clusters[0].eks_role_arn: expected an IAM role ARN (arn:aws:iam::<account>:role/...), "
                  "got 'ferry-eks'"], id="eks-name-and-role"),
    pytest.param(document(clusters=[{**CLUSTER, "endpoint": None, "eks_cluster_name": "prod-1"}]),
                 ["clusters[0].endpoint: required for a self-managed cluster",
                  "clusters[0].eks_cluster_name, eks_role_arn: for an EKS cluster only"],
                 id="self-managed-needs-its-endpoint"),
    pytest.param(document(clusters=[{**CLUSTER, "name": "East_1", "zones": "us-east-1a"}]),
                 ["clusters[0].name: expected a DNS-1123 name (lowercase letters, digits, '-'), got 'East_1'",
                  "clusters[0].zones: expected list, got 'us-east-1a'"], id="cluster-name-and-zones-both-named"),
    pytest.param(document(clusters=[CLUSTER, CLUSTER]),
                 ["clusters: expected distinct cluster names, got 'east-1 twice'"], id="cluster-twice"),
    pytest.param(document(clusters=[{**CLUSTER, "zone": "us-east-1a"}]),
                 [f"clusters[0].zone: unknown field; expected one of {', '.join(REGISTRATION_FIELDS)}"],
                 id="cluster-unknown-field"),
    pytest.param(document(apps=[{**APP, "kind": "StatefulSet"}]),
                 ["apps[0].kind: expected one of Deployment, got 'StatefulSet' (StatefulSet slices are not supported: "
                  "re-homing moves pets within a cluster)"], id="statefulset-slices-out-of-scope"),
    pytest.param(document(apps=[{**APP, "clusters": {"east-1": {"weight": 0}}}]),
                 ["apps[0].clusters: expected weights summing to more than zero, got 0"], id="weights-sum-to-zero"),
    pytest.param(document(apps=[{**APP, "clusters": {"east-1": {"min": 3, "max": 2}}}]),
                 ["apps[0].clusters.east-1.min: expected at most max (2), got 3"], id="min-above-max"),
    pytest.param(document(apps=[{**APP, "replicas": 1, "clusters": {"*": {"min": 1}, "east-1": {"min": 2}}}]),
                 ["apps[0].replicas: expected at least the sum of the members' minimums (2), got 1"],
                 id="total-below-the-sum-of-mins"),
    pytest.param(document(apps=[{**APP, "clusters": {"east-9": {}}}]),
                 ["apps[0].clusters.east-9: expected a member cluster (east-1)"], id="undeclared-cluster"),
    pytest.param(document(apps=[{**APP, "replicas": "six", "clusters": {"*": {"weight": -1, "mx": 2}}}]),
                 ["apps[0].replicas: expected a whole number >= 0, got 'six'",
                  "apps[0].clusters.*.mx: unknown field; expected one of weight, min, max",
                  "apps[0].clusters.*.weight: expected a whole number >= 0, got -1"], id="types-named-each"),
    pytest.param(document(apps=[{**APP, "traffic": {"hosted_zone_id": "web", "record_name": "web.example.com"}}]),
                 ["apps[0].traffic.hosted_zone_id: expected a Route 53 hosted zone id (Z...), got 'web'"],
                 id="traffic-zone-id"),
    pytest.param(document(apps=[APP, {**APP, "replicas": 2}]),
                 ["apps: expected distinct apps (namespace/name), got 'shop/web twice'"], id="app-twice"),
    pytest.param(document(apps=[{**APP, "name": None}, "web"]),
                 ["apps[0].name: expected a value (required)", "apps[1]: expected a mapping, got 'web'"],
                 id="every-entry-reported"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "problems"), BAD)
def test_every_problem_is_named_with_its_entry_field_and_expectation(raw: Any, problems: list[str]) -> None:
    with pytest.raises(InputError) as raised:
        read_configuration(raw)
    assert raised.value.problems == problems
