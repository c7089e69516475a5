"""The shift step the ShiftReplicas and FailoverCluster state machines run, as a service (`functions/runbook-shift`).

One function, five steps, named by the Task's payload (`{"step": ..., "state": ...}`):

- `plan`: validate the input, read the registry (clusters, federated apps), the detector's verdicts, each
  reachable cluster's nodes (once) and each member's Deployment of each app (one read per app and member, no
  listing), compute every app's new distribution (pure) and its scale calls, and take each app's lock; an app
  whose lock another run holds is left alone.
- `scale-up`: one app (an item of the ScaleUp Map): set each gaining member to its new count.
- `available`: every app's scale-ups read again; done when each has its replicas available, or when the run
  has waited `available_within` (the state machine's Wait loop asks again until then).
- `scale-down`: one app: only if its scale-ups are available (make before break) each losing member is set to
  its new count; a member that does not answer is reported not reached (failed, never done), the others go on.
- `report`: the run's report, audited and sent; every lock of the run let go.

The requested `dryRun` goes to the executor (`ferry.executor.shifts`), which alone decides whether anything is
locked, recorded or scaled; in a dry run the plan is the report.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ferry.adapters.aws import LazyClient, client
from ferry.adapters.journal import Journal
from ferry.adapters.kube import ClusterAccess
from ferry.adapters.kube_writes import KubeWriter, writers
from ferry.adapters.registry import Registry
from ferry.adapters.reporting import AuditLog, Notifier
from ferry.adapters.states import StateTable
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.detection.transitions import ControlPlaneStatus, ZoneStatus
from ferry.domain.errors import FerryError, InputError, NotFound, Unavailable
from ferry.domain.federation.apps import FederatedApp
from ferry.domain.federation.distribution import ZoneNodes, distribute_all
from ferry.domain.federation.shifting import (
    AppRun,
    AppShift,
    Member,
    MemberIssue,
    Scaled,
    ScaleStatus,
    ShiftAway,
    ShiftReport,
    failback_goal,
    member_from,
    plan_failback_step,
    plan_shift,
    shift_report,
    shift_view,
    zone_nodes,
)
from ferry.domain.runbooks import Runbook
from ferry.domain.serialization import CamelJsonModel
from ferry.executor.shifts import ShiftExecutor
from ferry.observability import logger
from ferry.services.clocks import Clock
from ferry.services.inputs import validate_input
from ferry.services.settings.shifting import ShiftSettings

Connect = Callable[[ClusterRegistration], KubeWriter]
RUNBOOKS = (Runbook.SHIFT_REPLICAS, Runbook.FAILOVER_CLUSTER, Runbook.FAILBACK_CLUSTER)
WHO = "ferry-shifting"
BUSY = "another shift of this app is under way (its lock is held): nothing done here"


@dataclass(frozen=True, slots=True)
class ShiftPlan(CamelJsonModel):
    """Plan's output: the apps the Maps go over (each carrying its run id and dry run), for a person to read too."""

    run_id: str
    runbook: str
    dry_run: bool
    away: ShiftAway
    reason: str
    apps: tuple[AppRun, ...]
    finished: bool = False  # FailbackCluster: every app is back (or the cluster failed again): no step more
    stopped: str = ""  # why a failback stopped before its end


