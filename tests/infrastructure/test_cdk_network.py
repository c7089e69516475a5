"""Ferry inside a VPC (cdk/network.py): what the in-VPC functions can reach, and who the endpoints admit.

A function in a VPC with no route out reaches nothing it is not given: an AWS API Ferry calls without an
endpoint fails only in an account, on the first evacuation. So the endpoints are checked against what the
functions' roles are granted (an action a role may call has an endpoint that admits it; an endpoint admits
nothing the roles may not call), and the variables that point botocore at them against botocore itself.
Without the `vpc` setting nothing of it exists.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import boto3
import pytest

from cdk.constants import EKS_ENDPOINT, ENDPOINTS, HTTPS_PORT, KUBERNETES_API_PORT, STS_ENDPOINT
from cdk.network import INTERFACE_READS, INTERFACE_WRITES
from cdk.state import TABLE_ACTIONS
from tests.infrastructure import test_cdk_conventions, test_cdk_nag
from tests.infrastructure.synthesis import VPC_CONTEXT, Synthesized

pytestmark = pytest.mark.xdist_group("cdk-synth")

SUBNETS = [subnet["id"] for subnet in VPC_CONTEXT["vpc"]["subnets"]]
IN_VPC = {
    "probe",
    "runbook-plan",
    "runbook-fence",
    "runbook-rehome",
    "runbook-shift",
    "snapshot-schedule",
    "readiness",
}
# Called on the functions' behalf by AWS, not from their network: logs and traces by Lambda, network
# interfaces by Lambda, KMS by the service owning the data (every KMS grant carries kms:ViaService).
NOT_THROUGH_ENDPOINTS = {"logs", "xray", "kms"}
# botocore's name for each service, to check that it reads the variable the stack sets.
BOTO_SERVICES = {
    "ec2": "ec2",
    "secretsmanager": "secretsmanager",
    "sns": "sns",
    "states": "stepfunctions",
    "autoscaling": "autoscaling",
    "eks": "eks",
    "sts": "sts",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _properties(synthesized: Synthesized, construct: Any) -> dict[str, Any]:
    return dict(synthesized.resources[synthesized.logical_id(construct)]["Properties"])


def _group_id(synthesized: Synthesized, group: Any) -> dict[str, Any]:
    return {"Fn::GetAtt": [synthesized.logical_id(group), "GroupId"]}


def _in_vpc_roles(synthesized: Synthesized) -> dict[str, str]:
    """logical id of each in-VPC function's role -> the function's name."""
    return {synthesized.logical_id(f.role): f.spec.name for f in synthesized.stack.functions if f.network}


def _granted(synthesized: Synthesized, role_ids: set[str]) -> dict[str, set[str]]:
    """service prefix -> the actions these roles are granted on it (identity policies)."""
    granted: dict[str, set[str]] = defaultdict(set)
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        if not {r["Ref"] for r in policy["Properties"]["Roles"]} & role_ids:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in _as_list(statement["Action"]):
                granted[action.split(":")[0]].add(action)
    return granted


# --- without the setting: no VPC at all ------------------------------------------------------------------


def test_without_the_setting_no_function_is_in_a_vpc_and_nothing_of_a_network_exists(
    synthesized: Synthesized,
) -> None:
    assert synthesized.stack.network is None
    assert not [r for r in synthesized.resources.values() if r["Type"].startswith("AWS::EC2::")]
    assert all("VpcConfig" not in f["Properties"] for f in synthesized.of_type("AWS::Lambda::Function").values())


# --- where the functions run ------------------------------------------------------------------------------


def test_functions_that_talk_to_clusters_run_in_every_zones_private_subnet(vpc_synthesized: Synthesized) -> None:
    network = vpc_synthesized.stack.network
    assert network is not None
    placed = {}
    for function in vpc_synthesized.stack.functions:
        placed[function.spec.name] = _properties(vpc_synthesized, function.function).get("VpcConfig")
    assert {name for name, config in placed.items() if config} == IN_VPC
    for name in IN_VPC:
        assert placed[name] == {
            "SecurityGroupIds": [_group_id(vpc_synthesized, network.security_group)],
            "SubnetIds": SUBNETS,
        }, name
    # Ingest and the report call no cluster: they stay outside, where every AWS API is reachable.
    assert placed["ingest"] is None and placed["runbook-report"] is None


def test_the_functions_group_reaches_only_the_api_endpoints_and_the_aws_endpoints(
    vpc_synthesized: Synthesized,
) -> None:
    network = vpc_synthesized.stack.network
    assert network is not None
    functions = _group_id(vpc_synthesized, network.security_group)
    endpoints = _group_id(vpc_synthesized, network.endpoints_security_group)
    egress = list(_properties(vpc_synthesized, network.security_group).get("SecurityGroupEgress", []))
    egress += [
        r["Properties"]
        for r in vpc_synthesized.of_type("AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == functions
    ]
    destinations = {
        (
            json.dumps(
                rule.get("CidrIp") or rule.get("DestinationSecurityGroupId") or rule.get("DestinationPrefixListId")
            ),
            rule["IpProtocol"],
            rule["FromPort"],
            rule["ToPort"],
        )
        for rule in egress
    }
    assert destinations == {
        (json.dumps(VPC_CONTEXT["vpc"]["cidr"]), "tcp", KUBERNETES_API_PORT, KUBERNETES_API_PORT),
        (json.dumps(endpoints), "tcp", HTTPS_PORT, HTTPS_PORT),
        (json.dumps(VPC_CONTEXT["dynamodbPrefixList"]), "tcp", HTTPS_PORT, HTTPS_PORT),
    }
    # Nothing may connect to the functions, and the endpoints take HTTPS from the functions alone.
    ingress = [r["Properties"] for r in vpc_synthesized.of_type("AWS::EC2::SecurityGroupIngress").values()]
    assert [(r["GroupId"], r["SourceSecurityGroupId"], r["FromPort"], r["ToPort"]) for r in ingress] == [
        (endpoints, functions, HTTPS_PORT, HTTPS_PORT)
    ]
    for group in vpc_synthesized.of_type("AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]


# --- the endpoints ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [pytest.param(spec, id=spec.service) for spec in ENDPOINTS])
def test_each_interface_endpoint_is_private_to_ferry_in_every_zone(vpc_synthesized: Synthesized, spec: Any) -> None:
    network = vpc_synthesized.stack.network
    assert network is not None
    endpoint = _properties(vpc_synthesized, network.interface_endpoints[spec.construct_id])
    assert endpoint["ServiceName"] == f"com.amazonaws.us-east-1.{spec.service}"
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["SubnetIds"] == SUBNETS
    assert endpoint["SecurityGroupIds"] == [_group_id(vpc_synthesized, network.endpoints_security_group)]
    # No private DNS: the VPC's other tenants (a cluster's nodes) keep resolving the public names.
    assert endpoint["PrivateDnsEnabled"] is False


def test_dynamodb_is_reached_through_a_gateway_on_the_functions_route_tables(vpc_synthesized: Synthesized) -> None:
    network = vpc_synthesized.stack.network
    assert network is not None
    endpoint = _properties(vpc_synthesized, network.dynamodb_endpoint)
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert endpoint["RouteTableIds"] == [subnet["routeTable"] for subnet in VPC_CONTEXT["vpc"]["subnets"]]
    (statement,) = endpoint["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {
        "Fn::GetAtt": [vpc_synthesized.logical_id(vpc_synthesized.stack.state.table), "Arn"]
    }
    assert set(_as_list(statement["Action"])) == set(TABLE_ACTIONS)


@pytest.mark.parametrize("variant", ["vpc_synthesized", "eks_vpc_synthesized"], ids=["no-eks", "eks-with-a-role"])
def test_every_endpoint_admits_exactly_the_in_vpc_roles_for_exactly_what_they_are_granted(
    variant: str, request: pytest.FixtureRequest
) -> None:
    vpc_synthesized: Synthesized = request.getfixturevalue(variant)
    network = vpc_synthesized.stack.network
    assert network is not None
    roles = _in_vpc_roles(vpc_synthesized)
    granted = _granted(vpc_synthesized, set(roles))
    # What Lambda itself does with the roles for the functions' network interfaces goes through no endpoint.
    granted["ec2"] -= {*INTERFACE_WRITES, *INTERFACE_READS}
    endpoints = {spec.service: network.interface_endpoints[spec.construct_id] for spec in network.endpoints}
    endpoints["dynamodb"] = network.dynamodb_endpoint
    for service, endpoint in endpoints.items():
        (statement,) = _properties(vpc_synthesized, endpoint)["PolicyDocument"]["Statement"]
        principals = {p["Fn::GetAtt"][0] for p in _as_list(statement["Principal"]["AWS"])}
        assert principals == set(roles), service
        assert set(_as_list(statement["Action"])) == granted[service], service
    # Every AWS API the roles may call from inside is reachable: an endpoint for it, or AWS calls it for them.
    assert set(granted) - set(endpoints) <= NOT_THROUGH_ENDPOINTS, set(granted) - set(endpoints)


def test_kms_is_only_used_through_the_owning_service(vpc_synthesized: Synthesized) -> None:
    """Why no KMS endpoint: every key use of an in-VPC role is made by DynamoDB, SNS or EC2 on its behalf."""
    roles = set(_in_vpc_roles(vpc_synthesized))
    for policy in vpc_synthesized.of_type("AWS::IAM::Policy").values():
        if not {r["Ref"] for r in policy["Properties"]["Roles"]} & roles:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(action.startswith("kms:") for action in _as_list(statement["Action"])):
                assert "kms:ViaService" in json.dumps(statement.get("Condition")), statement


@pytest.mark.parametrize(
    ("variant", "spec"),
    [
        *(pytest.param("vpc_synthesized", spec, id=spec.service) for spec in ENDPOINTS),
        *(pytest.param("eks_vpc_synthesized", spec, id=spec.service) for spec in (EKS_ENDPOINT, STS_ENDPOINT)),
    ],
)
def test_botocore_sends_each_service_to_its_endpoint(
    variant: str, spec: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    vpc_synthesized: Synthesized = request.getfixturevalue(variant)
    network = vpc_synthesized.stack.network
    assert network is not None
    endpoint_id = vpc_synthesized.logical_id(network.interface_endpoints[spec.construct_id])
    for name in IN_VPC:
        (function,) = [f for f in vpc_synthesized.stack.functions if f.spec.name == name]
        variables = _properties(vpc_synthesized, function.function)["Environment"]["Variables"]
        assert endpoint_id in json.dumps(variables[spec.endpoint_url_setting]), name
    url = "https://vpce-0123456789abcdef0-abcdefgh.example.vpce.amazonaws.com"
    monkeypatch.setenv(spec.endpoint_url_setting, url)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    client = boto3.session.Session().client(
        BOTO_SERVICES[spec.service], region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    assert client.meta.endpoint_url == url


# --- EKS clusters in the configuration file ----------------------------------------------------------------


def _joined(value: Any) -> str:
    """An ARN built by format_arn, its partition token written as `aws`."""
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(part if isinstance(part, str) else "aws" for part in value["Fn::Join"][1])
    return str(value)


def test_eks_clusters_are_described_by_name_and_their_role_assumed_nothing_wider(
    eks_vpc_synthesized: Synthesized,
) -> None:
    roles = _in_vpc_roles(eks_vpc_synthesized)
    grants: dict[str, set[str]] = defaultdict(set)
    for policy in eks_vpc_synthesized.of_type("AWS::IAM::Policy").values():
        if {r["Ref"] for r in policy["Properties"]["Roles"]} & set(roles):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                for action in _as_list(statement["Action"]):
                    if action.split(":")[0] in ("eks", "sts"):
                        grants[action] |= {_joined(r) for r in _as_list(statement["Resource"])}
    assert dict(grants) == {
        "eks:DescribeCluster": {"arn:aws:eks:us-east-1:123456789012:cluster/prod-east-2"},
        "sts:AssumeRole": {"arn:aws:iam::123456789012:role/ferry-eks"},
    }
    # Functions that call no cluster get neither.
    outside = {eks_vpc_synthesized.logical_id(f.role) for f in eks_vpc_synthesized.stack.functions if not f.network}
    assert not {a for a in _granted(eks_vpc_synthesized, outside) if a in ("eks", "sts")}


def test_eks_private_api_endpoints_are_reachable_on_443_in_the_vpc(eks_vpc_synthesized: Synthesized) -> None:
    network = eks_vpc_synthesized.stack.network
    assert network is not None
    egress = _properties(eks_vpc_synthesized, network.security_group)["SecurityGroupEgress"]
    to_vpc = {(r["FromPort"], r["ToPort"]) for r in egress if r.get("CidrIp") == VPC_CONTEXT["vpc"]["cidr"]}
    assert to_vpc == {(KUBERNETES_API_PORT, KUBERNETES_API_PORT), (HTTPS_PORT, HTTPS_PORT)}
    assert {spec.service for spec in network.endpoints} - {spec.service for spec in ENDPOINTS} == {"eks", "sts"}
    test_cdk_nag.test_synth_with_aws_solutions_checks_reports_nothing(eks_vpc_synthesized)


# --- permissions for the network interfaces --------------------------------------------------------------


def test_interfaces_are_created_only_in_the_functions_subnets_with_their_group(vpc_synthesized: Synthesized) -> None:
    network = vpc_synthesized.stack.network
    assert network is not None
    (probe,) = [f for f in vpc_synthesized.stack.functions if f.spec.name == "probe"]
    role = {"Ref": vpc_synthesized.logical_id(probe.role)}
    creates = [
        statement
        for policy in vpc_synthesized.of_type("AWS::IAM::Policy").values()
        if role in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ec2:CreateNetworkInterface" in _as_list(statement["Action"])
    ]
    resources = json.dumps([statement["Resource"] for statement in creates])
    for subnet in SUBNETS:
        assert f":subnet/{subnet}" in resources
    assert vpc_synthesized.logical_id(network.security_group) in resources
    assert ":network-interface/*" in resources
    assert "subnet/*" not in resources and "security-group/*" not in resources


# --- the stack's other checks hold inside the VPC too ----------------------------------------------------


def test_cdk_nag_reports_nothing_inside_the_vpc_and_each_acknowledgement_says_why(
    vpc_synthesized: Synthesized,
) -> None:
    test_cdk_nag.test_synth_with_aws_solutions_checks_reports_nothing(vpc_synthesized)
    test_cdk_nag.test_every_acknowledgement_is_on_one_resource_with_a_reason(vpc_synthesized)


def test_iam_conditions_still_name_only_the_conventions_tags(vpc_synthesized: Synthesized) -> None:
    test_cdk_conventions.test_every_tag_condition_names_a_tag_of_the_module_with_its_value(vpc_synthesized)
    test_cdk_conventions.test_names_in_the_policies_use_the_modules_prefixes(vpc_synthesized)
