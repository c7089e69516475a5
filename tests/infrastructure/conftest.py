"""One synthesized Ferry app per test session, shared by every infrastructure test.

Synthesizing costs seconds (a Node.js process, then the whole construct tree and cdk-nag's checks), so it
happens once (and once more with Ferry inside a VPC, for the tests of that variant); bundling is skipped
(`aws:cdk:bundling-stacks`) because these tests are about the template. The real bundles are built by
test_cdk_bundling.py, marked slow. Synthesis runs the AwsSolutions checks: an unacknowledged finding fails
the fixture, and with it every test here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.infrastructure.synthesis import CLUSTER_CONTEXT, VPC_CONTEXT, Synthesized, synthesize

if TYPE_CHECKING:
    from aws_cdk.assertions import Template


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Template:
    return synthesized.template


@pytest.fixture(scope="session")
def vpc_synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """Ferry inside an existing VPC (the `vpc` setting): the same app, with cdk/network.py."""
    yield synthesize(tmp_path_factory.mktemp("cdk.out.vpc"), **VPC_CONTEXT)


@pytest.fixture(scope="session")
def cluster_synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The app with the example SelfManagedCluster's stack beside Ferry's (`-c exampleCluster=east-1`)."""
    yield synthesize(tmp_path_factory.mktemp("cdk.out.cluster"), **CLUSTER_CONTEXT)


@pytest.fixture(scope="session")
def eks_vpc_synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """Inside the VPC with the example configuration file, whose EKS cluster adds EKS and STS endpoints."""
    yield synthesize(tmp_path_factory.mktemp("cdk.out.eks"), config="deploy/ferry.example.yaml", **VPC_CONTEXT)
