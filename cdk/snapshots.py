"""Snapshots: the schedule that keeps every pet's newest snapshot within its RPO, and what it may do in EBS.

A pet re-homed with the `snapshot` policy comes back with the data of its newest snapshot, so the RPO a
person annotated (`ferry.io/max-rpo`) is only kept if a snapshot is taken before anything fails. The
snapshot-schedule function runs every five minutes (docs/REHOMING.md). It is the only part of Ferry that
may delete anything in EC2, and then only snapshots that carry the schedule's own tag (DESIGN.md invariant
2): IAM enforces it here, whatever the code believes, and the adapter re-reads the tag before each delete.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk.constants import SNAPSHOT_PERIOD
from cdk.functions import FerryFunction
from cdk.grants import arn_pattern, scoped_policy
from cdk.schedules import schedule_function
from ferry.domain.conventions import MANAGED_TAG, MANAGED_VALUE, SCHEDULE_TAG

# The Ferry package's setting for the period it plans against; it must equal the rule's rate.
PERIOD_SETTING = "FERRY_SNAPSHOT_PERIOD_SECONDS"


class FerrySnapshots(Construct):
    """The snapshot schedule and its EC2 permissions."""

    def __init__(self, scope: Construct, construct_id: str, *, function: FerryFunction) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        function.function.add_environment(PERIOD_SETTING, str(int(SNAPSHOT_PERIOD.to_seconds())))
        self.rule = schedule_function(
            self,
            "Schedule",
            function=function,
            every=SNAPSHOT_PERIOD,
            description=f"Runs {function.spec.function_name} every {int(SNAPSHOT_PERIOD.to_minutes())} minutes",
        )
        self._grant_snapshots(function)

    def _grant_snapshots(self, function: FerryFunction) -> None:
        volumes = arn_pattern(self, "ec2", "volume", "*")
        snapshots = arn_pattern(self, "ec2", "snapshot", "*", account=False)  # snapshot ARNs carry no account
        scoped_policy(
            self,
            "SnapshotPermissions",
            role=function.role,
            statements=[
                # New snapshots: only with Ferry's and the schedule's tags, written in the same call.
                iam.PolicyStatement(
                    actions=["ec2:CreateSnapshot"],
                    resources=[snapshots],
                    conditions={
                        "StringEquals": {f"aws:RequestTag/{MANAGED_TAG}": MANAGED_VALUE},
                        "Null": {f"aws:RequestTag/{SCHEDULE_TAG}": "false"},
                    },
                ),
                iam.PolicyStatement(actions=["ec2:CreateSnapshot"], resources=[volumes]),
                iam.PolicyStatement(
                    actions=["ec2:CreateTags"],
                    resources=[snapshots],
                    conditions={"StringEquals": {"ec2:CreateAction": "CreateSnapshot"}},
                ),
                # Pruning: only the schedule's own snapshots (DESIGN.md invariant 2).
                iam.PolicyStatement(
                    actions=["ec2:DeleteSnapshot"],
                    resources=[snapshots],
                    conditions={
                        "Null": {f"aws:ResourceTag/{SCHEDULE_TAG}": "false"},
                        "StringEquals": {f"aws:ResourceTag/{MANAGED_TAG}": MANAGED_VALUE},
                    },
                ),
            ],
            reason=(
                "The schedule snapshots pets' volumes and prunes its own snapshots, all of which exist only at run "
                f"time: new snapshots must carry {MANAGED_TAG}={MANAGED_VALUE} and {SCHEDULE_TAG}, and a snapshot may "
                f"be deleted only if it carries both (the schedule's own); volumes are only read from."
            ),
            dependent=function.function,
        )
