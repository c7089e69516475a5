"""IAM: least privilege that a reviewer can check in one screen.

Identity policies name their resources; the only Resource "*" statements are the ones AWS leaves no
choice about (X-Ray segments, the read-only calls a FunctionSpec declares as unscoped_reads, and the
network-interface reads Lambda makes for an in-VPC function). No statement anywhere allows every action.
Each holds with Ferry outside any VPC (the default) and inside one (the `vpc` setting, cdk/network.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from cdk.constants import FUNCTIONS
from cdk.network import INTERFACE_READS
from tests.infrastructure.synthesis import Synthesized

pytestmark = pytest.mark.xdist_group("cdk-synth")

XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# Step Functions' own needs for execution logging (log deliveries) and X-Ray; none has resource-level scope.
STATE_MACHINE_UNSCOPED = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    *XRAY,
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}


VARIANTS = {
    "outside-vpc": "synthesized",
    "inside-vpc": "vpc_synthesized",
    "inside-vpc-with-eks": "eks_vpc_synthesized",  # EKS DescribeCluster and AssumeRole grants, their endpoints
    "in-the-example-clusters-vpc": "cluster_synthesized",
}


@pytest.fixture(params=list(VARIANTS))
def any_synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Each variant of the stack, synthesized once per session (tests/infrastructure/conftest.py)."""
    return request.getfixturevalue(VARIANTS[request.param])  # type: ignore[no-any-return]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_id(resource: str | dict[str, Any]) -> str:
    """The logical id a statement's Resource refers to ({"Ref": id} or {"Fn::GetAtt": [id, "Arn"]}), or "*"."""
    if isinstance(resource, str):
        return resource
    if "Ref" in resource:
        return str(resource["Ref"])
    return str(resource["Fn::GetAtt"][0])


def _identity_statements(synthesized: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    statements = []
    for logical_id, policy in synthesized.of_type("AWS::IAM::Policy").items():
        statements += [(logical_id, s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    for logical_id, role in synthesized.of_type("AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            statements += [(logical_id, s) for s in inline["PolicyDocument"]["Statement"]]
    return statements


def _all_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    documents = {
        "AWS::IAM::Policy": "PolicyDocument",
        "AWS::IAM::ManagedPolicy": "PolicyDocument",
        "AWS::SQS::QueuePolicy": "PolicyDocument",
        "AWS::SNS::TopicPolicy": "PolicyDocument",
        "AWS::KMS::Key": "KeyPolicy",
        "AWS::EC2::VPCEndpoint": "PolicyDocument",
    }
    statements = [s for _, s in _identity_statements(synthesized)]
    for resource_type, field in documents.items():
        for resource in synthesized.of_type(resource_type).values():
            statements += resource["Properties"].get(field, {}).get("Statement", [])
    return statements


def test_no_statement_allows_every_action(any_synthesized: Synthesized) -> None:
    for statement in _all_statements(any_synthesized):
        if statement["Effect"] == "Allow":
            assert "*" not in _as_list(statement["Action"]), statement


def test_identity_policies_use_no_wildcard_actions(any_synthesized: Synthesized) -> None:
    for _, statement in _identity_statements(any_synthesized):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, statement


def test_resource_star_only_where_aws_offers_nothing_narrower(any_synthesized: Synthesized) -> None:
    unscoped_reads = {action for spec in FUNCTIONS for action in spec.unscoped_reads}
    state_machine_roles = {any_synthesized.logical_id(role) for role in any_synthesized.stack.runbooks.roles.values()}
    for logical_id, statement in _identity_statements(any_synthesized):
        if "*" not in _as_list(statement["Resource"]):
            continue
        actions = set(_as_list(statement["Action"]))
        if actions <= XRAY:
            continue
        if actions <= set(INTERFACE_READS):  # Lambda's, for an in-VPC function's interfaces (cdk/network.py)
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
            continue
        roles = {r["Ref"] for r in any_synthesized.resources[logical_id]["Properties"].get("Roles", [])}
        if roles and roles <= state_machine_roles and actions <= STATE_MACHINE_UNSCOPED:
            continue
        assert actions <= unscoped_reads, f"unjustified Resource '*': {statement}"
        assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}


@pytest.mark.parametrize("spec", [pytest.param(spec, id=spec.name) for spec in FUNCTIONS])
def test_unscoped_reads_live_in_their_own_policy(any_synthesized: Synthesized, spec: Any) -> None:
    synthesized = any_synthesized
    (function,) = [f for f in synthesized.stack.functions if f.spec == spec]
    default_policy_id = synthesized.logical_id(function.role.node.find_child("DefaultPolicy"))
    default_statements = synthesized.resources[default_policy_id]["Properties"]["PolicyDocument"]["Statement"]
    starred = [s for s in default_statements if "*" in _as_list(s["Resource"])]
    assert [set(_as_list(s["Action"])) for s in starred] == [XRAY]


def test_function_writes_only_to_its_own_log_group(any_synthesized: Synthesized) -> None:
    for function in any_synthesized.stack.functions:
        log_group_arn = {"Fn::GetAtt": [any_synthesized.logical_id(function.log_group), "Arn"]}
        role_id = any_synthesized.logical_id(function.role)
        logs = [
            s
            for policy in any_synthesized.of_type("AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if any(str(a).startswith("logs:") for a in _as_list(s["Action"]))
        ]
        assert logs == [
            {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow", "Resource": log_group_arn}
        ]


def test_ingest_gets_table_topic_queue_and_key_access_and_nothing_else(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    role_id = synthesized.logical_id(stack.ingest.role)
    granted: dict[str, set[str]] = {}
    for logical_id, statement in _identity_statements(synthesized):
        roles = synthesized.resources[logical_id]["Properties"].get("Roles", [])
        if {"Ref": role_id} not in roles:
            continue
        for resource in _as_list(statement["Resource"]):
            granted.setdefault(_resource_id(resource), set()).update(_as_list(statement["Action"]))

    assert granted[synthesized.logical_id(stack.state.table)] == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
    }
    assert granted[synthesized.logical_id(stack.notifications.topic)] == {"sns:Publish"}
    assert granted[synthesized.logical_id(stack.ingestion.queue)] == {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert granted[synthesized.logical_id(stack.ingestion.key)] == {"kms:Decrypt"}
    assert granted[synthesized.logical_id(stack.state.key)] == {
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
    }
    assert granted[synthesized.logical_id(stack.notifications.key)] == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert granted[synthesized.logical_id(stack.ingest.log_group)] == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert granted[synthesized.logical_id(stack.runbooks.state_machines["EvacuateZone"])] == {"states:StartExecution"}
    assert granted[synthesized.logical_id(stack.runbooks.state_machines["DrainNode"])] == {"states:StartExecution"}
    assert granted[synthesized.logical_id(stack.runbooks.state_machines["FailbackZone"])] == {"states:StartExecution"}
    assert granted[synthesized.logical_id(stack.shifts.state_machines["FailoverCluster"])] == {"states:StartExecution"}
    assert granted["*"] == XRAY | set(stack.ingest.spec.unscoped_reads)
    assert len(granted) == 12, sorted(granted)
