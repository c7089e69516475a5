"""Ferry's state: one DynamoDB table for zone and control-plane state, registrations, signals, locks,
idempotency records and the audit log.

One table because every access is by key (no scans), the items are small, and conditional writes on one
table are what makes two signals for the same failure start one evacuation (DESIGN.md invariant 4). The
table is retained and protected from deletion: it holds the audit trail and the replica counts that
failback must restore, and its key is retained with it (a retained table whose key is deleted would be
unreadable).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk.constants import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE
from cdk.grants import grant_key_via_service

# What a Ferry function may do on the table: single-item reads and conditional writes (zone state with a
# `version` check, locks, idempotency), queries within one partition (signals, audit), and transactions
# (which need the per-item actions plus ConditionCheckItem). No Scan, no table management.
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
# What DynamoDB does with the customer managed key on the caller's behalf, for reads and writes.
TABLE_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


class FerryState(Construct):
    """The Ferry table. Partition key `pk` (S), sort key `sk` (S), TTL `expires_at` (N, epoch seconds).

    | item | pk | sk | notes |
    |---|---|---|---|
    | zone state | `ZONE#<region>#<zone>` | `STATE` | `version` (N) for conditional writes |
    | control-plane state | `CLUSTER#<cluster>` | `CONTROL_PLANE` | `version` (N) |
    | cluster registration | `REGISTRY` | `CLUSTER#<cluster>` | endpoint, kind (eks/self-managed), zones |
    | federated app | `FEDERATION` | `APP#<namespace>/<name>` | replicas, per-cluster weight/min/max |
    | recorded signal | `SIGNAL#<zone or cluster or region>` | `<observed_at ISO>#<kind>#<source_id>` | TTL 7 days |
    | lock | `LOCK#<name>` | `LOCK` | owner, TTL |
    | idempotency (Powertools) | `idempotency#<function>` | hashed key | sort-key mode, expiry attr `expires_at` |
    | audit record | `AUDIT#<YYYY-MM-DD>` | `<ISO timestamp>#<action id>` | who/what/why, TTL 400 days |

    The source of truth for this design is docs/CONVENTIONS.md.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = self._build_key()
        self.table = self._build_table(self.key)

    def grant_read_write(self, grantee: iam.IGrantable) -> None:
        """Item-level reads and (conditional) writes, and the key uses they imply; nothing else."""
        self.table.grant(grantee, *TABLE_ACTIONS)
        grant_key_via_service(grantee, self.key, "dynamodb", TABLE_KEY_ACTIONS)

    def _build_key(self) -> kms.Key:
        return kms.Key(
            self,
            "Key",
            description="Ferry state table encryption",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_table(self, key: kms.Key) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
