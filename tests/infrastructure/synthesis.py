"""Synthesizing Ferry's app for tests: the template plus the constructs it came from.

Tests look resources up through the constructs (`logical_id(stack.ingestion.queue)`) rather than by
guessing generated logical ids, so renaming a construct does not silently make a test look at nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only Ferry's modules at the top: the cdk package sets jsii's environment before aws_cdk starts Node.js.
from cdk.app import build_app, project_context
from cdk.constants import STACK_ID
from cdk.stack import FerryStack

if TYPE_CHECKING:
    from aws_cdk import App
    from aws_cdk.assertions import Template

SKIP_BUNDLING: dict[str, list[str]] = {"aws:cdk:bundling-stacks": []}
# Ferry inside an existing VPC (the `vpc` setting): three private subnets with route tables of their own.
VPC_CONTEXT: dict[str, Any] = {
    "vpc": {
        "id": "vpc-0123456789abcdef0",
        "cidr": "10.20.0.0/16",
        "subnets": [
            {"id": f"subnet-0{zone * 16}", "zone": f"us-east-1{zone}", "routeTable": f"rtb-0{zone * 16}"}
            for zone in "abc"
        ],
    },
    "dynamodbPrefixList": "pl-02cd2c6b",
}
# The example SelfManagedCluster's stack beside Ferry's (cdk/app.py).
CLUSTER_CONTEXT: dict[str, Any] = {
    "exampleCluster": "east-1",
    "clusterPackageRepository": "https://packages.example.com/kubernetes/v1.31/rpm/",
    "dynamodbPrefixList": "pl-02cd2c6b",  # Ferry goes into the cluster's VPC
}
CLUSTER_STACK_ID = f"{STACK_ID}Cluster-east-1"


@dataclass(frozen=True)
class Synthesized:
    app: App
    stack: FerryStack
    template: Template
    outdir: Path

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.to_json()["Resources"])

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.resources.items() if value["Type"] == resource_type}

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.get_logical_id(construct.node.default_child))

    def template_of(self, stack_id: str) -> dict[str, Any]:
        """Another stack of the same app, as JSON (the example cluster's)."""
        return dict(json.loads((self.outdir / f"{stack_id}.template.json").read_text()))

    def definition(
        self, state_machine: Any, arn: Callable[[str], str] = lambda logical_id: logical_id
    ) -> dict[str, Any]:
        """A state machine's definition as JSON; each ARN token inside it becomes `arn(<logical id>)`."""
        properties = self.resources[self.logical_id(state_machine)]["Properties"]
        parts = properties["DefinitionString"]["Fn::Join"][1]
        text = "".join(part if isinstance(part, str) else _token(part, arn) for part in parts)
        return dict(json.loads(text))


def _token(part: dict[str, Any], arn: Callable[[str], str]) -> str:
    """A function's ARN (`Fn::GetAtt`), or the partition of a service integration's ARN (`.waitForTaskToken`)."""
    if part.get("Ref") == "AWS::Partition":
        return "aws"
    return arn(part["Fn::GetAtt"][0])


def synthesize(outdir: Path, **context: Any) -> Synthesized:
    from aws_cdk.assertions import Template

    app = build_app(outdir=str(outdir), context={**project_context(), **SKIP_BUNDLING, **context})
    assembly = app.synth()
    stack = app.node.find_child(STACK_ID)
    assert isinstance(stack, FerryStack)
    template = Template.from_json(json.loads((Path(assembly.directory) / f"{STACK_ID}.template.json").read_text()))
    return Synthesized(app=app, stack=stack, template=template, outdir=outdir)
