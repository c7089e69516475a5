"""The names IAM and Ferry's code must agree on: tags, name prefixes, the runbooks' retry policy.

IAM lets Ferry touch a resource only if it carries one of these tags, or is named with one of these
prefixes (cdk/ writes the conditions), and Ferry's code writes those tags and names (the snapshot schedule,
the re-homing planner and executor). moto does not enforce IAM, so if the two sides drifted apart every test
would still pass and the first real evacuation would be refused. Both sides import this module instead:
cdk/ too (cdk/__init__.py puts the Ferry layer on its path for this module alone), and
tests/infrastructure/test_cdk_conventions.py checks every IAM condition of the synthesized stack and every
tag the code writes against it.

Pure data on purpose: nothing here imports anything but the standard library, so the CDK app can import it
without importing the rest of Ferry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# --- tags --------------------------------------------------------------------------------------------------
TAG_PREFIX: Final = "ferry:"  # every tag key Ferry writes starts with it; IAM lets Ferry write only those
MANAGED_TAG: Final = "ferry:managed"  # on everything Ferry creates (volumes, snapshots)...
MANAGED_VALUE: Final = "true"  # ...with this value: IAM requires both on CreateVolume and CreateSnapshot
CLUSTER_TAG: Final = "ferry:cluster"  # on every instance of a cluster Ferry protects, and on what Ferry creates
PET_TAG: Final = "ferry:pet"  # <namespace>/<claim> of the pet a volume or snapshot belongs to
RUN_TAG: Final = "ferry:run"  # the run (execution name) that created a volume
RESTORED_FROM_TAG: Final = "ferry:restored-from"  # the snapshot a new volume was restored from
REHOMED_TO_TAG: Final = "ferry:rehomed-to"  # the only tag Ferry may add to a pet's old volume: where it went
# Only snapshots carrying it are ever deleted, by the snapshot schedule alone (DESIGN.md invariant 2).
SCHEDULE_TAG: Final = "ferry:schedule"
TAGS: Final = frozenset({MANAGED_TAG, CLUSTER_TAG, PET_TAG, RUN_TAG, RESTORED_FROM_TAG, REHOMED_TO_TAG, SCHEDULE_TAG})
# Not Ferry's: the EBS CSI driver tags every volume it provisions so, whatever the cluster's own tagging; the
# pets' old volumes are those, and IAM lets Ferry tag them (with REHOMED_TO_TAG only) by it.
CSI_VOLUME_TAG: Final = "ebs.csi.aws.com/cluster"
CSI_VOLUME_VALUE: Final = "true"

# --- marks on nodes ----------------------------------------------------------------------------------------
# What Ferry did to a node, written in the same write that did it (a cordon, the out-of-service taint): failback
# gives back only what carries Ferry's mark, never a person's cordon or taint (ferry.domain.rehoming.failback).
# The quarantine taint's key is Ferry's own (ferry.domain.rehoming.inventory.QUARANTINE_TAINT): no mark needed.
CORDON_MARK: Final = "ferry.io/cordoned"
OUT_OF_SERVICE_MARK: Final = "ferry.io/out-of-service"

# --- names -------------------------------------------------------------------------------------------------
NAME_PREFIX: Final = "ferry"  # functions, state machines and log groups are ferry-<name>
OWNED_ALARM_PREFIX: Final = f"{NAME_PREFIX}-"  # only alarms named so are Ferry's own (docs/CONVENTIONS.md)
# Cluster credentials: secrets named ferry/clusters/<cluster>; the functions may read ferry/* and no other.
SECRET_PREFIX: Final = f"{NAME_PREFIX}/"

# --- the registry's items in the Ferry table (docs/CONVENTIONS.md) ---------------------------------------------
# Written by `cdk deploy` from the configuration file (cdk/registry.py, IAM limited to these partitions) and
# read by the functions (ferry.adapters.registry). Each kind shares one partition: listing it is one Query.
REGISTRY_PARTITION: Final = "REGISTRY"  # sort key CLUSTER#<name>, attribute `registration`
CLUSTER_KEY_PREFIX: Final = "CLUSTER#"
FEDERATION_PARTITION: Final = "FEDERATION"  # sort key APP#<namespace>/<name>, attribute `app`
APP_KEY_PREFIX: Final = "APP#"


# --- the runbooks' retry policy (docs/REHOMING.md) ---------------------------------------------------------
# Error names as Lambda reports them to Step Functions: the class name of what the step raised
# (ferry.domain.errors), or Lambda's own.
INPUT_ERROR: Final = "InputError"  # never retried: the run fails naming each wrong field
STEP_PENDING_ERROR: Final = "StepPending"  # "not yet" (a volume creating, a pod starting): asked again
TRANSIENT_ERRORS: Final = ("Throttled", "Unavailable", "TransientError")
LAMBDA_SERVICE_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# The function itself died: its timeout (Sandbox.Timedout), its process exited or crashed (Runtime.ExitError,
# Runtime.Unknown). Every step is journaled and idempotent (a re-run finishes the plan without doing any
# action twice: DESIGN.md, proven by the kill drill), so a step killed half-way is run again, a bounded number
# of times, rather than reported failed half-way. Each attempt may last the function's whole timeout: few.
LAMBDA_KILLED_ERRORS: Final = ("Sandbox.Timedout", "Runtime.ExitError", "Runtime.Unknown")


# --- supervised mode (ferry.domain.decisions; cdk/supervision.py builds the pause) ---------------------------------
# The runbooks whose automatic runs pause for a person's decision in supervised mode: the detector's hand-offs.
# DrainNode is not among them: its deadline (two minutes for a Spot interruption) is shorter than any decision,
# and it only evicts through PodDisruptionBudgets, never forces.
SUPERVISED_RUNBOOKS: Final = ("EvacuateZone", "FailbackZone")
# The errors a paused run ends its wait with when it does not go on; both lead to the report, nothing changed.
DECISION_REJECTED: Final = "DecisionRejected"  # a person's reject (SendTaskFailure)
DECISION_TIMED_OUT: Final = "DecisionTimedOut"  # no decision in time, and onTimeout is abort
DEFAULT_DECISION_TIMEOUT_SECONDS: Final = 15 * 60
DECISION_TIMEOUT_RANGE: Final = (60, 24 * 3600)


@dataclass(frozen=True, slots=True)
class Retry:
    """One Retry rule of every runbook Task, in Step Functions' terms; every wait has full jitter."""

    errors: tuple[str, ...]
    max_attempts: int
    interval_seconds: int = 2
    backoff_rate: float = 2.0
    max_delay_seconds: int | None = None


RUNBOOK_RETRIES: Final = (
    # "Not yet" is waited for, not backed off from forever: 20 retries (21 tries; MaxAttempts counts retries)
    # capped at a minute each wait up to about a quarter of an hour before the pet is reported failed.
    Retry((STEP_PENDING_ERROR,), max_attempts=20, max_delay_seconds=60),
    # 2+4+...+64 s at most: about two minutes of a failing dependency.
    Retry(TRANSIENT_ERRORS, max_attempts=6),
    Retry(LAMBDA_SERVICE_ERRORS, max_attempts=6),
    Retry(LAMBDA_KILLED_ERRORS, max_attempts=3),
)
