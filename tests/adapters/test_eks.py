"""Reaching an EKS-registered cluster (ferry.adapters.eks, ClusterAccess): the token EKS accepts, its reuse and
renewal, DescribeCluster (moto, then the sandbox's double) cached per process, and a probe reading through it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto.eks.models import eks_backends

from ferry.adapters.eks import EksAccess, sign_token
from ferry.adapters.kube import ClusterAccess, Credentials
from ferry.adapters.kube_writes import KubeWriter
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.errors import NotFound, Unavailable
from ferry.services.probe import read_cluster
from sandbox.eks import EksDouble, EksTokenReview
from sandbox.kube import KubeCluster

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"  # moto's default
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ferry-eks"


def registration(name: str = "east-2", **overrides: Any) -> ClusterRegistration:
    fields: dict[str, Any] = {
        "name": name,
        "kind": ClusterKind.EKS,
        "endpoint": None,
        "region": "us-east-1",
        "zones": ("us-east-1a", "us-east-1b"),
        "eks_cluster_name": f"eks-{name}",
    }
    return ClusterRegistration(**{**fields, **overrides})


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def presigned(token: str) -> tuple[Any, dict[str, str]]:
    assert token.startswith("k8s-aws-v1.")
    body = token.removeprefix("k8s-aws-v1.")
    assert "=" not in body  # unpadded, as `aws eks get-token` prints it
    parts = urlsplit(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())
    return parts, {key: values[0] for key, values in parse_qs(parts.query).items()}


def eks_access(eks: Any, clock: Clock, sts: Any = None) -> EksAccess:
    return EksAccess(
        session=boto3.session.Session(),
        eks=lambda region: eks,
        sts=lambda region: sts or boto3.client("sts", region_name=region),
        now=clock,
    )


# --- the token ---------------------------------------------------------------------------------------------


def test_the_token_is_a_presigned_get_caller_identity_naming_the_cluster_in_a_signed_header(aws: None) -> None:
    session = boto3.session.Session()
    before = datetime.now(UTC).replace(microsecond=0)
    token = sign_token(session.get_credentials(), "eks-east-2", "us-east-1", session.events)
    url, query = presigned(token)

    assert (url.scheme, url.hostname, url.path) == ("https", "sts.us-east-1.amazonaws.com", "/")
    assert (query["Action"], query["Version"]) == ("GetCallerIdentity", "2011-06-15")
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert query["X-Amz-Credential"].endswith("/us-east-1/sts/aws4_request")
    assert query["X-Amz-Expires"] == "60"  # as `aws eks get-token`; EKS accepts the token 15 minutes
    signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed <= datetime.now(UTC)
    assert EksTokenReview("us-east-1")(token)
    assert not EksTokenReview("us-east-1")(token, now=signed + timedelta(minutes=15, seconds=1))


def test_a_token_for_another_cluster_has_another_signature(aws: None) -> None:
    session = boto3.session.Session()
    signatures = {
        presigned(sign_token(session.get_credentials(), name, "us-east-1", session.events))[1]["X-Amz-Signature"]
        for name in ("eks-east-2", "eks-west-2")
    }
    assert len(signatures) == 2


def test_a_token_is_reused_for_14_minutes_then_signed_anew(aws: None) -> None:
    clock = Clock()
    access = eks_access(EksDouble({}), clock)
    first = access.token(registration())
    clock.now = T0 + timedelta(minutes=13, seconds=59)
    assert access.token(registration()) is first
    clock.now = T0 + timedelta(minutes=14)
    renewed = access.token(registration())
    assert renewed.signed_at == clock.now
    assert renewed.expires_at - clock.now == timedelta(minutes=15)
    assert access.token(registration("west-2")).value != renewed.value  # one token per cluster


def test_with_a_role_the_token_is_signed_with_the_roles_credentials_assumed_once(aws: None) -> None:
    class CountingSts:
        def __init__(self) -> None:
            self.client = boto3.client("sts", region_name="us-east-1")
            self.assumed: list[str] = []

        def assume_role(self, **kwargs: Any) -> Any:
            self.assumed.append(kwargs["RoleArn"])
            return self.client.assume_role(**kwargs)

    sts, clock = CountingSts(), Clock()
    access = eks_access(EksDouble({}), clock, sts=sts)
    own = presigned(access.token(registration("own")).value)[1]
    as_role = presigned(access.token(registration(eks_role_arn=ROLE)).value)[1]
    clock.now = T0 + timedelta(minutes=14)  # a new token, the role's credentials (1 hour) still good
    again = presigned(access.token(registration(eks_role_arn=ROLE)).value)[1]

    own_key = boto3.session.Session().get_credentials().access_key
    assert own["X-Amz-Credential"].startswith(f"{own_key}/")
    assert not as_role["X-Amz-Credential"].startswith(f"{own_key}/")
    assert as_role["X-Amz-Credential"].split("/")[0] == again["X-Amz-Credential"].split("/")[0]
    assert as_role["X-Amz-Security-Token"] != own.get("X-Amz-Security-Token")
    assert sts.assumed == [ROLE]


def test_credentials_never_show_their_token(aws: None) -> None:
    token = eks_access(EksDouble({}), Clock()).token(registration())
    for shown in (repr(token), repr(Credentials(token=token.value, ca_pem=CA_PEM, endpoint="https://x"))):
        assert token.value not in shown
        assert token.value[len("k8s-aws-v1.") :][:20] not in shown


# --- DescribeCluster ---------------------------------------------------------------------------------------


def create_moto_cluster(name: str, ca_pem: str | None) -> dict[str, Any]:
    eks = boto3.client("eks", region_name="us-east-1")
    eks.create_cluster(
        name=name,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]},
    )
    if ca_pem is not None:  # moto's CA is random text; a real one is a base64 PEM
        backend = eks_backends[ACCOUNT]["us-east-1"]
        backend.clusters[name].certificate_authority = {"data": base64.b64encode(ca_pem.encode()).decode()}
    return dict(eks.describe_cluster(name=name)["cluster"])


def test_describe_cluster_gives_the_endpoint_and_ca_once_per_process(aws: None) -> None:
    described = create_moto_cluster("eks-east-2", CA_PEM)

    class CountingEks:
        def __init__(self) -> None:
            self.client, self.calls = boto3.client("eks", region_name="us-east-1"), 0

        def describe_cluster(self, **kwargs: Any) -> Any:
            self.calls += 1
            return self.client.describe_cluster(**kwargs)

    eks = CountingEks()
    access = ClusterAccess(secrets=None, eks=eks_access(eks, Clock()))
    credentials = [access.credentials(registration()) for _ in range(3)]

    assert {(c.endpoint, c.ca_pem) for c in credentials} == {(described["endpoint"], CA_PEM)}
    assert credentials[0].token.startswith("k8s-aws-v1.")
    assert eks.calls == 1


def test_an_endpoint_in_the_registration_replaces_the_described_one_the_ca_still_comes_from_eks(aws: None) -> None:
    create_moto_cluster("eks-east-2", CA_PEM)
    access = ClusterAccess(secrets=None, eks=eks_access(boto3.client("eks", region_name="us-east-1"), Clock()))
    credentials = access.credentials(registration(endpoint="https://api.east-2.internal"))
    assert (credentials.endpoint, credentials.ca_pem) == ("https://api.east-2.internal", CA_PEM)


@pytest.mark.parametrize(
    ("create", "error"),
    [
        pytest.param(False, NotFound, id="no-such-cluster"),
        pytest.param(True, Unavailable, id="ca-not-base64-pem"),  # moto's random CA text
    ],
)
def test_describe_cluster_failures_are_typed(aws: None, create: bool, error: type[Exception]) -> None:
    if create:
        create_moto_cluster("eks-east-2", None)
    access = ClusterAccess(secrets=None, eks=eks_access(boto3.client("eks", region_name="us-east-1"), Clock()))
    with pytest.raises(error):
        access.credentials(registration())


# --- a probe through an EKS registration -------------------------------------------------------------------


@pytest.fixture(scope="module")
def eks_cluster():
    with KubeCluster("east-2", authenticator=EksTokenReview("us-east-1"), token="not-what-ferry-sends") as running:
        for index in range(4):
            running.add_node(f"n{index}", f"us-east-1{'ab'[index % 2]}", instance_id=f"i-0{index:016x}")
        running.settle()
        yield running


def test_the_probe_reads_an_eks_registered_cluster_at_the_described_endpoint(aws: None, eks_cluster) -> None:
    eks = EksDouble({"eks-east-2": (eks_cluster.url, CA_PEM)})
    access = ClusterAccess(secrets=None, eks=eks_access(eks, Clock()))

    def connect(cluster: ClusterRegistration) -> KubeWriter:
        return KubeWriter(cluster, access.credentials(cluster), timeout=2)

    observations = [read_cluster(registration(), connect, T0, f"probe-{round}") for round in range(2)]

    assert [o.api_error for o in observations] == [None, None]
    assert sorted(n.name for n in observations[0].nodes) == ["n0", "n1", "n2", "n3"]
    assert eks.described == ["eks-east-2"]  # the second round asked EKS nothing


def test_a_token_the_cluster_refuses_is_an_api_error_of_the_round(aws: None, eks_cluster) -> None:
    refusing = KubeWriter(
        registration(), Credentials(token="k8s-aws-v1.bm90LWEtdXJs", endpoint=eks_cluster.url), timeout=2
    )
    observation = read_cluster(registration(), lambda cluster: refusing, T0, "probe-0")
    assert observation.api_error is not None and "401" in observation.api_error
