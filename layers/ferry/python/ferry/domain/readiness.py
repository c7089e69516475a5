"""Readiness: what losing a zone right now would do, answered from one snapshot before it happens (pure).

For each watched zone, Ferry pretends the zone is impaired and asks the same planner EvacuateZone would ask,
with the same snapshot: every pet's outcome is therefore what an evacuation would do, not a second opinion
that could drift from it. On top of the plan, the assessment names what makes the answer worse than it
should be, and grades the zone:

- `not-ready`: some pet would stay down without its owner having chosen it (no healthy zone for it, no
  snapshot to restore, a node Ferry could not fence (no instance id, or an instance without the cluster tag
  Ferry's role needs to stop it), a topology spread that keeps it Pending, no node in its target zone with
  room for its CPU and memory requests, a policy Ferry does not understand), a cluster could not be read at
  all, or Ferry's RBAC there lacks a permission a runbook needs;
- `at-risk`: every pet would come back or stays down by its owner's choice (`ferry.io/rehome: stay`), but
  some would lose more data than their `ferry.io/max-rpo` allows (or it cannot be read), stay down for the
  zone's whole outage, or wait for a later run because one run's fence budget is spent; a
  PodDisruptionBudget refuses every voluntary eviction of a pet of the zone; a federated app would be short
  of replicas (its survivors cannot absorb the zone's share within their max); or the cluster's authorizer
  could not list every permission (EKS's webhook) and one is not listed;
- `ready`: every pet of the zone comes back within its RPO.

The capacity check follows the plan: each pet the plan moves takes, in plan order, the first schedulable node
of its target zone (by name) with room for its requests (allocatable minus what runs there minus the pets
placed before it). Pods other than pets that the zone's loss displaces are not counted (Deployments have
their own controllers and no zone-bound volume).

Nothing here reads a clock or a cluster: the snapshot and `now` are given.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ferry.domain.conventions import CLUSTER_TAG
from ferry.domain.detection.transitions import ControlPlaneStatus, ZoneStatus
from ferry.domain.errors import InputError
from ferry.domain.federation.apps import FederatedApp
from ferry.domain.federation.distribution import ClusterHealth, ZoneNodes, distribute_all
from ferry.domain.readiness_inputs import Resources, Surroundings
from ferry.domain.rehoming.inventory import ClusterInventory, Taint, TaintEffect, key
from ferry.domain.rehoming.planner import Request, healthy_zones, plan_evacuation
from ferry.domain.rehoming.plans import NodePlan, PetPlan, Skipped, SkipReason
from ferry.domain.rehoming.policies import MAX_RPO_ANNOTATION, RehomeLimits, RehomePolicy, max_rpo
from ferry.domain.serialization import CamelJsonModel, wire

UNREACHABLE_TAINT = Taint("node.kubernetes.io/unreachable", TaintEffect.NO_SCHEDULE)
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
    SPREAD_BLOCKS = "spread-blocks"  # its topology spread would keep the moved pet Pending
    NO_CAPACITY = "no-capacity"  # no schedulable node of its target zone has room for its requests
    UNTAGGED_INSTANCE = "untagged-instance"  # Ferry's role may stop only instances with the cluster tag
    EVICTIONS_REFUSED = "evictions-refused"  # a PodDisruptionBudget refuses every voluntary eviction
    MISSING_PERMISSION = "missing-permission"  # RBAC lacks a permission a runbook needs
    PERMISSIONS_UNLISTED = "permissions-unlisted"  # the authorizer could not list them all; some not listed
    APP_SHORT = "app-short"  # a federated app's survivors cannot absorb the zone's share


SEVERITY: Mapping[FindingKind, Grade] = {
    FindingKind.RPO_EXCEEDED: Grade.AT_RISK,
    FindingKind.STAYS_DOWN: Grade.AT_RISK,
    FindingKind.UNKNOWN_ANNOTATION: Grade.AT_RISK,
    FindingKind.FENCE_LIMIT: Grade.AT_RISK,
    FindingKind.NO_SNAPSHOT: Grade.NOT_READY,
    FindingKind.CANNOT_MOVE: Grade.NOT_READY,
    FindingKind.NOT_FENCEABLE: Grade.NOT_READY,
    FindingKind.UNREACHABLE: Grade.NOT_READY,
    FindingKind.SPREAD_BLOCKS: Grade.NOT_READY,
    FindingKind.NO_CAPACITY: Grade.NOT_READY,
    FindingKind.UNTAGGED_INSTANCE: Grade.NOT_READY,
    FindingKind.MISSING_PERMISSION: Grade.NOT_READY,
    FindingKind.EVICTIONS_REFUSED: Grade.AT_RISK,
    FindingKind.PERMISSIONS_UNLISTED: Grade.AT_RISK,
    FindingKind.APP_SHORT: Grade.AT_RISK,
}
_ORDER = (Grade.READY, Grade.AT_RISK, Grade.NOT_READY)


def worse(grade: Grade, than: Grade | None) -> bool:
    """Whether `grade` is worse than an earlier one. A zone never assessed counts as ready: a new deployment's
    first report tells of a zone that is not, once; a ready one stays quiet."""
    return _ORDER.index(grade) > _ORDER.index(than or Grade.READY)


def grade_value(grade: Grade) -> int:
    """The `ReadinessGrade` metric: 0 ready, 1 at-risk, 2 not-ready (higher is worse, so alarms read `> 0`)."""
    return _ORDER.index(grade)


@dataclass(frozen=True, slots=True)
class Finding(CamelJsonModel):
    kind: FindingKind
    # `<cluster>/<namespace>/<pod>`, `<cluster>/node/<name>`, `<cluster>/<namespace>/pdb/<name>`, `app/<ns>/<name>`
    # or `<cluster>`
    subject: str
    detail: str

    @property
    def grade(self) -> Grade:
        return SEVERITY[self.kind]


@dataclass(frozen=True, slots=True)
class PetOutcome(CamelJsonModel):
    subject: str
    outcome: Outcome
    target_zone: str | None = None
    snapshots: tuple[str, ...] = ()  # what it would be restored from (MOVES)
    data_loss: timedelta | None = None  # the oldest of those snapshots' ages (MOVES)
    max_rpo: timedelta | None = None
    reason: str | None = None  # SKIPPED: the planner's reason and detail


def _pairs(value: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {value!r}")
    return tuple(sorted((str(k), int(v)) for k, v in value.items()))


@dataclass(frozen=True, slots=True)
class AppOutcome(CamelJsonModel):
    """A federated app: its replicas per member cluster now and with the zone lost (the federation's own
    distribution, both times), and what no survivor could take."""

    app: str
    before: tuple[tuple[str, int], ...] = field(default=(), metadata=wire(dump=dict, load=_pairs))
    after: tuple[tuple[str, int], ...] = field(default=(), metadata=wire(dump=dict, load=_pairs))
    shortfall: int = 0

    def gained(self) -> dict[str, int]:
        old = dict(self.before)
        return {c: n - old.get(c, 0) for c, n in self.after if n > old.get(c, 0)}

    def kept(self) -> dict[str, int]:
        new = dict(self.after)
        return {c: min(n, new.get(c, 0)) for c, n in self.before}


@dataclass(frozen=True, slots=True)
class ZoneReadiness(CamelJsonModel):
    zone: str
    grade: Grade
    pets: tuple[PetOutcome, ...]
    findings: tuple[Finding, ...]
    apps: tuple[AppOutcome, ...] = ()


def assess_zone(
    zone: str,
    inventories: Iterable[ClusterInventory],
    now: datetime,
    *,
    unreachable: Iterable[str] | Mapping[str, str] = (),
    limits: RehomeLimits | None = None,
    surroundings: Mapping[str, Surroundings] | None = None,
    apps: Iterable[FederatedApp] = (),
) -> ZoneReadiness:
    """If `zone` failed at `now`: each pet's outcome (as EvacuateZone would plan it), the findings, the grade.

    `unreachable` names registered clusters that could not be read (with why, as a mapping): each is a
    finding, the rest is assessed. `limits` are the deployment's own (the fence budget of one EvacuateZone run
    changes its plan). `surroundings` (per cluster) add room, budgets and permissions; `apps` the federated
    apps, distributed over the read clusters with the zone's share lost.
    """
    read = {inventory.cluster: inventory for inventory in inventories}
    lost = {name: as_if_lost(zone, read[name]) for name in sorted(read)}
    plan = plan_evacuation(zone, list(lost.values()), Request(RUN_ID, now, limits or RehomeLimits()))
    around = surroundings or {}
    why = dict(unreachable) if isinstance(unreachable, Mapping) else dict.fromkeys(unreachable, "could not be read")
    pet_skips = [s for s in plan.skipped if "/node/" not in s.subject]
    outcomes = [_planned(p, now) for p in plan.pets] + [_skipped(s) for s in pet_skips]
    findings = [f for p in plan.pets for f in _pet_findings(p, read[p.cluster], now)]
    findings += [f for s in plan.skipped if (f := _skip_finding(s)) is not None]
    findings += [Finding(FindingKind.UNREACHABLE, name, why[name] or "could not be read") for name in sorted(why)]
    findings += _capacity_findings(zone, plan.pets, lost, around)
    findings += _untagged_findings(plan.nodes, read)
    findings += _budget_findings([o.subject for o in outcomes], around)
    in_zone = [name for name, inventory in read.items() if zone in inventory.known_zones()]
    findings += _permission_findings([around[name] for name in in_zone if name in around])
    app_outcomes = _apps(zone, tuple(apps), read, set(why))
    findings += [
        Finding(FindingKind.APP_SHORT, f"app/{a.app}", f"{a.shortfall} replica(s) no surviving cluster can take")
        for a in app_outcomes
        if a.shortfall
    ]
    grade = max((f.grade for f in findings), key=_ORDER.index, default=Grade.READY)
    return ZoneReadiness(
        zone=zone,
        grade=grade,
        pets=tuple(sorted(outcomes, key=lambda o: o.subject)),
        findings=tuple(sorted(findings, key=lambda f: (f.subject, f.kind))),
        apps=app_outcomes,
    )


def assess(
    zones: Iterable[str],
    inventories: Iterable[ClusterInventory],
    now: datetime,
    *,
    unreachable: Iterable[str] | Mapping[str, str] = (),
    limits: RehomeLimits | None = None,
    surroundings: Mapping[str, Surroundings] | None = None,
    apps: Iterable[FederatedApp] = (),
) -> tuple[ZoneReadiness, ...]:
    """Every zone asked for, each assessed alone (one zone lost at a time). A zone no cluster knows is an
    input error naming it, not a zone graded ready for having nothing in it."""
    read = tuple(inventories)
    known = {zone for inventory in read for zone in inventory.known_zones()}
    wanted = tuple(dict.fromkeys(zones))
    check_zones(wanted, known if read else None)
    why = dict(unreachable) if isinstance(unreachable, Mapping) else dict.fromkeys(unreachable, "could not be read")
    listed = tuple(apps)
    return tuple(
        assess_zone(zone, read, now, unreachable=why, limits=limits, surroundings=surroundings, apps=listed)
        for zone in wanted
    )


def check_zones(wanted: Iterable[str], known: Iterable[str] | None) -> None:
    """An input error naming each zone asked for that no registered cluster has (`known` None: nothing to
    check against)."""
    if known is None:
        return
    have = set(known)
    strangers = [zone for zone in wanted if zone not in have]
    if strangers:
        listed = ", ".join(sorted(have))
        raise InputError([f"zones: {zone!r} is not a zone of any registered cluster ({listed})" for zone in strangers])


def as_if_lost(zone: str, inventory: ClusterInventory) -> ClusterInventory:
    """The snapshot as the zone's failure would leave it when EvacuateZone plans: the zone IMPAIRED, its nodes
    NotReady with the node lifecycle controller's unreachable taint (so a zone spread that honours taints no
    longer counts it, as the real scheduler would not). The assessment and its comparison with a dry run both
    stand on this snapshot."""
    nodes = {
        name: replace(node, ready=False, taints=(*node.taints, UNREACHABLE_TAINT)) if node.zone == zone else node
        for name, node in inventory.nodes.items()
    }
    return replace(inventory, nodes=nodes, zones={**inventory.zones, zone: ZoneStatus.IMPAIRED})


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
        # Clocks a few seconds apart (the snapshot's start is EC2's) never make a negative loss.
        data_loss=max(now - min(started), timedelta(0)) if started else None,
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
        case SkipReason.SPREAD_BLOCKS:
            return Finding(FindingKind.SPREAD_BLOCKS, skip.subject, f"{skip.detail}: it would stay Pending")
    return Finding(FindingKind.CANNOT_MOVE, skip.subject, f"{skip.reason.value}: {skip.detail}")


# --- what the snapshot of EvacuateZone's plan does not hold --------------------------------------------------


def _fit(
    zone: str, need: Resources, inventory: ClusterInventory, around: Surroundings, taken: Mapping[str, Resources]
) -> tuple[str | None, Resources]:
    """The first schedulable node of `zone` (by name) with room for `need`, and the most room any had."""
    best = Resources(-1, -1)
    for node in inventory.schedulable_in(zone):
        room = around.room(node) - taken.get(node, Resources())
        if need.fits_in(room):
            return node, room
        best = max(best, room)
    return None, best


def _capacity_findings(
    zone: str, pets: Iterable[PetPlan], lost: Mapping[str, ClusterInventory], surroundings: Mapping[str, Surroundings]
) -> list[Finding]:
    taken: dict[str, dict[str, Resources]] = {}
    found = []
    for pet in pets:
        around = surroundings.get(pet.cluster)
        need = around.requests.get(key(pet.namespace, pet.pod)) if around else None
        if around is None or need is None or pet.target_zone in (None, pet.from_zone):
            continue
        if pet.policy is RehomePolicy.STAY:
            continue
        assert pet.target_zone is not None
        inventory, held = lost[pet.cluster], taken.setdefault(pet.cluster, {})
        node, best = _fit(pet.target_zone, need, inventory, around, held)
        if node is not None:
            held[node] = held.get(node, Resources()) + need
            continue
        others = [
            z
            for z in healthy_zones(inventory, (zone, pet.target_zone))
            if _fit(z, need, inventory, around, held)[0] is not None
        ]
        most = f" (the most room on one: {best.describe()})" if best.cpu_millis >= 0 else ""
        elsewhere = f"; {', '.join(others)} would have room" if others else "; nor has any other healthy zone"
        detail = (
            f"requests {need.describe()}: no schedulable node of {pet.target_zone} (its planned zone) has room"
            f"{most}{elsewhere}"
        )
        found.append(Finding(FindingKind.NO_CAPACITY, pet.subject, detail))
    return found


def _untagged_findings(nodes: Iterable[NodePlan], read: Mapping[str, ClusterInventory]) -> list[Finding]:
    found = []
    for node in nodes:
        instance = read[node.cluster].instances.get(node.instance_id)
        if instance is None or instance.tags is None or instance.tags.get(CLUSTER_TAG):
            continue
        detail = (
            f"instance {node.instance_id} has no {CLUSTER_TAG} tag: Ferry's role may stop only instances that carry "
            "it, so the fence would be refused and the node's pets would stay"
        )
        found.append(Finding(FindingKind.UNTAGGED_INSTANCE, f"{node.cluster}/node/{node.node}", detail))
    return found


def _budget_findings(pets: Iterable[str], surroundings: Mapping[str, Surroundings]) -> list[Finding]:
    """Budgets selecting a pet of the zone that refuse every voluntary eviction. EvacuateZone's fenced nodes do
    not ask them; a person's RehomePet of a live pet and DrainNode do, and would wait in vain."""
    by_cluster: dict[str, list[str]] = {}
    for subject in pets:
        cluster, _, pod = subject.partition("/")
        by_cluster.setdefault(cluster, []).append(pod)
    found = []
    for cluster, names in sorted(by_cluster.items()):
        around = surroundings.get(cluster)
        for budget in around.budgets if around else ():
            assert around is not None
            selected = [k for k, labels in around.labels.items() if budget.selects(k.split("/")[0], labels)]
            ours = sorted(n for n in names if n in selected)
            why = budget.refuses_every_eviction(len(selected)) if ours else None
            if why:
                pods = ", ".join(n.split("/", 1)[1] for n in ours)
                detail = (
                    f"{why}: refuses every voluntary eviction of {pods} (RehomePet of a live pet, DrainNode wait "
                    "for it in vain; EvacuateZone's fenced nodes do not ask it)"
                )
                found.append(
                    Finding(FindingKind.EVICTIONS_REFUSED, f"{cluster}/{budget.namespace}/pdb/{budget.name}", detail)
                )
    return found


