"""Grants shared by several constructs: keys used through a service, and policies whose resources are a pattern.

CDK's own `grant*` helpers give the caller wildcard KMS actions (`kms:GenerateDataKey*`, `kms:ReEncrypt*`)
usable from anywhere. Ferry's functions only ever use a key through the service that owns the data, so the
grants here name the exact actions and add `kms:ViaService`: a stolen role cannot decrypt with the key
directly.

Some resources cannot be named at deploy time (the instances of clusters registered later, the volumes a
re-home will create, the secrets of clusters not yet bootstrapped). Those permissions name a resource
pattern of this account and region and carry a condition that narrows them to what Ferry owns (a tag, a
service). Each goes into a policy of its own, with the cdk-nag acknowledgement for exactly that pattern and
the reason next to it, so that nothing else in the role can hide behind the same acknowledgement.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def grant_key_via_service(grantee: iam.IGrantable, key: kms.IKey, service: str, actions: Sequence[str]) -> None:
    """Allow `actions` on `key` only when called by `service` (e.g. "sqs") in this stack's region."""
    region = Stack.of(key).region
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(actions),
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}},
        )
    )


def arn_pattern(
    scope: Construct,
    service: str,
    resource: str,
    resource_name: str,
    *,
    account: bool = True,
    arn_format: ArnFormat = ArnFormat.SLASH_RESOURCE_NAME,
) -> str:
    """An ARN pattern in this stack's region (and account, unless the service's ARNs have none: snapshots)."""
    return Stack.of(scope).format_arn(
        service=service,
        resource=resource,
        resource_name=resource_name,
        account=None if account else "",
        arn_format=arn_format,
    )


def nag_resource(scope: Construct, pattern: str) -> str:
    """How cdk-nag names a Resource finding for an ARN pattern built by `arn_pattern`."""
    stack = Stack.of(scope)
    resolved = stack.resolve(pattern)
    if isinstance(resolved, str):
        return f"Resource::{resolved}"
    # {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ec2:..."]]}: cdk-nag writes Refs as <name>, and
    # attributes as <logical id.attribute> (a bucket's ARN followed by an object key pattern).
    parts = resolved["Fn::Join"][1]
    return "Resource::" + "".join(_nag_part(part) for part in parts)


def _nag_part(part: str | dict[str, list[str] | str]) -> str:
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"<{part['Ref']}>"
    logical_id, attribute = part["Fn::GetAtt"]
    return f"<{logical_id}.{attribute}>"


def scoped_policy(
    scope: Construct,
    construct_id: str,
    *,
    role: iam.IRole,
    statements: Sequence[iam.PolicyStatement],
    reason: str,
    dependent: Construct | None = None,
) -> iam.Policy:
    """A policy of its own for statements on resource patterns, acknowledged for exactly those patterns.

    `dependent` (the function or state machine using the role) is made to wait for the policy, so that it is
    never invoked before its permissions exist.
    """
    policy = iam.Policy(scope, construct_id, roles=[role], statements=list(statements))
    if dependent is not None:
        dependent.node.add_dependency(policy)
    findings = dict.fromkeys(nag_resource(scope, r) for statement in statements for r in statement.resources)
    for finding in (f for f in findings if "*" in f):
        Validations.of(policy).acknowledge(Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason))
    return policy
