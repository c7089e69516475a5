"""The typed inputs and outputs of the re-homing Lambda steps, as docs/REHOMING.md fixes them (pure).

Step Functions passes camelCase JSON from one Task to the next; each step parses what it gets into one of
these frozen dataclasses (`from_dict`, which names every wrong field in one `InputError`) and returns one
(`to_dict`). The e2e tests feed each step's output to the next through these same models, so a shape that
drifts breaks a test, not a 3 a.m. evacuation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from ferry.domain.errors import InputError
from ferry.domain.rehoming.policies import RehomePolicy
from ferry.domain.runbooks import Runbook

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


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


class _Reader:
    """Reads fields of one JSON object, collecting every problem before raising one InputError."""

    def __init__(self, data: Any, where: str) -> None:
        self.problems: list[str] = []
        self.where = where
        if not isinstance(data, Mapping):
            self.problems.append(f"{where}: expected an object, got {type(data).__name__}")
            data = {}
        self.data: Mapping[str, Any] = data

    def _get[V](self, name: str, kind: type[V] | tuple[type, ...], required: bool, default: V) -> V:
        if name not in self.data or self.data[name] is None:
            if required:
                self.problems.append(f"{name}: required")
            return default
        value = self.data[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            self.problems.append(f"{name}: expected {expected}, got {value!r}")
            return default
        return value  # type: ignore[return-value]

    def text(self, name: str) -> str:
        return self._get(name, str, True, "")

    def optional_text(self, name: str) -> str | None:
        return self._get(name, str, False, None)

    def flag(self, name: str, default: bool | None = None) -> bool:
        return self._get(name, bool, default is None, bool(default))

    def number(self, name: str) -> int:
        return self._get(name, int, True, 0)

    def optional_number(self, name: str) -> float | None:
        value = self._get(name, (int, float), False, None)
        return None if value is None else float(value)

    def choice(self, name: str, enum: type[E], *, required: bool = True) -> E | None:
        raw = self._get(name, str, required, None)
        if raw is None:
            return None
        try:
            return enum(raw)
        except ValueError:
            self.problems.append(f"{name}: expected one of {', '.join(e.value for e in enum)}, got {raw!r}")
            return None

    def items(self, name: str, parse: Callable[[Any], T], *, required: bool = True) -> tuple[T, ...]:
        raw = self._get(name, list, required, [])
        found = []
        for index, item in enumerate(raw):
            try:
                found.append(parse(item))
            except InputError as error:
                self.problems += [f"{name}[{index}].{p}" for p in error.problems]
        return tuple(found)

    def obj(self, name: str, *, required: bool = False) -> Mapping[str, Any] | None:
        return self._get(name, dict, required, None)

    def done(self) -> None:
        if self.problems:
            raise InputError(self.problems)


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class NodeJob:
    run_id: str
    cluster: str
    node: str
    instance_id: str
    zone: str
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "cluster": self.cluster,
            "node": self.node,
            "instanceId": self.instance_id,
            "zone": self.zone,
            "dryRun": self.dry_run,
        }

    @classmethod
    def from_dict(cls, data: Any) -> NodeJob:
        r = _Reader(data, "NodeJob")
        job = cls(
            r.text("runId"), r.text("cluster"), r.text("node"), r.text("instanceId"), r.text("zone"), r.flag("dryRun")
        )
        r.done()
        return job


@dataclass(frozen=True, slots=True)
class NodeReport:
    cluster: str
    node: str
    instance_id: str
    fenced: bool
    fenced_by: FencedBy | None
    identity_freed: IdentityFreed | None
    cordoned: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "node": self.node,
            "instanceId": self.instance_id,
            "fenced": self.fenced,
            "fencedBy": self.fenced_by.value if self.fenced_by else None,
            "identityFreed": self.identity_freed.value if self.identity_freed else None,
            "cordoned": self.cordoned,
            **({"reason": self.reason} if self.reason else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> NodeReport:
        r = _Reader(data, "NodeReport")
        report = cls(
            cluster=r.text("cluster"),
            node=r.text("node"),
            instance_id=r.text("instanceId"),
            fenced=r.flag("fenced"),
            fenced_by=r.choice("fencedBy", FencedBy, required=False),
            identity_freed=r.choice("identityFreed", IdentityFreed, required=False),
            cordoned=r.flag("cordoned"),
            reason=r.optional_text("reason"),
        )
        r.done()
        return report


@dataclass(frozen=True, slots=True)
class PetJob:
    run_id: str
    cluster: str
    namespace: str
    statefulset: str
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "cluster": self.cluster,
            "namespace": self.namespace,
            "statefulSet": self.statefulset,
            "ordinal": self.ordinal,
            "pod": self.pod,
            "node": self.node,
            "policy": self.policy.value,
            "fromZone": self.from_zone,
            "targetZone": self.target_zone,
            "dryRun": self.dry_run,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PetJob:
        r = _Reader(data, "PetJob")
        job = cls(
            run_id=r.text("runId"),
            cluster=r.text("cluster"),
            namespace=r.text("namespace"),
            statefulset=r.text("statefulSet"),
            ordinal=r.number("ordinal"),
            pod=r.text("pod"),
            node=r.optional_text("node"),
            policy=r.choice("policy", RehomePolicy) or RehomePolicy.STAY,
            from_zone=r.optional_text("fromZone"),
            target_zone=r.optional_text("targetZone"),
            dry_run=r.flag("dryRun"),
        )
        r.done()
        return job


@dataclass(frozen=True, slots=True)
class PetReport:
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
    reason: str | None = None

    @property
    def subject(self) -> str:
        return f"{self.cluster}/{self.namespace}/{self.pod}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "namespace": self.namespace,
            "pod": self.pod,
            "policy": self.policy.value,
            "status": self.status.value,
            "fromZone": self.from_zone,
            "toZone": self.to_zone,
            "oldVolume": self.old_volume,
            "snapshot": self.snapshot,
            "newVolume": self.new_volume,
            "rpoSeconds": self.rpo_seconds,
            "rpoBreached": self.rpo_breached,
            "timeToRunningSeconds": self.time_to_running_seconds,
            **({"reason": self.reason} if self.reason else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> PetReport:
        r = _Reader(data, "PetReport")
        report = cls(
            cluster=r.text("cluster"),
            namespace=r.text("namespace"),
            pod=r.text("pod"),
            policy=r.choice("policy", RehomePolicy) or RehomePolicy.STAY,
            status=r.choice("status", PetStatus) or PetStatus.FAILED,
            from_zone=r.optional_text("fromZone"),
            to_zone=r.optional_text("toZone"),
            old_volume=r.optional_text("oldVolume"),
            snapshot=r.optional_text("snapshot"),
            new_volume=r.optional_text("newVolume"),
            rpo_seconds=r.optional_number("rpoSeconds"),
            rpo_breached=r.flag("rpoBreached", False),
            time_to_running_seconds=r.optional_number("timeToRunningSeconds"),
            reason=r.optional_text("reason"),
        )
        r.done()
        return report


@dataclass(frozen=True, slots=True)
class SkippedItem:
    subject: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Any) -> SkippedItem:
        r = _Reader(data, "skipped")
        item = cls(r.text("subject"), r.text("reason"))
        r.done()
        return item


@dataclass(frozen=True, slots=True)
class PlanOutput:
    run_id: str
    runbook: Runbook
    dry_run: bool
    zone: str | None
    reason: str
    nodes: tuple[NodeJob, ...]
    pets: tuple[PetJob, ...]
    skipped: tuple[SkippedItem, ...]
    plan: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", _frozen(self.plan))

    def to_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "runbook": self.runbook.value,
            "dryRun": self.dry_run,
            **({"zone": self.zone} if self.zone else {}),
            "reason": self.reason,
            "nodes": [n.to_dict() for n in self.nodes],
            "pets": [p.to_dict() for p in self.pets],
            "skipped": [s.to_dict() for s in self.skipped],
            "plan": dict(self.plan),
        }

    @classmethod
    def from_dict(cls, data: Any) -> PlanOutput:
        r = _Reader(data, "PlanOutput")
        output = cls(
            run_id=r.text("runId"),
            runbook=r.choice("runbook", Runbook) or Runbook.EVACUATE_ZONE,
            dry_run=r.flag("dryRun"),
            zone=r.optional_text("zone"),
            reason=r.text("reason"),
            nodes=r.items("nodes", NodeJob.from_dict),
            pets=r.items("pets", PetJob.from_dict),
            skipped=r.items("skipped", SkippedItem.from_dict, required=False),
            plan=r.obj("plan") or {},
        )
        r.done()
        return output


@dataclass(frozen=True, slots=True)
class StepError:
    """What a Step Functions Catch puts in the state: the error name and its cause (often JSON)."""

    error: str
    cause: str

    def to_dict(self) -> dict[str, str]:
        return {"Error": self.error, "Cause": self.cause}

    @classmethod
    def from_dict(cls, data: Any) -> StepError:
        r = _Reader(data, "error")
        error = cls(r.text("Error"), r.optional_text("Cause") or "")
        r.done()
        return error


@dataclass(frozen=True, slots=True)
class ReportInput:
    run_id: str
    runbook: Runbook
    input: Mapping[str, Any]
    plan: PlanOutput | None = None
    nodes: tuple[NodeReport, ...] = ()
    pets: tuple[PetReport, ...] = ()
    error: StepError | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", _frozen(self.input))

    def to_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "runbook": self.runbook.value,
            "input": dict(self.input),
            **({"plan": self.plan.to_dict()} if self.plan else {}),
            "nodes": [n.to_dict() for n in self.nodes],
            "pets": [p.to_dict() for p in self.pets],
            **({"error": self.error.to_dict()} if self.error else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ReportInput:
        r = _Reader(data, "ReportInput")
        plan, error = r.obj("plan"), r.obj("error")
        try:
            parsed_plan = PlanOutput.from_dict(plan) if plan is not None else None
        except InputError as problem:
            r.problems += [f"plan.{p}" for p in problem.problems]
            parsed_plan = None
        report = cls(
            run_id=r.text("runId"),
            runbook=r.choice("runbook", Runbook) or Runbook.EVACUATE_ZONE,
            input=r.obj("input", required=True) or {},
            plan=parsed_plan,
            nodes=r.items("nodes", NodeReport.from_dict, required=False),
            pets=r.items("pets", PetReport.from_dict, required=False),
            error=StepError.from_dict(error) if error is not None else None,
        )
        r.done()
        return report


@dataclass(frozen=True, slots=True)
class RunReport:
    run_id: str
    runbook: Runbook
    dry_run: bool
    outcome: RunOutcome
    summary: str
    nodes: tuple[NodeReport, ...] = ()
    pets: tuple[PetReport, ...] = ()
    error: StepError | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "runbook": self.runbook.value,
            "dryRun": self.dry_run,
            "outcome": self.outcome.value,
            "summary": self.summary,
            "nodes": [n.to_dict() for n in self.nodes],
            "pets": [p.to_dict() for p in self.pets],
            **({"error": self.error.to_dict()} if self.error else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> RunReport:
        r = _Reader(data, "RunReport")
        error = r.obj("error")
        report = cls(
            run_id=r.text("runId"),
            runbook=r.choice("runbook", Runbook) or Runbook.EVACUATE_ZONE,
            dry_run=r.flag("dryRun"),
            outcome=r.choice("outcome", RunOutcome) or RunOutcome.FAILED,
            summary=r.text("summary"),
            nodes=r.items("nodes", NodeReport.from_dict, required=False),
            pets=r.items("pets", PetReport.from_dict, required=False),
            error=StepError.from_dict(error) if error is not None else None,
        )
        r.done()
        return report
