"""The typed inputs and outputs of the re-homing Lambda steps, as docs/REHOMING.md fixes them (pure).

Step Functions passes camelCase JSON from one Task to the next; each step parses what it gets into one of
these frozen dataclasses (`from_dict`, which names every wrong field in one `InputError`) and returns one
(`to_dict`). Both directions come from the fields (`ferry.domain.serialization`); a field says only what its
name and type do not: a key that is not its camelCase, a key left out while empty. The e2e tests feed each
step's output to the next through these same models, and tests/unit/test_wire_formats.py pins their JSON
byte for byte, so a shape that drifts breaks a test, not a 3 a.m. evacuation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ferry.domain.rehoming.policies import RehomePolicy
from ferry.domain.runbooks import Runbook
from ferry.domain.serialization import CamelJsonModel, wire

OMITTED_WHEN_EMPTY = wire(omit_empty=True)  # docs/REHOMING.md's `key?`: absent, not null, when there is none


class FencedBy(StrEnum):
    ALREADY_STOPPED = "already-stopped"
    STOPPED_BY_FERRY = "stopped-by-ferry"


class IdentityFreed(StrEnum):
    OUT_OF_SERVICE_TAINT = "out-of-service-taint"
    FORCE_DELETE = "force-delete"


class PetStatus(StrEnum):
    MOVED = "moved"  # running again in another zone, on a volume restored or re-provisioned there
    FREED = "freed"  # identity freed; the pet keeps its volume and zone
    SKIPPED = "skipped"  # left alone, with a reason; never half-moved
    FAILED = "failed"  # a step kept failing: this pet stopped, the others went on
    PLANNED = "planned"  # dry run


class RunOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    REJECTED = "rejected"  # the input failed validation: nothing was planned
    DRY_RUN = "dry-run"


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class NodeJob(CamelJsonModel):
    run_id: str
    cluster: str
    node: str
    instance_id: str
    zone: str
    dry_run: bool


@dataclass(frozen=True, slots=True)
class PodEviction(CamelJsonModel):
    """DrainNode, per pod of the node: evicted through the Eviction API, or not and why (a budget's refusal
    at the deadline, a dry run)."""

    namespace: str
    pod: str
    evicted: bool
    reason: str | None = field(default=None, metadata=OMITTED_WHEN_EMPTY)


@dataclass(frozen=True, slots=True)
class NodeReport(CamelJsonModel):
    cluster: str
    node: str
    instance_id: str
    fenced: bool
    fenced_by: FencedBy | None
    identity_freed: IdentityFreed | None
    cordoned: bool
    reason: str | None = field(default=None, metadata=OMITTED_WHEN_EMPTY)
    # DrainNode only: each pod of the node, evicted or not and why.
    evictions: tuple[PodEviction, ...] = field(default=(), metadata=OMITTED_WHEN_EMPTY)
    # FailbackZone only: what of Ferry's was lifted from the node (its cordon, its taints).
    lifted: tuple[str, ...] = field(default=(), metadata=OMITTED_WHEN_EMPTY)


@dataclass(frozen=True, slots=True)
class PetJob(CamelJsonModel):
    run_id: str
    cluster: str
    namespace: str
    statefulset: str = field(metadata=wire(key="statefulSet"))
    ordinal: int
    pod: str
    node: str | None
    policy: RehomePolicy
    from_zone: str | None
    target_zone: str | None
    dry_run: bool

    @property
    def subject(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.pod}"


@dataclass(frozen=True, slots=True)
class PetReport(CamelJsonModel):
    cluster: str
    namespace: str
    pod: str
    policy: RehomePolicy
    status: PetStatus
    from_zone: str | None = None
    to_zone: str | None = None
    old_volume: str | None = None
    snapshot: str | None = None
    new_volume: str | None = None
    rpo_seconds: float | None = None
    rpo_breached: bool = False
    time_to_running_seconds: float | None = None
    reason: str | None = field(default=None, metadata=OMITTED_WHEN_EMPTY)

    @property
    def subject(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.pod}"


@dataclass(frozen=True, slots=True)
class SkippedItem(CamelJsonModel):
    subject: str
    reason: str


@dataclass(frozen=True, slots=True)
class PlanOutput(CamelJsonModel):
    run_id: str
    runbook: Runbook
    dry_run: bool
    zone: str | None = field(metadata=OMITTED_WHEN_EMPTY)
    reason: str
    nodes: tuple[NodeJob, ...]
    pets: tuple[PetJob, ...]
    skipped: tuple[SkippedItem, ...] = ()
    plan: Mapping[str, Any] = field(default_factory=dict, hash=False)
    # Supervised mode: the run pauses for a person's decision before its first change (cdk/supervision.py).
    await_decision: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", _frozen(self.plan))


@dataclass(frozen=True, slots=True)
class StepError(CamelJsonModel):
    """What a Step Functions Catch puts in the state: the error name and its cause (often JSON)."""

    error: str = field(metadata=wire(key="Error"))
    cause: str = field(default="", metadata=wire(key="Cause"))


@dataclass(frozen=True, slots=True)
class ReportInput(CamelJsonModel):
    run_id: str
    runbook: Runbook
    input: Mapping[str, Any]
    plan: PlanOutput | None = field(default=None, metadata=OMITTED_WHEN_EMPTY)
    nodes: tuple[NodeReport, ...] = ()
    pets: tuple[PetReport, ...] = ()
    error: StepError | None = field(default=None, metadata=OMITTED_WHEN_EMPTY)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", _frozen(self.input))


@dataclass(frozen=True, slots=True)
class RunReport(CamelJsonModel):
    run_id: str
    runbook: Runbook
    dry_run: bool
    outcome: RunOutcome
    summary: str
    nodes: tuple[NodeReport, ...] = ()
    pets: tuple[PetReport, ...] = ()
    error: StepError | None = field(default=None, metadata=OMITTED_WHEN_EMPTY)
