"""Key grants shared by the constructs that own a customer managed key.

CDK's own `grant*` helpers give the caller wildcard KMS actions (`kms:GenerateDataKey*`, `kms:ReEncrypt*`)
usable from anywhere. Ferry's functions only ever use a key through the service that owns the data, so the
grants here name the exact actions and add `kms:ViaService`: a stolen role cannot decrypt with the key
directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms


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
