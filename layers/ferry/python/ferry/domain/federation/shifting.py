"""Shifting a federated app's replicas (pure): from its new distribution and what each member runs, the scale
calls to make, in the order that keeps the app serving (make before break).

`plan_shift(distribution, members)` turns the target counts (`ferry.domain.federation.distribution`) and the
counts read from each member's Deployment into one `AppShift`: the members to scale up (the survivors that
gain), the members to scale down afterwards (the failed side, or anyone above its share), and the members that
could not be read. The runbook scales up first, waits until the new replicas are available, and only then
scales down; a scale-down is absolute (`replicas: N`), so a replayed step changes nothing.

A member that could not be read is judged by what the distribution gives it:

- a member that gets replicas (a survivor) must be readable and have the Deployment, or the app is refused with
  the reason (`clusters.east-1: ...`): Ferry never shifts replicas toward a cluster it cannot see;
- a member that gets none (the failed side) may be unreachable, which is why it is failed: it is recorded as
  `unreached`, its scale-down is not attempted and never reported done; a missing Deployment there needs none.

`explain` gives each app's line of the report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ferry.domain.detection.transitions import ControlPlaneStatus, ZoneStatus
from ferry.domain.federation.distribution import ClusterHealth, Distribution, ZoneNodes
from ferry.domain.serialization import CamelJsonModel

# The annotation a shift writes on each member's Deployment it scales, once (the first shift's count wins), so
# the count before the shift survives in the cluster itself, beside the journal's record.
BEFORE_SHIFT_ANNOTATION = "ferry.io/replicas-before-shift"


@dataclass(frozen=True, slots=True)
class ShiftAway(CamelJsonModel):
    """Where the replicas leave: one cluster, or one zone (each cluster spanning it loses that zone's share)."""

    cluster: str | None = None
    zone: str | None = None

    def describe(self) -> str:
        return f"cluster {self.cluster}" if self.cluster else f"zone {self.zone}"


def shift_view(
    away: ShiftAway,
    control_planes: Mapping[str, ControlPlaneStatus],
    nodes: Mapping[str, tuple[ZoneNodes, ...]],
    zones: Mapping[str, ZoneStatus],
) -> tuple[dict[str, ClusterHealth], dict[str, ZoneStatus]]:
    """The distribution's inputs for a shift away from `away`: the detector's verdicts, with the cluster taken as
    DOWN or the zone as IMPAIRED whatever they say (a person's ShiftReplicas may come before the detector)."""
    health = {
        cluster: ClusterHealth(ControlPlaneStatus.DOWN if cluster == away.cluster else status, nodes.get(cluster, ()))
        for cluster, status in control_planes.items()
    }
    verdicts = dict(zones)
    if away.zone:
        verdicts[away.zone] = ZoneStatus.IMPAIRED
    return health, verdicts


def zone_nodes(nodes: Iterable[tuple[str | None, bool]]) -> tuple[ZoneNodes, ...]:
    """(zone, Ready) of each worker node, as nodes per zone; nodes without a zone are left out."""
    ready: dict[str, int] = {}
    total: dict[str, int] = {}
    for zone, is_ready in nodes:
        if zone:
            total[zone] = total.get(zone, 0) + 1
            ready[zone] = ready.get(zone, 0) + int(is_ready)
    return tuple(ZoneNodes(zone, ready[zone], total[zone]) for zone in sorted(total))


class MemberIssue(StrEnum):
    """Why a member's Deployment has no count."""

    MISSING = "deployment-missing"  # the API answered: no such Deployment
    UNREACHABLE = "unreachable"  # no answer, or an answer Ferry cannot use (credentials refused, 5xx, timeout)


@dataclass(frozen=True, slots=True)
class Member(CamelJsonModel):
    """What was read of one member cluster's Deployment of the app: its desired and available replicas, or why
    nothing was read."""

    cluster: str
    replicas: int | None = None
    available: int | None = None
    issue: MemberIssue | None = None
    detail: str = ""  # the error's words, for the report


@dataclass(frozen=True, slots=True)
class Scale(CamelJsonModel):
    """Set one member's Deployment to `to` replicas (it had `before`)."""

    cluster: str
    before: int
    to: int


@dataclass(frozen=True, slots=True)
class Unreached(CamelJsonModel):
    """A member to be emptied that could not be read: its scale-down waits for its API (FailbackCluster's)."""

    cluster: str
    reason: str


@dataclass(frozen=True, slots=True)
class AppShift(CamelJsonModel):
    """One app's shift: scale-ups first, then scale-downs once the scale-ups are available."""

    app: str  # namespace/name
    namespace: str
    name: str
    ups: tuple[Scale, ...] = ()
    downs: tuple[Scale, ...] = ()
    unreached: tuple[Unreached, ...] = ()
    shortfall: int = 0
    why: str = ""  # the distribution's line (counts, shortfall and why)
    problems: tuple[str, ...] = ()  # refused: nothing is scaled for this app

    @property
    def refused(self) -> bool:
        return bool(self.problems)

    @property
    def changes(self) -> bool:
        return bool(self.ups or self.downs)

    def before(self) -> dict[str, int]:
        """The counts read before the shift, of the members it scales (what failback restores)."""
        return {s.cluster: s.before for s in (*self.ups, *self.downs)}


def member_from(cluster: str, deployment: Mapping[str, Any] | None) -> Member:
    """A member as its Deployment's JSON says (None: the API answered that there is none)."""
    if deployment is None:
        return Member(cluster, issue=MemberIssue.MISSING, detail="no such Deployment")
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    replicas = spec.get("replicas", 1)  # the API server's default
    return Member(cluster, int(replicas), int(status.get("availableReplicas") or 0))


def before_shift(deployment: Mapping[str, Any]) -> int | None:
    """The count a shift recorded on this Deployment before it first scaled it (None: not shifted)."""
    value = ((deployment.get("metadata") or {}).get("annotations") or {}).get(BEFORE_SHIFT_ANNOTATION)
    return int(value) if isinstance(value, str) and value.isdigit() else None


def plan_shift(distribution: Distribution, members: Mapping[str, Member]) -> AppShift:
    """The scale calls that take the app from the counts read (`members`, by cluster) to `distribution`."""
    namespace, _, name = distribution.app.partition("/")
    base = AppShift(distribution.app, namespace, name, shortfall=distribution.shortfall, why=distribution.explain())
    if distribution.problems:
        return AppShift(distribution.app, namespace, name, why=base.why, problems=distribution.problems)
    targets = distribution.counts()
    problems: list[str] = []
    ups: list[Scale] = []
    downs: list[Scale] = []
    unreached: list[Unreached] = []
    for cluster, target in targets.items():
        member = members.get(cluster) or Member(cluster, issue=MemberIssue.UNREACHABLE, detail="not read")
        if member.replicas is None:
            if target > 0:
                what = "Deployment not found" if member.issue is MemberIssue.MISSING else "unreachable"
                problems.append(f"clusters.{cluster}: {what}, cannot take {target} replica(s): {member.detail}".strip())
            elif member.issue is not MemberIssue.MISSING:
                unreached.append(Unreached(cluster, member.detail or "unreachable"))
            continue
        if target > member.replicas:
            ups.append(Scale(cluster, member.replicas, target))
        elif target < member.replicas:
            downs.append(Scale(cluster, member.replicas, target))
    if problems:
        return AppShift(distribution.app, namespace, name, why=base.why, problems=tuple(problems))
    return AppShift(
        distribution.app,
        namespace,
        name,
        ups=tuple(ups),
        downs=tuple(downs),
        unreached=tuple(unreached),
        shortfall=distribution.shortfall,
        why=base.why,
    )


# --- failback: replicas back into a recovered cluster, in steps -----------------------------------------------

FAILBACK_FRACTION = 0.25  # of the returning cluster's goal, per step: four steps from nothing


def failback_goal(distribution: Distribution, origin: Mapping[str, int] | None) -> dict[str, int]:
    """What failback restores: the counts recorded before the app's first shift for the members recorded, the
    distribution's for the others (a member that could not be read then); the distribution alone when the recorded
    counts no longer add up to its total (the app's configuration changed since)."""
    goal = distribution.counts()
    merged = {cluster: (origin or {}).get(cluster, count) for cluster, count in goal.items()}
    return merged if sum(merged.values()) == sum(goal.values()) else goal


def plan_failback_step(
    distribution: Distribution,
    goal: Mapping[str, int],
    members: Mapping[str, Member],
    returning: str,
    fraction: float = FAILBACK_FRACTION,
) -> AppShift:
    """One step of the app's return into `returning`: it gains up to `fraction` of its goal, and the members above
    their goal lose as many in all (in name order, never below their goal), once its new replicas are available.

    A returning member already at its goal (its pods ran on while its API was down) gets a scale-up to the count it
    has: nothing is called, but the run checks those replicas are available before anything is taken elsewhere.
    """
    namespace, _, name = distribution.app.partition("/")
    if distribution.problems:
        return AppShift(distribution.app, namespace, name, why=distribution.explain(), problems=distribution.problems)
    back = members.get(returning) or Member(returning, issue=MemberIssue.UNREACHABLE, detail="not read")
    if back.replicas is None:
        problem = f"clusters.{returning}: cannot be read ({back.detail or back.issue}): failback stops here"
        return AppShift(distribution.app, namespace, name, why=distribution.explain(), problems=(problem,))
    size = max(1, math.ceil(fraction * goal.get(returning, 0)))
    gain = max(0, min(goal.get(returning, 0) - back.replicas, size))
    budget = size
    downs: list[Scale] = []
    unreached: list[Unreached] = []
    for cluster in sorted(goal):
        member = members.get(cluster)
        if cluster == returning or member is None:
            continue
        if member.replicas is None:
            unreached.append(Unreached(cluster, member.detail or "unreachable"))
            continue
        take = min(member.replicas - goal[cluster], budget)
        if take > 0:
            downs.append(Scale(cluster, member.replicas, member.replicas - take))
            budget -= take
    ups = (Scale(returning, back.replicas, back.replicas + gain),) if gain or downs else ()
    return AppShift(
        distribution.app,
        namespace,
        name,
        ups=ups,
        downs=tuple(downs),
        unreached=tuple(unreached),
        shortfall=distribution.shortfall,
        why=distribution.explain(),
    )


# --- a run: what each step did to each app, and the report ---------------------------------------------------


class ScaleStatus(StrEnum):
    DONE = "done"
    PLANNED = "planned"  # dry run or observe mode
    FAILED = "failed"  # the call failed (the error is the reason)
    NOT_REACHED = "not-reached"  # the member's API did not answer: failed, never done; retried when it answers
    HELD = "held"  # a scale-down not made: the scale-ups were not available in time (make before break)


@dataclass(frozen=True, slots=True)
class Scaled(CamelJsonModel):
    cluster: str
    before: int
    to: int
    status: ScaleStatus
    reason: str = ""
    available: int | None = None  # a scale-up's available replicas when last read


class AppOutcome(StrEnum):
    SHIFTED = "shifted"
    UNCHANGED = "unchanged"  # the distribution is what runs: nothing to move (a zone every member spans alike)
    PLANNED = "planned"
    PARTIAL = "partial"  # a scale-down held or not reached, or a shortfall: the app still serves
    FAILED = "failed"  # a scale-up failed: nothing was scaled down
    REFUSED = "refused"  # bad input or a survivor Ferry cannot see: nothing done
    BUSY = "busy"  # another shift of the app holds its lock: nothing done


@dataclass(frozen=True, slots=True)
class AppRun(CamelJsonModel):
    """One app through the run's steps (the Maps' item): its shift, then what each scale call did."""

    run_id: str
    dry_run: bool
    shift: AppShift
    ups: tuple[Scaled, ...] = ()
    downs: tuple[Scaled, ...] = ()
    available: bool = False  # every scale-up's replicas are available
    busy: str = ""  # why the app was left alone: another run holds it
    failed: str = ""  # a step of this app kept failing (the state machine says which and why)

    @property
    def waiting(self) -> bool:
        """Whether the run still waits for this app: its scale-ups were all made and are not available yet (an app
        left alone, refused or with a failed scale-up has nothing to wait for: its scale-downs hold anyway)."""
        if self.shift.refused or self.busy or self.failed or self.available:
            return False
        return bool(self.ups) and all(s.status is ScaleStatus.DONE for s in self.ups)

    def outcome(self) -> AppOutcome:
        if self.shift.refused:
            return AppOutcome.REFUSED
        if self.busy:
            return AppOutcome.BUSY
        if self.failed:
            return AppOutcome.FAILED
        if self.dry_run:
            return AppOutcome.PLANNED
        if not self.shift.changes and not self.shift.unreached:
            return AppOutcome.PARTIAL if self.shift.shortfall else AppOutcome.UNCHANGED
        if any(s.status is not ScaleStatus.DONE for s in self.ups):
            return AppOutcome.FAILED
        if self.shift.unreached or self.shift.shortfall or any(s.status is not ScaleStatus.DONE for s in self.downs):
            return AppOutcome.PARTIAL
        return AppOutcome.SHIFTED

    def line(self) -> str:
        outcome = self.outcome()
        if outcome is AppOutcome.REFUSED:
            return f"{self.shift.app}: refused: {'; '.join(self.shift.problems)}"
        if outcome is AppOutcome.BUSY:
            return f"{self.shift.app}: busy: {self.busy}"
        if self.failed:
            return f"{self.shift.app}: failed: {self.failed}"
        ups = self.ups or tuple(Scaled(s.cluster, s.before, s.to, ScaleStatus.PLANNED) for s in self.shift.ups)
        downs = self.downs or tuple(Scaled(s.cluster, s.before, s.to, ScaleStatus.PLANNED) for s in self.shift.downs)
        moves = [_move(s) for s in (*ups, *downs)]
        moves += [
            f"{u.cluster} not reached ({u.reason}): its replicas stay until it answers" for u in self.shift.unreached
        ]
        if self.shift.shortfall:
            moves.append(f"{self.shift.shortfall} short ({self.shift.why.split('short (', 1)[-1].rstrip(')')})")
        return f"{self.shift.app}: {outcome.value}: {'; '.join(moves) or 'every member keeps its share'}"


def _move(scaled: Scaled) -> str:
    text = f"{scaled.cluster} {scaled.before} -> {scaled.to} {scaled.status.value}"
    if scaled.available is not None and scaled.to > scaled.before:
        text += f" ({scaled.available} available)"
    return f"{text}: {scaled.reason}" if scaled.reason else text


class ShiftOutcome(StrEnum):
    """A run's outcome, in the words every runbook's report uses."""

    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    DRY_RUN = "dry-run"


_DONE = frozenset({AppOutcome.SHIFTED, AppOutcome.UNCHANGED})


@dataclass(frozen=True, slots=True)
class ShiftReport(CamelJsonModel):
    """The run's report: the execution's output, sent to operators and audited."""

    run_id: str
    runbook: str
    dry_run: bool
    outcome: ShiftOutcome
    summary: str
    apps: tuple[AppRun, ...] = ()
    waited_seconds: int | None = None  # how long the run waited for the scale-ups to be available
    error: dict[str, str] | None = None


def shift_report(
    run_id: str,
    runbook: str,
    *,
    dry_run: bool,
    away: ShiftAway,
    reason: str,
    apps: tuple[AppRun, ...],
    waited_seconds: int | None = None,
    error: Mapping[str, str] | None = None,
    stopped: str = "",
) -> ShiftReport:
    """`stopped`: why a failback ended before every app was back (the cluster failed again)."""
    outcomes = [app.outcome() for app in apps]
    if error is not None:
        outcome = ShiftOutcome.FAILED
    elif dry_run:
        outcome = ShiftOutcome.DRY_RUN
    elif not stopped and all(o in _DONE for o in outcomes):
        outcome = ShiftOutcome.SUCCEEDED
    else:
        outcome = ShiftOutcome.PARTIAL
    counts = {o: outcomes.count(o) for o in AppOutcome if o in outcomes}
    lines = [
        f"{runbook} {run_id} ({away.describe()}): {outcome.value}",
        f"why: {reason}",
        f"apps: {', '.join(f'{n} {o.value}' for o, n in counts.items()) or 'none federated'}",
        *(f"  - {app.line()}" for app in apps),
    ]
    if waited_seconds is not None:
        lines.append(f"waited {waited_seconds}s for the scale-ups to be available")
    if stopped:
        lines.append(f"stopped: {stopped}")
    if error is not None:
        lines.append(f"error: {error.get('Error', '')}: {error.get('Cause', '')}"[:2000])
    return ShiftReport(
        run_id,
        runbook,
        dry_run,
        outcome,
        "\n".join(lines),
        apps,
        waited_seconds,
        dict(error) if error is not None else None,
    )
