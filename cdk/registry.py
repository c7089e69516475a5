"""FerryRegistry: what the configuration file declares (member clusters, federated apps) written into the table.

One AwsCustomResource per item, so that CloudFormation does the bookkeeping: an entry added to the file is put
on the next deploy, a changed one is put again, and a removed one is deleted (its resource leaves the stack).
Items written by hand (`aws dynamodb put-item`, before this file existed) are neither read nor touched.

The custom resources' function (one, shared by the stack, with a role of its own made here) may only put and
delete items whose partition is the registry's or the federation's (`dynamodb:LeadingKeys`), on this table,
using its key through DynamoDB alone, and write its logs.
The item format is the one the functions read (`ferry.adapters.registry`): the keys come from
`ferry.domain.conventions`, the attributes from the models' own `to_dict`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from boto3.dynamodb.types import TypeSerializer
from constructs import Construct

from cdk.grants import grant_key_via_service
from cdk.state import FerryState
from ferry.domain.configuration import Configuration
from ferry.domain.conventions import APP_KEY_PREFIX, CLUSTER_KEY_PREFIX, FEDERATION_PARTITION, REGISTRY_PARTITION

_serialize = TypeSerializer().serialize
# What DynamoDB does with the table's key on the writer's behalf.
_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


class FerryRegistry(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, state: FerryState, configuration: Configuration) -> None:
        super().__init__(scope, construct_id)
        self._state = state
        self._role: iam.Role | None = None
        self.items: list[cr.AwsCustomResource] = []
        for cluster in configuration.clusters:
            key = {"pk": REGISTRY_PARTITION, "sk": f"{CLUSTER_KEY_PREFIX}{cluster.name}"}
            self.items.append(self._build_item(f"Cluster-{cluster.name}", key, {"registration": cluster.to_dict()}))
        for app in configuration.apps:
            key = {"pk": FEDERATION_PARTITION, "sk": f"{APP_KEY_PREFIX}{app.key}"}
            self.items.append(self._build_item(f"App-{app.namespace}.{app.name}", key, {"app": app.to_dict()}))

    def _build_item(self, construct_id: str, key: dict[str, str], attributes: dict[str, Any]) -> cr.AwsCustomResource:
        table = self._state.table.table_name
        put = cr.AwsSdkCall(
            service="DynamoDB",
            action="putItem",
            parameters={"TableName": table, "Item": _item({**key, **attributes})},
            physical_resource_id=cr.PhysicalResourceId.of(f"{key['pk']}/{key['sk']}"),
        )
        delete = cr.AwsSdkCall(
            service="DynamoDB", action="deleteItem", parameters={"TableName": table, "Key": _item(key)}
        )
        return cr.AwsCustomResource(
            self,
            construct_id,
            on_create=put,
            on_update=put,
            on_delete=delete,
            role=self._provider_role(),
            install_latest_aws_sdk=False,  # deploys offline of npm; the runtime's SDK has PutItem and DeleteItem
        )

    def _provider_role(self) -> iam.Role:
        """One role for the provider (one policy whatever the number of items, within IAM's size limits):
        put and delete the registry's and the federation's items of this table, through its key."""
        if self._role is not None:
            return self._role
        self._role = iam.Role(
            self,
            "ProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Ferry: writes the configuration file's clusters and apps into the registry on deploy",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole")
            ],
        )
        self._role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self._state.table.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [REGISTRY_PARTITION, FEDERATION_PARTITION]}
                },
            )
        )
        grant_key_via_service(self._role, self._state.key, "dynamodb", _KEY_ACTIONS)
        Validations.of(self._role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                reason="The deploy-time provider that writes the registry needs only its own logs beyond the registry "
                "items: the basic execution policy grants exactly that (log group, stream, events), and the provider "
                "function's name, hence its log group, is chosen by the CDK at deploy time.",
            )
        )
        return self._role


def _item(plain: dict[str, Any]) -> dict[str, Any]:
    """A dict as DynamoDB's typed JSON ({"S": ...}, {"N": ...}, {"M": ...}), which the SDK call passes through."""
    return {key: _serialize(_numbers(value)) for key, value in plain.items()}


def _numbers(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_numbers(v) for v in value]
    return value