class ShiftSteps:
    def __init__(
        self,
        settings: ShiftSettings,
        *,
        registry: Registry,
        connect: Connect,
        states: StateTable,
        journal: Journal,
        audit: AuditLog,
        notifier: Notifier,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._connect = connect
        self._states = states
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self.executor = ShiftExecutor(
            settings.mode, journal=journal, audit=audit, clock=clock, lease=settings.lock_lease, sleep=sleep
        )

    @classmethod
    def from_settings(cls, settings: ShiftSettings, *, clock: Clock) -> ShiftSteps:
        """Clients made at cold start (never on import); cluster credentials and SNS only when first used."""
        dynamodb = client("dynamodb")
        connect = writers(ClusterAccess.from_environment(now=clock), timeout=settings.kube_timeout_seconds)

        table = settings.table_name
        return cls(
            settings,
            registry=Registry(dynamodb, table),
            connect=connect,
            states=StateTable(dynamodb, table),
            journal=Journal(dynamodb, table),
            audit=AuditLog(dynamodb, table),
            notifier=Notifier(LazyClient("sns"), settings.topic_arn),
            clock=clock,
        )

    def run(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The step the Task names: `{"step": "plan" | "scale-up" | "available" | "scale-down" | "report",
        "state": ...}`."""
        step, state = event.get("step"), event.get("state")
        match step:
            case "plan":
                return self.plan(state or {}).to_dict()
            case "scale-up":
                return self.scale_up(AppRun.from_dict(state)).to_dict()
            case "available":
                return self.available(state or {})
            case "scale-down":
                return self.scale_down(AppRun.from_dict(state)).to_dict()
            case "report":
                return self.report(state or {}).to_dict()
        raise InputError([f"step: expected plan, scale-up, available, scale-down or report, got {step!r}"])

    # --- plan --------------------------------------------------------------------------------------------------

    def plan(self, request: Mapping[str, Any]) -> ShiftPlan:
        run_id, runbook, body = _parse_request(request)
        if runbook is Runbook.FAILBACK_CLUSTER:
            return self._plan_failback_step(run_id, body)
        away = ShiftAway(cluster=body["cluster"]) if runbook is Runbook.FAILOVER_CLUSTER else _away(body["from"])
        clusters = {c.name: c for c in self._registry.clusters()}
        _check_away(runbook, away, clusters.values())
        apps = self._apps(body.get("app"))
        dry_run = not self.executor.acts(bool(body.get("dryRun", False)))
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(clusters)))) as pool:
            reads = dict(zip(clusters, pool.map(lambda c: self._read_cluster(c, apps), clusters.values()), strict=True))
        statuses = {name: self._control_plane(name) for name in clusters}
        zones = self._zones(clusters.values())
        health, verdicts = shift_view(away, statuses, {c: nodes for c, (nodes, _) in reads.items()}, zones)
        distributions = distribute_all(apps, health, verdicts)
        runs = []
        for app, distribution in zip(apps, distributions, strict=True):
            members = {cluster: deployments[app.key] for cluster, (_, deployments) in reads.items()}
            shift = plan_shift(distribution, members)
            claimed = shift.refused or self.executor.claim(run_id, shift, dry_run=dry_run)
            runs.append(AppRun(run_id, dry_run, shift, busy="" if claimed else BUSY))
        self._audit.record(
            f"{run_id}/plan",
            self._clock(),
            {
                "what": f"{runbook.value} planned: {len(runs)} app(s) away from {away.describe()}",
                "who": body.get("requestedBy") or WHO,
                "why": body.get("reason", ""),
                "dry_run": dry_run,
                "apps": [r.line() for r in runs],
            },
        )
        return ShiftPlan(run_id, runbook.value, dry_run, away, str(body.get("reason", "")), tuple(runs))

    def _plan_failback_step(self, run_id: str, body: Mapping[str, Any]) -> ShiftPlan:
        """The next step of the return into the cluster, read from the world as it is now (each step is planned
        after the last one's scale-downs and the Wait): nothing left to move, or the cluster down or silent
        again, finishes the run."""
        returning = str(body["cluster"])
        clusters = {c.name: c for c in self._registry.clusters()}
        _check_away(Runbook.FAILBACK_CLUSTER, ShiftAway(cluster=returning), clusters.values())
        dry_run = not self.executor.acts(bool(body.get("dryRun", False)))
        reason, back = str(body.get("reason", "")), ShiftAway(cluster=returning)
        if self._control_plane(returning) is ControlPlaneStatus.DOWN:
            stopped = f"the control plane of {returning} is DOWN again: failback stops (FailoverCluster moves it away)"
            return ShiftPlan(run_id, Runbook.FAILBACK_CLUSTER.value, dry_run, back, reason, (), True, stopped)
        apps = [a for a in self._apps(None) if returning in a.members(clusters)]
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(clusters)))) as pool:
            reads = dict(zip(clusters, pool.map(lambda c: self._read_cluster(c, apps), clusters.values()), strict=True))
        statuses = {name: self._control_plane(name) for name in clusters}
        nodes = {c: found for c, (found, _) in reads.items()}
        health, verdicts = shift_view(ShiftAway(), statuses, nodes, self._zones(clusters.values()))
        runs = []
        for app, distribution in zip(apps, distribute_all(apps, health, verdicts), strict=True):
            members = {cluster: deployments[app.key] for cluster, (_, deployments) in reads.items()}
            goal = failback_goal(distribution, self.executor.origin(app.key))
            shift = plan_failback_step(distribution, goal, members, returning)
            if not shift.changes and not shift.refused:
                self.executor.restored(app.key, dry_run=dry_run)
            claimed = shift.refused or self.executor.claim(run_id, shift, dry_run=dry_run, record=False)
            runs.append(AppRun(run_id, dry_run, shift, busy="" if claimed else BUSY))
        silent = [r.shift.problems[0] for r in runs if r.shift.refused and returning in r.shift.problems[0]]
        stopped = f"{returning} does not answer: failback stops ({silent[0]})" if silent else ""
        finished = bool(stopped) or not any(r.shift.changes for r in runs)
        self._audit.record(
            f"{run_id}/plan/{self._clock().isoformat()}",
            self._clock(),
            {
                "what": f"FailbackCluster step planned for {returning}: {len(runs)} app(s)",
                "who": body.get("requestedBy") or WHO,
                "why": reason,
                "dry_run": dry_run,
                "apps": [r.line() for r in runs],
            },
        )
        return ShiftPlan(run_id, Runbook.FAILBACK_CLUSTER.value, dry_run, back, reason, tuple(runs), finished, stopped)

    def _apps(self, named: str | None) -> list[FederatedApp]:
        apps = sorted(self._registry.apps(), key=lambda a: a.key)
        if named is None:
            return apps
        found = [a for a in apps if a.key == named]
        if not found:
            raise InputError([f"app: {named!r} is not a federated app ({', '.join(a.key for a in apps) or 'none'})"])
        return found

    def _control_plane(self, cluster: str) -> ControlPlaneStatus:
        state = self._states.read_control_plane(cluster).state
        return state.status if state else ControlPlaneStatus.UP

    def _zones(self, clusters: Iterable[ClusterRegistration]) -> dict[str, ZoneStatus]:
        by_region: dict[str, set[str]] = {}
        for registration in clusters:
            by_region.setdefault(registration.region, set()).update(registration.zones)
        zones: dict[str, ZoneStatus] = {}
        for region, names in by_region.items():
            zones |= {z.zone: z.status for z in self._states.read_region(region, names).state.zones}
        return zones

    def _read_cluster(
        self, registration: ClusterRegistration, apps: list[FederatedApp]
    ) -> tuple[tuple[ZoneNodes, ...], dict[str, Member]]:
        """One cluster's worker nodes per zone and its Deployment of each app; the first call that gets no answer
        marks the cluster unreachable for every app (no call more to an API that is gone)."""
        try:
            with self._connect(registration) as kube:
                nodes = zone_nodes((n.zone, n.ready) for n in kube.nodes() if not n.control_plane)
                members = {}
                for app in apps:
                    try:
                        found = kube.deployment_object(app.namespace, app.name)
                    except NotFound:
                        found = None
                    members[app.key] = member_from(registration.name, found)
                return nodes, members
        except FerryError as error:
            logger.warning("cluster not read", extra={"cluster": registration.name, "error": str(error)})
            detail = f"{type(error).__name__}: {error}"
            issue = Member(registration.name, issue=MemberIssue.UNREACHABLE, detail=detail)
            return (), {app.key: issue for app in apps}

    # --- scale up, wait, scale down ---------------------------------------------------------------------------

    def scale_up(self, app: AppRun) -> AppRun:
        """Each gaining member set to its new count; one that fails is reported, and the app's scale-downs hold."""
        if app.shift.refused or app.busy:
            return app
        ups = tuple(self._scale(app, s, why=f"make: {app.shift.app} up in {s.cluster}") for s in app.shift.ups)
        return replace(app, ups=ups, available=not ups)

    def available(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Read every app's scale-ups again: `done` once each has its new replicas available, or once the run has
        waited `available_within` since its first look (the state machine's Wait loop asks again until then)."""
        apps = [AppRun.from_dict(a) for a in state.get("apps") or []]
        now = self._clock()
        since = datetime.fromisoformat(str((state.get("wait") or {}).get("since") or now.isoformat()))
        checked = [self._check(app) for app in apps]
        waited = now - since
        done = not any(app.waiting for app in checked) or waited >= self._settings.available_within
        return {
            "apps": [a.to_dict() for a in checked],
            "since": since.isoformat(),
            "waitedSeconds": int(waited.total_seconds()),
            "done": done,
        }

    def _check(self, app: AppRun) -> AppRun:
        if not app.waiting:
            return app
        ups = tuple(self._available(app.shift, s) for s in app.ups)
        return replace(app, ups=ups, available=all((s.available or 0) >= s.to for s in ups))

    def _available(self, shift: AppShift, scaled: Scaled) -> Scaled:
        try:
            with self._connect(self._registration(scaled.cluster)) as kube:
                member = member_from(scaled.cluster, kube.deployment_object(shift.namespace, shift.name))
        except FerryError as error:
            return replace(scaled, reason=f"availability not read: {type(error).__name__}: {error}")
        return replace(scaled, available=member.available, reason="")

    def scale_down(self, app: AppRun) -> AppRun:
        """Break only after make: each losing member set to its new count once the app's scale-ups are available;
        a member that does not answer is not reached (failed, never done) and the others go on."""
        if app.shift.refused or app.busy:
            return app
        if not app.available:
            short = ", ".join(f"{s.cluster} {s.available or 0}/{s.to}" for s in app.ups if s.status is ScaleStatus.DONE)
            held = f"held: the scale-ups are not available ({short or 'a scale-up failed'}), so nothing is taken away"
            downs = tuple(Scaled(s.cluster, s.before, s.to, ScaleStatus.HELD, held) for s in app.shift.downs)
            return replace(app, downs=downs)
        downs = tuple(self._scale(app, s, why=f"break: {app.shift.app} down in {s.cluster}") for s in app.shift.downs)
        self.executor.release(app.run_id, app.shift.app, dry_run=app.dry_run)  # the app's step is over
        return replace(app, downs=downs)

    def _scale(self, app: AppRun, scale: Any, *, why: str) -> Scaled:
        try:
            with self._connect(self._registration(scale.cluster)) as kube:
                return self.executor.scale(kube, app.run_id, app.shift, scale, dry_run=app.dry_run, why=why)
        except Unavailable as error:
            return Scaled(scale.cluster, scale.before, scale.to, ScaleStatus.NOT_REACHED, str(error))
        except FerryError as error:
            return Scaled(scale.cluster, scale.before, scale.to, ScaleStatus.FAILED, f"{type(error).__name__}: {error}")

    def _registration(self, name: str) -> ClusterRegistration:
        found = next((c for c in self._registry.clusters() if c.name == name), None)
        if found is None:
            raise NotFound(f"cluster {name} is no longer registered")
        return found

    # --- report ------------------------------------------------------------------------------------------------

    def report(self, state: Mapping[str, Any]) -> ShiftReport:
        run_id, runbook = str(state.get("runId", "")), str(state.get("runbook", ""))
        given = state.get("input") or {}
        plan = state.get("plan") or {}
        raw = state.get("apps") or (state.get("wait") or {}).get("apps") or plan.get("apps") or []
        apps = tuple(AppRun.from_dict(a) for a in raw if isinstance(a, Mapping) and "shift" in a)
        away = ShiftAway.from_dict(plan["away"]) if plan.get("away") else _away_of(runbook, given)
        dry_run = bool(plan.get("dryRun", given.get("dryRun", False)))
        for app in apps:
            if not app.busy and not app.shift.refused:
                self.executor.release(run_id, app.shift.app, dry_run=dry_run)
        waited = (state.get("wait") or {}).get("waitedSeconds")
        result = shift_report(
            run_id,
            runbook,
            dry_run=dry_run,
            away=away,
            reason=str(given.get("reason", "")),
            apps=apps,
            waited_seconds=int(waited) if waited is not None else None,
            error=state.get("error"),
            stopped=str(plan.get("stopped") or ""),
        )
        now = self._clock()
        self._audit.record(
            f"{run_id}/report",
            now,
            {"what": f"{runbook} {result.outcome.value}", "who": WHO, "summary": result.summary},
        )
        self._notifier.notify(
            f"Ferry: {runbook} {result.outcome.value}", result.summary, {"run": run_id, "outcome": result.outcome.value}
        )
        return result


def _parse_request(request: Mapping[str, Any]) -> tuple[str, Runbook, dict[str, Any]]:
    problems = []
    run_id = request.get("runId")
    if not isinstance(run_id, str) or not run_id:
        problems.append("runId: required (the execution name)")
    runbook = next((r for r in RUNBOOKS if r.value == request.get("runbook")), None)
    if runbook is None:
        problems.append(f"runbook: expected one of {', '.join(RUNBOOKS)}, got {request.get('runbook')!r}")
    if problems:
        raise InputError(problems)
    assert runbook is not None and isinstance(run_id, str)
    body = {k: v for k, v in request.items() if k not in ("runId", "runbook")}
    validate_input(runbook, body)
    return run_id, runbook, body


def _check_away(runbook: Runbook, away: ShiftAway, clusters: Iterable[ClusterRegistration]) -> None:
    where = "from.cluster" if runbook is Runbook.SHIFT_REPLICAS else "cluster"
    registered = list(clusters)
    if away.cluster and away.cluster not in {c.name for c in registered}:
        raise InputError([f"{where}: {away.cluster!r} is not registered with Ferry"])
    if away.zone and not any(away.zone in c.zones for c in registered):
        raise InputError([f"from.zone: {away.zone!r} is not a zone of any registered cluster"])


def _away(value: Mapping[str, Any]) -> ShiftAway:
    return ShiftAway(cluster=value.get("cluster"), zone=value.get("zone"))


def _away_of(runbook: str, given: Mapping[str, Any]) -> ShiftAway:
    if runbook == Runbook.FAILOVER_CLUSTER:
        return ShiftAway(cluster=given.get("cluster"))
    return _away(given.get("from") or {})