def _permission_findings(surroundings: Iterable[Surroundings]) -> list[Finding]:
    found = []
    for around in surroundings:
        permissions = around.permissions
        missing = permissions.missing() if permissions else ()
        if not missing:
            continue
        assert permissions is not None
        listed = "; ".join(f"{n.describe()} ({n.purpose})" for n in missing)
        if permissions.incomplete:
            why = permissions.error or "the authorizer could not list every rule"
            detail = f"not listed by its SelfSubjectRulesReview ({why}), may still be granted: {listed}"
            found.append(Finding(FindingKind.PERMISSIONS_UNLISTED, around.cluster, detail))
        else:
            found.append(Finding(FindingKind.MISSING_PERMISSION, around.cluster, f"Ferry's RBAC cannot {listed}"))
    return found


def _health(inventory: ClusterInventory) -> ClusterHealth:
    ready: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for node in inventory.nodes.values():
        if node.zone and not node.control_plane:
            total[node.zone] += 1
            ready[node.zone] += node.ready
    return ClusterHealth(nodes=tuple(ZoneNodes(z, ready[z], total[z]) for z in sorted(total)))


def _apps(
    zone: str, apps: tuple[FederatedApp, ...], read: Mapping[str, ClusterInventory], unreachable: Iterable[str]
) -> tuple[AppOutcome, ...]:
    """The federation's distribution before and after, over the read clusters (an unreachable one counts as
    down: Ferry places nothing where it cannot see it run)."""
    if not apps:
        return ()
    health = {name: _health(inventory) for name, inventory in read.items()}
    health |= {name: ClusterHealth(control_plane=ControlPlaneStatus.DOWN) for name in unreachable}
    zones: dict[str, ZoneStatus] = {}
    for inventory in read.values():
        zones |= dict(inventory.zones)
    before = distribute_all(apps, health, zones)
    after = distribute_all(apps, health, {**zones, zone: ZoneStatus.IMPAIRED})
    return tuple(
        AppOutcome(b.app, b.replicas, a.replicas, a.shortfall)
        for b, a in zip(before, after, strict=True)
        if not a.problems
    )


