"""Readiness: what losing a zone right now would do, answered from one snapshot before it happens (pure).

For each watched zone, Ferry pretends the zone is impaired and asks the same planner EvacuateZone would ask,
with the same snapshot: every pet's outcome is therefore what an evacuation would do, not a second opinion
that could drift from it. On top of the plan, the assessment names what makes the answer worse than it
should be, and grades the zone:

- `not-ready`: some pet would stay down without its owner having chosen it (no healthy zone for it, no
  snapshot to restore, a node Ferry could not fence, a topology spread that keeps it Pending, a policy Ferry
  does not understand), or a cluster could not be read at all;
- `at-risk`: every pet would come back or stays down by its owner's choice (`ferry.io/rehome: stay`), but
  some would lose more data than their `ferry.io/max-rpo` allows (or it cannot be read), stay down for the
  zone's whole outage, or wait for a later run because one run's fence budget is spent;
- `ready`: every pet of the zone comes back within its RPO.

Nothing here reads a clock or a cluster: the snapshot and `now` are given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.errors import InputError
from ferry.domain.rehoming.inventory import ClusterInventory, key
from ferry.domain.rehoming.planner import Request, plan_evacuation
from ferry.domain.rehoming.plans import PetPlan, Skipped, SkipReason
from ferry.domain.rehoming.policies import MAX_RPO_ANNOTATION, RehomeLimits, RehomePolicy, max_rpo

RUN_ID = "readiness"  # the plans here are never executed; their step ids only need to be well-formed


class Grade(StrEnum):
    READY = "ready"
    AT_RISK = "at-risk"
    NOT_READY = "not-ready"


class Outcome(StrEnum):
    """What losing the zone would do to one pet."""

    MOVES = "moves"  # restored from a snapshot into a healthy zone: data lost up to the snapshot's age
    FRESH = "fresh"  # a new empty volume in a healthy zone: the application re-replicates
    STAYS_DOWN = "stays-down"  # `stay`: its identity is freed, it returns with its zone
    SKIPPED = "skipped"  # the planner would leave it, for the reason given


class FindingKind(StrEnum):
    RPO_EXCEEDED = "rpo-exceeded"  # the newest completed snapshot is older than ferry.io/max-rpo allows
    NO_SNAPSHOT = "no-snapshot"  # a snapshot pet with nothing to restore from
    STAYS_DOWN = "stays-down"  # down for the zone's whole outage, by its owner's choice
    CANNOT_MOVE = "cannot-move"  # skipped by the planner for any other reason (named in the detail)
    NOT_FENCEABLE = "not-fenceable"  # a worker node of the zone Ferry could not fence (no instance id)
    FENCE_LIMIT = "fence-limit"  # more nodes than one run may fence: the rest wait for the next run (5 min)
    UNKNOWN_ANNOTATION = "unknown-annotation"  # a ferry.io/max-rpo Ferry cannot read: no RPO is checked
    UNREACHABLE = "cluster-unreachable"  # the cluster could not be read: nothing about it is known


SEVERITY: Mapping[FindingKind, Grade] = {
    FindingKind.RPO_EXCEEDED: Grade.AT_RISK,
    FindingKind.STAYS_DOWN: Grade.AT_RISK,
    FindingKind.UNKNOWN_ANNOTATION: Grade.AT_RISK,
    FindingKind.FENCE_LIMIT: Grade.AT_RISK,
    FindingKind.NO_SNAPSHOT: Grade.NOT_READY,
    FindingKind.CANNOT_MOVE: Grade.NOT_READY,
    FindingKind.NOT_FENCEABLE: Grade.NOT_READY,
    FindingKind.UNREACHABLE: Grade.NOT_READY,
}
_ORDER = (Grade.READY, Grade.AT_RISK, Grade.NOT_READY)


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    subject: str  # `<cluster>/<namespace>/<pod>`, `<cluster>/node/<name>` or `<cluster>`
    detail: str

    @property
    def grade(self) -> Grade:
        return SEVERITY[self.kind]


@dataclass(frozen=True, slots=True)
class PetOutcome:
    subject: str
    outcome: Outcome
    target_zone: str | None = None
    snapshots: tuple[str, ...] = ()  # what it would be restored from (MOVES)
    data_loss: timedelta | None = None  # the oldest of those snapshots' ages (MOVES)
    max_rpo: timedelta | None = None
    reason: str | None = None  # SKIPPED: the planner's reason and detail


@dataclass(frozen=True, slots=True)
class ZoneReadiness:
    zone: str
    grade: Grade
    pets: tuple[PetOutcome, ...]
    findings: tuple[Finding, ...]


def assess_zone(
    zone: str,
    inventories: Iterable[ClusterInventory],
    now: datetime,
    *,
    unreachable: Iterable[str] = (),
    limits: RehomeLimits | None = None,
) -> ZoneReadiness:
    """If `zone` failed at `now`: each pet's outcome (as EvacuateZone would plan it), the findings, the grade.

    `unreachable` names registered clusters that could not be read: each is a finding, the rest is assessed.
    `limits` are the deployment's own (the fence budget of one EvacuateZone run changes its plan).
    """
    read = {inventory.cluster: inventory for inventory in inventories}
    plan = plan_evacuation(
        zone, [_as_if_lost(zone, read[name]) for name in sorted(read)], Request(RUN_ID, now, limits or RehomeLimits())
    )
    pet_skips = [s for s in plan.skipped if "/node/" not in s.subject]
    outcomes = [_planned(p, now) for p in plan.pets] + [_skipped(s) for s in pet_skips]
    findings = [f for p in plan.pets for f in _pet_findings(p, read[p.cluster], now)]
    findings += [f for s in plan.skipped if (f := _skip_finding(s)) is not None]
    findings += [Finding(FindingKind.UNREACHABLE, name, "could not be read") for name in sorted(set(unreachable))]
    grade = max((f.grade for f in findings), key=_ORDER.index, default=Grade.READY)
    return ZoneReadiness(
        zone=zone,
        grade=grade,
        pets=tuple(sorted(outcomes, key=lambda o: o.subject)),
        findings=tuple(sorted(findings, key=lambda f: (f.subject, f.kind))),
    )


def assess(
    zones: Iterable[str],
    inventories: Iterable[ClusterInventory],
    now: datetime,
    *,
    unreachable: Iterable[str] = (),
    limits: RehomeLimits | None = None,
) -> tuple[ZoneReadiness, ...]:
    """Every zone asked for, each assessed alone (one zone lost at a time). A zone no cluster knows is an
    input error naming it, not a zone graded ready for having nothing in it."""
    read = tuple(inventories)
    known = {zone for inventory in read for zone in inventory.known_zones()}
    wanted = tuple(dict.fromkeys(zones))
    strangers = [zone for zone in wanted if zone not in known]
    if strangers and read:
        listed = ", ".join(sorted(known))
        raise InputError([f"zones: {zone!r} is not a zone of any registered cluster ({listed})" for zone in strangers])
    return tuple(assess_zone(zone, read, now, unreachable=unreachable, limits=limits) for zone in wanted)


def _as_if_lost(zone: str, inventory: ClusterInventory) -> ClusterInventory:
    return replace(inventory, zones={**inventory.zones, zone: ZoneStatus.IMPAIRED})


def _planned(pet: PetPlan, now: datetime) -> PetOutcome:
    if pet.target_zone == pet.from_zone or pet.policy is RehomePolicy.STAY:
        return PetOutcome(pet.subject, Outcome.STAYS_DOWN, max_rpo=pet.max_rpo)
    if pet.policy is RehomePolicy.FRESH:
        return PetOutcome(pet.subject, Outcome.FRESH, target_zone=pet.target_zone, max_rpo=pet.max_rpo)
    started = [m.snapshot_started_at for m in pet.moves if m.snapshot_started_at is not None]
    return PetOutcome(
        pet.subject,
        Outcome.MOVES,
        target_zone=pet.target_zone,
        snapshots=tuple(m.snapshot_id for m in pet.moves if m.snapshot_id),
        data_loss=now - min(started) if started else None,
        max_rpo=pet.max_rpo,
    )


def _skipped(skip: Skipped) -> PetOutcome:
    return PetOutcome(skip.subject, Outcome.SKIPPED, reason=f"{skip.reason.value}: {skip.detail}")


def _pet_findings(pet: PetPlan, inventory: ClusterInventory, now: datetime) -> list[Finding]:
    found = []
    statefulset = inventory.statefulsets.get(key(pet.namespace, pet.statefulset))
    written = statefulset.annotations.get(MAX_RPO_ANNOTATION) if statefulset else None
    if written is not None and max_rpo({MAX_RPO_ANNOTATION: written}) is None:
        detail = f"{MAX_RPO_ANNOTATION}={written!r} is not a duration like 15m: no RPO is checked"
        found.append(Finding(FindingKind.UNKNOWN_ANNOTATION, pet.subject, detail))
    outcome = _planned(pet, now)
    if outcome.outcome is Outcome.STAYS_DOWN:
        found.append(
            Finding(FindingKind.STAYS_DOWN, pet.subject, "ferry.io/rehome is stay: down until its zone returns")
        )
    elif outcome.data_loss is not None and pet.max_rpo is not None and outcome.data_loss > pet.max_rpo:
        age, limit = int(outcome.data_loss.total_seconds()), int(pet.max_rpo.total_seconds())
        detail = f"its newest snapshot is {age}s old; {MAX_RPO_ANNOTATION} allows {limit}s"
        found.append(Finding(FindingKind.RPO_EXCEEDED, pet.subject, detail))
    return found


def _skip_finding(skip: Skipped) -> Finding | None:
    match skip.reason:
        case SkipReason.CONTROL_PLANE:
            return None  # control-plane members are replaced, not fenced: not a pet's concern
        case SkipReason.NO_SNAPSHOT:
            return Finding(FindingKind.NO_SNAPSHOT, skip.subject, skip.detail)
        case SkipReason.NO_INSTANCE:
            return Finding(FindingKind.NOT_FENCEABLE, skip.subject, skip.detail)
        case SkipReason.FENCE_LIMIT:
            return Finding(FindingKind.FENCE_LIMIT, skip.subject, skip.detail)
        case SkipReason.NODE_NOT_FENCED if SkipReason.FENCE_LIMIT.value in skip.detail:
            return Finding(FindingKind.FENCE_LIMIT, skip.subject, f"{skip.detail}: it moves in a later run")
        case SkipReason.NOTHING_TO_DO:
            return Finding(FindingKind.STAYS_DOWN, skip.subject, skip.detail)
    return Finding(FindingKind.CANNOT_MOVE, skip.subject, f"{skip.reason.value}: {skip.detail}")
