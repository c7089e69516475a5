"""cfn-lint finds no error in any template the app synthesizes: Ferry outside and inside a VPC, and the cluster.

cdk-nag checks practices; cfn-lint checks what CloudFormation itself would refuse or AWS does not offer (a
property of the wrong shape, an instance type a region lacks), which would otherwise surface only as a failed
deployment. Warnings and informational findings are not failures (most are about CDK's own output style).
"""

from __future__ import annotations

import pytest

from tests.infrastructure.synthesis import CLUSTER_STACK_ID, Synthesized

cfnlint_api = pytest.importorskip("cfnlint.api", reason="cfn-lint is pinned in requirements-dev.txt")

pytestmark = pytest.mark.xdist_group("cdk-synth")


@pytest.mark.parametrize(
    ("fixture", "stack_id"),
    [
        pytest.param("synthesized", "Ferry", id="ferry"),
        pytest.param("vpc_synthesized", "Ferry", id="ferry-in-a-vpc"),
        pytest.param("cluster_synthesized", CLUSTER_STACK_ID, id="example-cluster"),
    ],
)
def test_cfn_lint_reports_no_error(request: pytest.FixtureRequest, fixture: str, stack_id: str) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    template = (synthesized.outdir / f"{stack_id}.template.json").read_text()
    # In the stack's region (instance types and zones differ between regions), with every rule.
    config = cfnlint_api.ManualArgs(regions=["us-east-1"], include_checks=["I"], include_experimental=True)
    matches = cfnlint_api.lint(template, config=config)
    errors = [str(match) for match in matches if match.rule.id.startswith("E")]
    assert errors == []
