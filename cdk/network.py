"""Ferry inside a VPC: the functions that talk to clusters reach private API endpoints, and AWS through endpoints.

A self-managed cluster's API sits behind an internal load balancer (and each control-plane member answers on
its private address), so a function outside the VPC cannot reach it. With the `vpc` setting (README,
docs/NETWORK.md) the functions that talk to Kubernetes (`FunctionSpec.kubernetes`: the probe, the runbook
steps that read or change clusters, the snapshot schedule) get a network interface in a private subnet of
every zone. Ingest and the runbooks' report call no cluster and stay outside.

What they may reach, and nothing else (their security group has no other egress):

- the Kubernetes API endpoints: TCP 6443 in the VPC's address block;
- the AWS APIs they call, through VPC endpoints: interface endpoints (EC2, Secrets Manager, SNS, Step
  Functions, Auto Scaling: cdk/constants.py ENDPOINTS says which action each serves) on 443, and DynamoDB's
  gateway endpoint through its prefix list on 443. No NAT: a NAT gateway would give them the internet.

Choices a reviewer should know:

- The interface endpoints have **no private DNS**: private DNS would resolve e.g. `ec2.<region>.amazonaws.com`
  to these endpoints for everything in the VPC, and a cluster's nodes (its EBS CSI driver, kubeadm reading
  Secrets Manager) would then be refused by endpoints that admit only Ferry; a VPC that already has an
  endpoint for one of these services with private DNS could not get a second. The functions are pointed at
  the endpoints by name instead, through the variables botocore reads (`AWS_ENDPOINT_URL_<service id>`).
- Each endpoint's policy allows the in-VPC functions' roles, and only the actions they are granted on that
  service; tests/infrastructure/test_cdk_network.py checks that it is exactly that set.
- DynamoDB's gateway endpoint adds a route to the given subnets' route tables, and its policy admits only
  Ferry's roles to Ferry's table: other workloads routed through those tables would lose DynamoDB, so give
  Ferry subnets with route tables of their own (docs/NETWORK.md; `SelfManagedCluster`'s VPC has them).
- Not needed as endpoints: CloudWatch Logs and metrics (the functions log, and write metrics as EMF log
  lines, through Lambda itself), X-Ray (segments go to Lambda's own daemon), KMS (the table, topic and
  volumes use their keys through the owning service: `kms:ViaService`), STS (EKS tokens are presigned
  offline; EKS calls STS), SQS (only ingest reads the queue, outside the VPC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Fn, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk.constants import ENDPOINTS, HTTPS_PORT, KUBERNETES_API_PORT, EndpointSpec
from cdk.grants import arn_pattern, scoped_policy
from cdk.settings import VpcSetting
from cdk.state import TABLE_ACTIONS

# What Lambda does with a VPC function's role to give it network interfaces (AWSLambdaVPCAccessExecutionRole,
# which Ferry does not attach: managed policies are not scoped to these subnets).
INTERFACE_WRITES = (
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
INTERFACE_READS = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")


@dataclass(frozen=True)
class Placement:
    """Where the in-VPC functions go: a VPC, one private subnet per zone, and the block the APIs are in."""

    vpc: ec2.IVpc
    subnets: tuple[ec2.ISubnet, ...]
    api_cidr: str  # Kubernetes API endpoints (load balancers, control-plane members) are addresses in it

    @classmethod
    def imported(cls, scope: Construct, setting: VpcSetting) -> Placement:
        """An existing VPC from the `vpc` setting: built from its attributes, never looked up (offline synth)."""
        vpc = ec2.Vpc.from_vpc_attributes(
            scope,
            "Vpc",
            vpc_id=setting.id,
            vpc_cidr_block=setting.cidr,
            availability_zones=list(setting.zones),
            private_subnet_ids=[subnet.id for subnet in setting.subnets],
            private_subnet_route_table_ids=[subnet.route_table for subnet in setting.subnets],
        )
        return cls(vpc=vpc, subnets=tuple(vpc.private_subnets), api_cidr=setting.cidr)


class FerryNetwork(Construct):
    """The functions' security group, the VPC endpoints with their policies, and how a function is placed."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        placement: Placement,
        dynamodb_prefix_list: str,
        table_arn: str,
        endpoints: Sequence[EndpointSpec] = ENDPOINTS,
        eks_apis: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.placement = placement
        self.endpoints = tuple(endpoints)
        self.security_group = ec2.SecurityGroup(
            self,
            "Functions",
            vpc=placement.vpc,
            description="Ferry in-VPC functions: Kubernetes APIs (6443) and the Ferry VPC endpoints (443) only",
            allow_all_outbound=False,
        )
        self.endpoints_security_group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=placement.vpc,
            description="Ferry VPC endpoints: HTTPS from the Ferry in-VPC functions only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.ipv4(placement.api_cidr), ec2.Port.tcp(KUBERNETES_API_PORT), "Kubernetes API endpoints"
        )
        if eks_apis:  # an EKS cluster's private API endpoint listens on 443, not 6443
            self.security_group.add_egress_rule(
                ec2.Peer.ipv4(placement.api_cidr), ec2.Port.tcp(HTTPS_PORT), "EKS clusters' private API endpoints"
            )
        self.security_group.connections.allow_to(
            self.endpoints_security_group, ec2.Port.tcp(HTTPS_PORT), "the Ferry interface endpoints"
        )
        self.security_group.add_egress_rule(
            ec2.Peer.prefix_list(dynamodb_prefix_list), ec2.Port.tcp(HTTPS_PORT), "the DynamoDB gateway endpoint"
        )
        self.interface_endpoints = {spec.construct_id: self._build_interface_endpoint(spec) for spec in self.endpoints}
        self.dynamodb_endpoint = ec2.GatewayVpcEndpoint(
            self,
            "DynamoDb",
            vpc=placement.vpc,
            service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
            subnets=[ec2.SubnetSelection(subnets=list(placement.subnets))],
        )
        self._table_arn = table_arn

    def _build_interface_endpoint(self, spec: EndpointSpec) -> ec2.InterfaceVpcEndpoint:
        return ec2.InterfaceVpcEndpoint(
            self,
            spec.construct_id,
            vpc=self.placement.vpc,
            service=ec2.InterfaceVpcEndpointAwsService(spec.service),
            subnets=ec2.SubnetSelection(subnets=list(self.placement.subnets)),
            security_groups=[self.endpoints_security_group],
            private_dns_enabled=False,  # see the module docstring
            open=False,  # no ingress from the whole VPC: only the rule from the functions' group
        )

    # --- placing a function --------------------------------------------------------------------------------

    def function_options(self) -> dict[str, object]:
        """The `lambda_.Function` arguments that put a function in the private subnets with its group."""
        return {
            "vpc": self.placement.vpc,
            "vpc_subnets": ec2.SubnetSelection(subnets=list(self.placement.subnets)),
            "security_groups": [self.security_group],
            "allow_public_subnet": False,
        }

    def endpoint_urls(self) -> dict[str, str]:
        """`AWS_ENDPOINT_URL_<service id>` -> https://<regional DNS name>, for every interface endpoint."""
        urls = {}
        for spec in self.endpoints:
            if spec.endpoint_url_setting is None:
                continue
            endpoint = self.interface_endpoints[spec.construct_id]
            # DnsEntries are "<hosted zone id>:<name>"; the first is the regional name, the others per zone.
            name = Fn.select(1, Fn.split(":", Fn.select(0, endpoint.vpc_endpoint_dns_entries)))
            urls[spec.endpoint_url_setting] = Fn.join("", ["https://", name])
        return urls

    def grant_interfaces(self, scope: Construct, role: iam.IRole, function: lambda_.IFunction) -> None:
        """What Lambda needs of the role to give the function its interfaces in these subnets, with this group."""
        region = Stack.of(self).region
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:CreateNetworkInterface"],
                resources=[
                    *(arn_pattern(self, "ec2", "subnet", subnet.subnet_id) for subnet in self.placement.subnets),
                    arn_pattern(self, "ec2", "security-group", self.security_group.security_group_id),
                ],
            )
        )
        scoped_policy(
            scope,
            "NetworkInterfaces",
            role=role,
            statements=[
                iam.PolicyStatement(
                    actions=list(INTERFACE_WRITES), resources=[arn_pattern(self, "ec2", "network-interface", "*")]
                )
            ],
            reason=(
                "Lambda creates and deletes the function's network interfaces with its role at run time, so their "
                "ids are unknown at deploy time; limited to this account and region, and creation also needs the "
                "function's own subnets and security group, which are named."
            ),
            dependent=function,
        )
        reads = iam.Policy(
            scope,
            "NetworkInterfaceReads",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=list(INTERFACE_READS),
                    resources=["*"],
                    conditions={"StringEquals": {"aws:RequestedRegion": region}},
                )
            ],
        )
        function.node.add_dependency(reads)
        Validations.of(reads).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    f"{', '.join(INTERFACE_READS)}: what Lambda reads to manage a VPC function's interfaces; these "
                    "Describe calls support no resource-level permissions, so AWS requires Resource '*'; this "
                    "stack's region only, in a policy of its own."
                ),
            )
        )

    # --- the endpoints' policies ------------------------------------------------------------------------

    def allow(self, roles: Sequence[iam.IRole]) -> None:
        """Each endpoint admits these roles (the in-VPC functions'), for the actions Ferry uses through it only."""
        principals = [iam.ArnPrincipal(role.role_arn) for role in roles]
        for spec in self.endpoints:
            self.interface_endpoints[spec.construct_id].add_to_policy(
                iam.PolicyStatement(principals=list(principals), actions=list(spec.actions), resources=["*"])
            )
        self.dynamodb_endpoint.add_to_policy(
            iam.PolicyStatement(principals=list(principals), actions=list(TABLE_ACTIONS), resources=[self._table_arn])
        )
