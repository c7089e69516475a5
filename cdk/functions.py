"""FerryFunction: one Ferry Lambda function, the same way every time.

Every function Ferry adds later (probe, detector, executor steps...) differs only in its FunctionSpec
(cdk/constants.py); the rest is decided once here: Python 3.12 on arm64, the shared layers, Powertools
settings, X-Ray, an explicit log group with retention, and a role of its own that starts empty. The role
gets no managed policy (AWSLambdaBasicExecutionRole would allow writing to every log group of the account):
only its own log group, and what the owning constructs grant (the table, the topic, a queue...). A function
that talks to clusters (the kubernetes layer) may read the clusters' credentials, and no other secret.
"""

from __future__ import annotations

import re

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk.bundling import function_code
from cdk.constants import (
    ARCHITECTURE,
    CLUSTER_SECRET_PREFIX,
    FUNCTIONS_DIR,
    HANDLER,
    LOG_REMOVAL_POLICY,
    LOG_RETENTION,
    METRICS_NAMESPACE,
    RUNTIME,
    SERVICE_NAME,
    FunctionSpec,
)
from cdk.grants import arn_pattern, scoped_policy
from cdk.layers import FerryLayers
from cdk.network import FerryNetwork
from cdk.notifications import FerryNotifications
from cdk.settings import Settings
from cdk.state import FerryState
from ferry.domain.clusters import ClusterKind

_READ_ONLY_ACTION = re.compile(r"^[a-z0-9-]+:(Describe|Get|List)[A-Za-z]*$")


class FerryFunction(Construct):
    """A Ferry function that can read and write the state table and notify operators."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        settings: Settings,
        layers: FerryLayers,
        state: FerryState,
        notifications: FerryNotifications,
        network: FerryNetwork | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        # Only functions that talk to clusters go into the VPC (cdk/network.py); the others need no private address.
        self.network = network if spec.kubernetes else None
        self.log_group = self._build_log_group(spec)
        self.role = self._build_role(spec, self.log_group)
        self.function = self._build_function(spec, settings, layers, state, notifications)
        if self.network is not None:
            self.network.grant_interfaces(self, self.role, self.function)
        state.grant_read_write(self.function)
        notifications.grant_publish(self.function)
        if spec.unscoped_reads:
            self._build_unscoped_reads(spec)
        if spec.kubernetes:
            self._build_cluster_credentials()
            self._build_eks_access(settings)
        self._acknowledge_tracing()
        self._acknowledge_runtime()

    def _build_log_group(self, spec: FunctionSpec) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"/aws/lambda/{spec.function_name}",
            retention=LOG_RETENTION,
            removal_policy=LOG_REMOVAL_POLICY,
        )

    def _build_role(self, spec: FunctionSpec, log_group: logs.LogGroup) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {spec.function_name}; least privilege, no managed policies",
        )
        # The log group exists before the function (it is created above), so no logs:CreateLogGroup.
        # Its ARN ends in ":*", which covers its log streams.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        return role

    def _build_function(
        self,
        spec: FunctionSpec,
        settings: Settings,
        layers: FerryLayers,
        state: FerryState,
        notifications: FerryNotifications,
    ) -> lambda_.Function:
        placement = self.network.function_options() if self.network is not None else {}
        endpoints = self.network.endpoint_urls() if self.network is not None else {}
        return lambda_.Function(
            self,
            "Function",
            function_name=spec.function_name,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=function_code(FUNCTIONS_DIR / spec.name),
            layers=layers.for_function(spec),
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            reserved_concurrent_executions=spec.reserved_concurrency,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "LOG_LEVEL": settings.log_level,
                "FERRY_TABLE": state.table.table_name,
                "FERRY_TOPIC_ARN": notifications.topic.topic_arn,
                "FERRY_MODE": settings.mode,
                **endpoints,
            },
            **placement,  # type: ignore[arg-type]
        )

    def _build_unscoped_reads(self, spec: FunctionSpec) -> None:
        writes = [action for action in spec.unscoped_reads if not _READ_ONLY_ACTION.match(action)]
        if writes:
            raise ValueError(f"{spec.name}: unscoped_reads accepts only Describe/Get/List actions, got {writes}")
        policy = iam.Policy(
            self,
            "UnscopedReads",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    actions=list(spec.unscoped_reads),
                    resources=["*"],
                    conditions={"StringEquals": {"aws:RequestedRegion": Stack.of(self).region}},
                )
            ],
        )
        # Attached before the function can be invoked, not some time during the same deployment.
        self.function.node.add_dependency(policy)
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    f"{', '.join(spec.unscoped_reads)}: read-only EC2 calls that support no resource-level "
                    "permissions, so AWS requires Resource '*'; limited to this stack's region and kept in this "
                    "separate policy so that nothing else of the role can be a wildcard."
                ),
            )
        )

    def _build_cluster_credentials(self) -> None:
        # Self-managed clusters' tokens (ferry.adapters.kube.credentials_for); EKS clusters need no secret.
        secrets = arn_pattern(
            self, "secretsmanager", "secret", f"{CLUSTER_SECRET_PREFIX}*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        scoped_policy(
            self,
            "ClusterCredentials",
            role=self.role,
            statements=[iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secrets])],
            reason=(
                f"Cluster credentials are secrets named {CLUSTER_SECRET_PREFIX}<cluster> in this account and region, "
                "created when a cluster is registered, after this stack is deployed, and their ARNs end in a random "
                "suffix; the prefix is the narrowest name that covers them, and only GetSecretValue is allowed."
            ),
            dependent=self.function,
        )

    def _build_eks_access(self, settings: Settings) -> None:
        """The configuration file's EKS clusters: DescribeCluster on each one's ARN (endpoint and CA), and
        AssumeRole on the roles their tokens are signed as (ferry.adapters.eks). Nothing without EKS clusters."""
        clusters = [c for c in settings.configuration.clusters if c.kind is ClusterKind.EKS]
        if clusters:
            stack = Stack.of(self)
            arns = sorted(
                {
                    stack.format_arn(
                        service="eks", region=c.region, resource="cluster", resource_name=c.eks_cluster_name
                    )
                    for c in clusters
                }
            )
            self.role.add_to_policy(iam.PolicyStatement(actions=["eks:DescribeCluster"], resources=arns))
        roles = sorted({c.eks_role_arn for c in clusters if c.eks_role_arn})
        if roles:
            self.role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=roles))

    def _acknowledge_runtime(self) -> None:
        Validations.of(self.function).acknowledge(
            Acknowledgment(
                id="AwsSolutions-L1",
                reason=(
                    f"Pinned to {RUNTIME.name} on purpose: the dependency layers are resolved and their bytecode "
                    "precompiled for exactly this version (cdk/bundling.py) and the test suite runs on it; moving "
                    "to a newer runtime is a deliberate upgrade of all of them together."
                ),
            )
        )

    def _acknowledge_tracing(self) -> None:
        # Tracing.ACTIVE makes CDK add xray:PutTraceSegments and xray:PutTelemetryRecords to the role's
        # default policy; X-Ray has no resource-level permissions for them. Acknowledged on that policy only,
        # and tests/infrastructure check that X-Ray is the only Resource "*" in it.
        default_policy = self.role.node.find_child("DefaultPolicy")
        Validations.of(default_policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason=(
                    "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support "
                    "resource-level permissions, so AWS requires Resource '*' for them; every other statement "
                    "of this role names its resources."
                ),
            )
        )