# --- the report -----------------------------------------------------------------------------------------------

PETS_LISTED = 50  # per zone in the readable summary; the rest are counted (a state carries at most 256 KB)
FINDINGS_LISTED = 100


def summarize(zone: ZoneReadiness) -> str:
    """A zone's answer for a person at 3 a.m.: grade and why, then the pets, the apps and every finding."""
    counts = Counter(p.outcome for p in zone.pets)
    kinds = Counter(f.kind for f in zone.findings)
    why = ", ".join(f"{n} {k.value}" for k, n in sorted(kinds.items())) or "every pet comes back within its RPO"
    tally = ", ".join(f"{counts[o]} {o.value}" for o in Outcome if counts[o]) or "none in this zone"
    lines = [f"{zone.zone}: {zone.grade.value} ({why})", f"  pets: {tally}"]
    for pet in zone.pets[:PETS_LISTED]:
        lines.append(f"  - {pet.subject}: {_pet_words(pet)}")
    if len(zone.pets) > PETS_LISTED:
        lines.append(f"  - ... and {len(zone.pets) - PETS_LISTED} more pets")
    for app in zone.apps:
        now = ", ".join(f"{c}={n}" for c, n in app.before)
        then = ", ".join(f"{c}={n}" for c, n in app.after)
        short = f"; {app.shortfall} short" if app.shortfall else ""
        lines.append(f"  app {app.app}: {now} -> {then}{short}")
    if zone.findings:
        lines.append("  findings:")
    for finding in zone.findings[:FINDINGS_LISTED]:
        lines.append(f"  - [{finding.grade.value}] {finding.kind.value} {finding.subject}: {finding.detail}")
    if len(zone.findings) > FINDINGS_LISTED:
        lines.append(f"  - ... and {len(zone.findings) - FINDINGS_LISTED} more findings")
    return "\n".join(lines)


