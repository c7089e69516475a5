"""State: the one DynamoDB table keeps its data through mistakes (PITR, retain, deletion protection)."""

from __future__ import annotations

import pytest

from tests.infrastructure.synthesis import Synthesized

pytestmark = pytest.mark.xdist_group("cdk-synth")


def test_table_keys_and_billing_follow_the_conventions(synthesized: Synthesized) -> None:
    table = synthesized.resources[synthesized.logical_id(synthesized.stack.state.table)]["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert "GlobalSecondaryIndexes" not in table, "every access is by key (docs/CONVENTIONS.md)"


def test_table_is_recoverable_and_survives_stack_deletion(synthesized: Synthesized) -> None:
    table = synthesized.resources[synthesized.logical_id(synthesized.stack.state.table)]
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_table_is_encrypted_with_a_retained_rotated_customer_key(synthesized: Synthesized) -> None:
    state = synthesized.stack.state
    key_id = synthesized.logical_id(state.key)
    table = synthesized.resources[synthesized.logical_id(state.table)]["Properties"]
    assert table["SSESpecification"] == {
        "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
    key = synthesized.resources[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain", "a retained table is unreadable without its key"


def test_key_design_is_documented_on_the_construct() -> None:
    from cdk.state import FerryState

    doc = FerryState.__doc__ or ""
    for pk in ("ZONE#<region>#<zone>", "CLUSTER#<cluster>", "SIGNAL#", "LOCK#<name>", "idempotency#", "AUDIT#"):
        assert pk in doc