def _pet_words(pet: PetOutcome) -> str:
    match pet.outcome:
        case Outcome.MOVES:
            loss = f", data lost up to {int(pet.data_loss.total_seconds())}s" if pet.data_loss is not None else ""
            limit = f" (max-rpo {int(pet.max_rpo.total_seconds())}s)" if pet.max_rpo is not None else ""
            source = f" from {', '.join(pet.snapshots)}" if pet.snapshots else ""
            return f"moves to {pet.target_zone}{source}{loss}{limit}"
        case Outcome.FRESH:
            return f"comes back empty in {pet.target_zone} (fresh: its peers re-replicate)"
        case Outcome.STAYS_DOWN:
            return "stays down until its zone returns (stay)"
    return f"skipped: {pet.reason}"


@dataclass(frozen=True, slots=True)
class ReadinessReport(CamelJsonModel):
    """One run's answer for every zone asked about: the execution's output, also kept and notified."""

    run_id: str
    at: datetime
    zones: tuple[ZoneReadiness, ...]
    summary: str
    unreachable: tuple[str, ...] = ()
    worse: tuple[str, ...] = ()  # zones whose grade is worse than the last kept answer's

    def to_output(self, limit: int) -> dict[str, Any]:
        """The report as JSON within about `limit` characters: whole if it fits; otherwise each zone's pets and
        findings are cut to an equal share (counted in `petsOmitted`, `findingsOmitted`) while the grades, the
        apps and the summary stay (the summary lists the first findings of each zone, and counts every kind)."""
        whole = self.to_dict()
        if len(json.dumps(whole)) <= limit:
            return whole
        share = max(0, (limit - len(self.summary)) // 2 // max(1, len(self.zones)) // 600)  # ~300 chars an item
        for zone, written in zip(self.zones, whole["zones"], strict=True):
            written["pets"], written["petsOmitted"] = written["pets"][:share], max(0, len(zone.pets) - share)
            written["findings"] = written["findings"][:share]
            written["findingsOmitted"] = max(0, len(zone.findings) - share)
        return whole


def readiness_report(
    run_id: str,
    at: datetime,
    zones: Iterable[ZoneReadiness],
    *,
    unreachable: Iterable[str] = (),
    last: Mapping[str, Grade] | None = None,
) -> ReadinessReport:
    answered = tuple(zones)
    earlier = last or {}
    got_worse = tuple(z.zone for z in answered if worse(z.grade, earlier.get(z.zone)))
    head = ", ".join(f"{z.zone} {z.grade.value}" for z in answered) or "no zone"
    lines = [f"Readiness {run_id} at {at.isoformat(timespec='seconds')}: {head}"]
    if got_worse:
        lines.append(
            "worse than the last report: "
            + ", ".join(
                f"{z} ({earlier[z].value} -> {g.grade.value})" for z in got_worse for g in answered if g.zone == z
            )
        )
    if unreachable:
        lines.append(f"clusters not read: {', '.join(sorted(unreachable))}")
    lines += [summarize(z) for z in answered]
    return ReadinessReport(
        run_id=run_id,
        at=at,
        zones=answered,
        summary="\n".join(lines),
        unreachable=tuple(sorted(unreachable)),
        worse=got_worse,
    )
