"""The four re-homing steps the state machines run (plan, fence a node, re-home a pet, report), as services.

Each `functions/runbook-*` handler parses its event into a model and calls one method here. The plan step
validates the input, reads each cluster once, plans (pure), and has the executor journal each node's and
pet's plan so the later steps execute exactly what was planned. The fence and re-home steps load their plan,
hand it to the executor (which skips journaled steps and checks the fence gate), and turn what happened into
a report. The requested `dryRun` is passed to the executor, which alone decides (with the mode) whether
anything changes; each report says what the executor did. "Not yet" leaves as `StepPending` and transient
failures as themselves, for Step Functions to retry; a pet whose step keeps failing gets a `failed` report
instead of failing the Map, so the other pets go on.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ferry.adapters.aws import LazyClient, client
from ferry.adapters.fencing import Fencer
from ferry.adapters.journal import Journal
from ferry.adapters.kube import ClusterAccess
from ferry.adapters.kube_writes import KubeWriter, writers
from ferry.adapters.lifecycle import LifecycleActions
from ferry.adapters.registry import Registry
from ferry.adapters.reporting import AuditLog, Notifier
from ferry.adapters.states import StateTable
from ferry.adapters.volumes import Volumes
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.conventions import SUPERVISED_RUNBOOKS
from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.errors import FerryError, InputError, StepPending, TransientError
from ferry.domain.rehoming import failback, reports
from ferry.domain.rehoming.inventory import ClusterInventory
from ferry.domain.rehoming.models import (
    NodeJob,
    NodeReport,
    PetJob,
    PetReport,
    PetStatus,
    PlanOutput,
    ReportInput,
    RunReport,
    SkippedItem,
)
from ferry.domain.rehoming.planner import Request, plan_drain, plan_evacuation, plan_fence, plan_node, plan_rehome
from ferry.domain.rehoming.plans import Cordon, NodePlan, PetPlan, Plan, Skipped, SkipReason
from ferry.domain.runbooks import Runbook
from ferry.executor.effects import ClusterEffects
from ferry.executor.plans import Execution, PlanExecutor, StepStatus
from ferry.observability import logger
from ferry.services import reading
from ferry.services.clocks import Clock
from ferry.services.inputs import validate_input
from ferry.services.settings.rehoming import RehomeSettings

Connect = Callable[[ClusterRegistration], KubeWriter]
RUNBOOKS = (Runbook.EVACUATE_ZONE, Runbook.REHOME_PET, Runbook.FENCE_NODE, Runbook.DRAIN_NODE, Runbook.FAILBACK_ZONE)
READABLE_LIMIT = 120_000  # bytes of readable plan in the output: Step Functions states carry at most 256 KB
WHO = "ferry-rehoming"
REGISTRY_TTL = timedelta(seconds=60)


def node_subject(cluster: str, node: str) -> str:
    return f"node/{cluster}/{node}"


def pet_subject(cluster: str, namespace: str, pod: str) -> str:
    return f"pet/{cluster}/{namespace}/{pod}"


class RehomingSteps:
    def __init__(
        self,
        settings: RehomeSettings,
        *,
        registry: Registry,
        connect: Connect,
        ec2: Any,
        states: StateTable,
        journal: Journal,
        audit: AuditLog,
        notifier: Notifier,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        owner: str | None = None,
        autoscaling: Any = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._connect = connect
        self._states = states
        self._journal = journal
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._registered: tuple[list[ClusterRegistration], datetime] | None = None
        self._fencer = Fencer(ec2, sleep=sleep, monotonic=monotonic)  # `sleep` and `monotonic` share one time
        self._volumes = Volumes(ec2)
        self._lifecycle = LifecycleActions(autoscaling) if autoscaling is not None else None
        self.executor = PlanExecutor(
            settings.mode,
            journal=journal,
            audit=audit,
            owner=owner or uuid.uuid4().hex,
            lock_lease=settings.lock_lease,
            clock=clock,
            sleep=sleep,
        )

    @classmethod
    def from_settings(cls, settings: RehomeSettings, *, clock: Clock) -> RehomingSteps:
        """Clients made at cold start (never on import); EC2 and SNS only when first used."""
        dynamodb = client("dynamodb")
        connect = writers(ClusterAccess.from_environment(now=clock), timeout=settings.kube_timeout_seconds)

        table = settings.table_name
        return cls(
            settings,
            registry=Registry(dynamodb, table),
            connect=connect,
            ec2=LazyClient("ec2"),
            autoscaling=LazyClient("autoscaling"),
            states=StateTable(dynamodb, table),
            journal=Journal(dynamodb, table, ttl=timedelta(days=settings.journal_ttl_days)),
            audit=AuditLog(dynamodb, table),
            notifier=Notifier(LazyClient("sns"), settings.topic_arn),
            clock=clock,
        )

    # --- reading -----------------------------------------------------------------------------------------------

    def _clusters(self, *, fresh: bool = False) -> list[ClusterRegistration]:
        """The registry, read at most once a minute per container: a Map of 100 pets asks 100 times."""
        now = self._clock()
        if fresh or self._registered is None or now - self._registered[1] > REGISTRY_TTL:
            self._registered = (self._registry.clusters(), now)
        return self._registered[0]

    def _registration(self, name: str) -> ClusterRegistration:
        found = next((c for c in self._clusters() if c.name == name), None)
        if found is None:  # registered a moment ago, perhaps
            found = next((c for c in self._clusters(fresh=True) if c.name == name), None)
        if found is None:
            raise InputError([f"cluster: {name!r} is not registered with Ferry"])
        return found

    def _zones(self, registration: ClusterRegistration) -> dict[str, ZoneStatus]:
        region = self._states.read_region(registration.region, registration.zones)
        return {z.zone: z.status for z in region.state.zones}

    def _effects(
        self, kube: KubeWriter, *, zone_status: Callable[[str], str | None] = lambda zone: None
    ) -> ClusterEffects:
        return ClusterEffects(
            kube=kube,
            fencer=self._fencer,
            volumes=self._volumes,
            fence_wait=self._settings.limits.fence_wait,
            clock=self._clock,
            lifecycle=self._lifecycle,
            zone_status=zone_status,
        )

    def _read_zone(self, registration: ClusterRegistration, zone: str) -> ClusterInventory:
        with self._connect(registration) as kube:
            return reading.read_cluster(kube, self._fencer, self._volumes, self._zones(registration), zone=zone)

    # --- plan --------------------------------------------------------------------------------------------------

    def plan(self, event: Mapping[str, Any]) -> PlanOutput:
        """Validate, read, plan; the executor journals the plan unless nothing may change."""
        run_id, runbook, body = _parse_plan_event(event)
        request = Request(run_id=run_id, now=self._clock(), limits=self._settings.limits)
        planned = self._make_plan(runbook, body, request)
        plan, dry_run, wait = self._journal_plan(run_id, runbook, planned, body)
        self._audit.record(
            f"{run_id}/plan",
            request.now,
            {
                "what": f"{runbook.value} planned: {len(plan.nodes)} node(s), {len(plan.pets)} pet(s)",
                "who": body.get("requestedBy") or WHO,
                "why": body.get("reason", ""),
                "dry_run": dry_run,
                "await_decision": wait,
                **({"approved_by": body["approvedBy"]} if body.get("approved") and body.get("approvedBy") else {}),
                "skipped": [s.to_dict() for s in plan.skipped],
            },
        )
        return replace(plan_output(run_id, runbook, dry_run, body, plan), await_decision=wait)

    def _make_plan(self, runbook: Runbook, body: Mapping[str, Any], request: Request) -> Plan:
        if runbook is Runbook.EVACUATE_ZONE:
            zone = str(body["zone"])
            clusters = self._clusters_for(zone, body.get("clusters"))
            with ThreadPoolExecutor(max_workers=max(1, min(8, len(clusters)))) as pool:
                inventories = list(pool.map(lambda c: self._read_zone(c, zone), clusters))
            return plan_evacuation(zone, inventories, request)
        if runbook is Runbook.FAILBACK_ZONE:
            return self._plan_failback(str(body["zone"]), body.get("clusters"), request)
        registration = self._registration(str(body["cluster"]))
        with self._connect(registration) as kube:
            zones = self._zones(registration)
            if runbook is Runbook.REHOME_PET:
                inventory = reading.read_pet(
                    kube,
                    self._fencer,
                    self._volumes,
                    zones,
                    namespace=str(body["namespace"]),
                    statefulset=str(body["statefulSet"]),
                    ordinal=int(body["ordinal"]),
                )
                return plan_rehome(
                    inventory,
                    str(body["namespace"]),
                    str(body["statefulSet"]),
                    int(body["ordinal"]),
                    request=request,
                    target_zone=body.get("targetZone"),
                )
            if runbook is Runbook.DRAIN_NODE:
                return self._plan_drain(kube, body, request)
            inventory = reading.read_node(kube, self._fencer, zones, node=str(body["node"]))
            return plan_node(inventory, str(body["node"]), request)

    def _plan_failback(self, zone: str, named: Iterable[str] | None, request: Request) -> Plan:
        """Read each of the zone's clusters (nodes, their leases, pets) and the pets' old volumes in the zone."""
        clusters = self._clusters_for(zone, named)

        def read(registration: ClusterRegistration) -> tuple[ClusterInventory, dict[str, datetime | None]]:
            with self._connect(registration) as kube:
                # EC2 details only for the zone's nodes: the pets away are found by their volumes' ids alone.
                zones = self._zones(registration)
                inventory = reading.read_cluster(kube, self._fencer, self._volumes, zones, zone=zone)
                return inventory, kube.lease_renewals()

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(clusters)))) as pool:
            read_all = list(pool.map(read, clusters))
        moved = self._volumes.rehomed_from(zone)
        return failback.plan_failback(
            zone,
            [inventory for inventory, _ in read_all],
            status=self._zone_status(clusters[0], zone) if clusters else None,
            leases={inventory.cluster: leases for inventory, leases in read_all},
            moved={inventory.cluster: moved for inventory, _ in read_all},
            now=request.now,
        )

    def _zone_status(self, registration: ClusterRegistration, zone: str) -> str | None:
        status = self._zones(registration).get(zone)
        return status.value if status else None

    def _plan_drain(self, kube: KubeWriter, body: Mapping[str, Any], request: Request) -> Plan:
        node, name, residents = reading.read_drain(kube, node=body.get("node"), instance_id=body.get("instanceId"))
        deadline = datetime.fromisoformat(body["deadline"]) if body.get("deadline") else None
        return plan_drain(
            kube.cluster,
            node,
            residents,
            request,
            node_name=name,
            deadline=deadline,
            cordon_only=bool(body.get("cordonOnly", False)),
            lifecycle=body.get("lifecycleAction"),
        )

    def _clusters_for(self, zone: str, named: Iterable[str] | None) -> list[ClusterRegistration]:
        registered = self._clusters()
        if named is None:
            return sorted((c for c in registered if zone in c.zones), key=lambda c: c.name)
        by_name = {c.name: c for c in registered}
        missing = [n for n in named if n not in by_name]
        if missing:
            raise InputError([f"clusters: {', '.join(missing)} not registered with Ferry"])
        return [by_name[n] for n in sorted(set(named))]

    def _journal_plan(
        self, run_id: str, runbook: Runbook, plan: Plan, body: Mapping[str, Any]
    ) -> tuple[Plan, bool, bool]:
        """Have the executor journal each node's and pet's plan; the first one written for a run wins, and is
        what is returned (a plan step run again for the same run reports what its later steps will execute).
        Returns the plan, whether it was a dry run (nothing journaled) and whether the run waits for a person's
        decision first, as the executor says."""
        nodes = {node_subject(n.cluster, n.node): n for n in plan.nodes}
        pets = {pet_subject(p.cluster, p.namespace, p.pod): p for p in plan.pets}
        plans = {s: n.to_dict() for s, n in nodes.items()} | {s: p.to_dict() for s, p in pets.items()}
        journaled = self.executor.journal_plans(
            run_id,
            plans,
            dry_run=bool(body.get("dryRun", False)),
            approved=bool(body.get("approved", False)),
            pausable=runbook.value in SUPERVISED_RUNBOOKS,
        )
        kept = replace(
            plan,
            nodes=tuple(NodePlan.from_dict(journaled.plans[s]) for s in nodes),
            pets=tuple(PetPlan.from_dict(journaled.plans[s]) for s in pets),
        )
        return kept, journaled.dry_run, journaled.await_decision

    # --- fence -------------------------------------------------------------------------------------------------

    def fence(self, job: NodeJob) -> NodeReport:
        registration = self._registration(job.cluster)
        with self._connect(registration) as kube:
            plan = self._node_plan(job, kube, registration)
            if isinstance(plan, Skipped):
                return NodeReport(job.cluster, job.node, job.instance_id, False, None, None, False, plan.detail)
            if plan.fails_back:
                return self._fail_back(job, plan, kube, registration)
            if plan.drains:
                return self._drain(job, plan, kube)
            execution = self.executor.execute(
                job.run_id, plan.actions, self._effects(kube), dry_run=job.dry_run, why=f"fence {job.node}"
            )
        report = reports.node_report(plan, *_views(execution))
        if execution.status(plan.fence_step) is StepStatus.NOT_CONFIRMED:
            self._notifier.notify(
                f"Ferry: node {job.node} not fenced",
                f"{job.cluster}/{job.node} ({job.instance_id}): {report.reason}.\n"
                "Its pets stay where they are until EC2 confirms the instance is down; run the step again then.",
                {"cluster": job.cluster, "node": job.node, "outcome": "not-fenced"},
            )
        return report

    def _drain(self, job: NodeJob, plan: NodePlan, kube: KubeWriter) -> NodeReport:
        """Cordon and evict; while a budget refuses a pod before its deadline, StepPending (Step Functions asks
        again with backoff; what is done stays journaled). At the deadline the refused pods are reported."""
        execution = self.executor.execute(
            job.run_id, plan.actions, self._effects(kube), dry_run=job.dry_run, why=f"drain {job.node}"
        )
        waiting = [s.step_id for s in execution.steps if s.status is StepStatus.NOT_CONFIRMED]
        if waiting:
            raise StepPending(f"{len(waiting)} pod(s) of {job.node} not evicted yet (PodDisruptionBudget)")
        return reports.drain_report(plan, *_views(execution))

    def _fail_back(
        self, job: NodeJob, plan: NodePlan, kube: KubeWriter, registration: ClusterRegistration
    ) -> NodeReport:
        """Give the node back, checking the zone just before and just after (a relapse stops it)."""
        effects = self._effects(kube, zone_status=lambda zone: self._zone_status(registration, zone))
        execution = self.executor.execute(
            job.run_id, plan.actions, effects, dry_run=job.dry_run, why=f"fail back {job.node}"
        )
        return reports.failback_report(plan, *_views(execution))

    def _node_plan(self, job: NodeJob, kube: KubeWriter, registration: ClusterRegistration) -> NodePlan | Skipped:
        saved = self._journal.load_plan(job.run_id, node_subject(job.cluster, job.node))
        if saved is not None:
            return NodePlan.from_dict(saved)
        inventory = reading.read_node(kube, self._fencer, self._zones(registration), node=job.node)
        node = inventory.nodes.get(job.node)
        if node is None:
            return Skipped(node_subject(job.cluster, job.node), SkipReason.POD_NOT_FOUND, "no such node")
        return plan_fence(node, inventory)

    # --- rehome ------------------------------------------------------------------------------------------------

    def rehome(self, job: PetJob) -> PetReport:
        """Re-home one pet; in a dry run (or observe mode) only say it is planned, without reading anything."""
        planned = PetReport(
            job.cluster, job.namespace, job.pod, job.policy, PetStatus.PLANNED, job.from_zone, job.target_zone
        )
        return self.executor.act_or_plan(job.dry_run, lambda: self._rehome(job), lambda: planned)

    def _rehome(self, job: PetJob) -> PetReport:
        registration = self._registration(job.cluster)
        subject = pet_subject(job.cluster, job.namespace, job.pod)
        with self._connect(registration) as kube:
            plan = self._pet_plan(job, kube, registration)
            if isinstance(plan, Skipped):
                return PetReport(
                    job.cluster,
                    job.namespace,
                    job.pod,
                    job.policy,
                    PetStatus.SKIPPED,
                    job.from_zone,
                    reason=plan.detail,
                )
            try:
                execution = self.executor.execute(
                    job.run_id,
                    plan.actions,
                    self._effects(kube),
                    dry_run=job.dry_run,
                    why=f"re-home {subject}",
                    lock=subject,
                )
            except TransientError:
                raise
            except FerryError as error:
                logger.warning("pet stopped", extra={"pet": subject, "error": str(error)})
                failed = reports.pet_report(plan, {}, {}, None)
                return replace(failed, status=PetStatus.FAILED, to_zone=None, reason=f"{type(error).__name__}: {error}")
        return reports.pet_report(plan, *_views(execution), execution.started_at)

    def _pet_plan(self, job: PetJob, kube: KubeWriter, registration: ClusterRegistration) -> PetPlan | Skipped:
        subject = pet_subject(job.cluster, job.namespace, job.pod)
        saved = self._journal.load_plan(job.run_id, subject)
        if saved is not None:
            return PetPlan.from_dict(saved)
        inventory = reading.read_pet(
            kube,
            self._fencer,
            self._volumes,
            self._zones(registration),
            namespace=job.namespace,
            statefulset=job.statefulset,
            ordinal=job.ordinal,
        )
        request = Request(run_id=job.run_id, now=self._clock(), limits=self._settings.limits)
        plan = plan_rehome(
            inventory, job.namespace, job.statefulset, job.ordinal, request=request, target_zone=job.target_zone
        )
        if not plan.pets:
            return plan.skipped[-1] if plan.skipped else Skipped(subject, SkipReason.POD_NOT_FOUND, "nothing planned")
        journaled = self.executor.journal_plans(job.run_id, {subject: plan.pets[0].to_dict()}, dry_run=job.dry_run)
        return PetPlan.from_dict(journaled.plans[subject])

    # --- report ------------------------------------------------------------------------------------------------

    def report(self, request: ReportInput) -> RunReport:
        if request.runbook is Runbook.FAILBACK_ZONE:
            request = self._cordon_again_on_relapse(request)
        result = reports.run_report(request)
        now = self._clock()
        self._audit.record(
            f"{request.run_id}/report",
            now,
            {"what": f"{request.runbook.value} {result.outcome.value}", "who": WHO, "summary": result.summary},
        )
        self._notifier.notify(
            f"Ferry: {request.runbook.value} {result.outcome.value}",
            result.summary,
            {"run": request.run_id, "outcome": result.outcome.value},
        )
        return result

    def _cordon_again_on_relapse(self, request: ReportInput) -> ReportInput:
        """A failback whose zone relapsed after some nodes were given back: Ferry's cordon goes back on each of
        them (journaled `cordon` steps of this run, marked as Ferry's), so failback leaves no node of an
        impaired zone schedulable, whenever the relapse came. The nodes' reports say so."""
        zone = str(request.input.get("zone", ""))
        if all(n.cordoned for n in request.nodes):
            return request  # nothing was given back: nothing to take back
        status = self._zone_status(self._registration(request.nodes[0].cluster), zone)
        given_back = failback.cordon_again(request.nodes, status)
        for node in given_back:
            with self._connect(self._registration(node.cluster)) as kube:
                self.executor.execute(
                    request.run_id,
                    [Cordon(cluster=node.cluster, node=node.node)],
                    self._effects(kube),
                    dry_run=bool(request.input.get("dryRun", False)),
                    why=f"{zone} relapsed during failback: {node.node} cordoned again",
                )
        again = f"{zone} relapsed: cordoned again after it was given back"
        nodes = tuple(replace(n, cordoned=True, reason=again) if n in given_back else n for n in request.nodes)
        return replace(request, nodes=nodes)


# --- helpers --------------------------------------------------------------------------------------------------


def _views(execution: Execution) -> tuple[dict[str, str], dict[str, Mapping[str, Any]]]:
    statuses = {s.step_id: s.status.value for s in execution.steps}
    results = {s.step_id: s.result for s in execution.steps}
    return statuses, results


def _parse_plan_event(event: Mapping[str, Any]) -> tuple[str, Runbook, dict[str, Any]]:
    problems = []
    run_id = event.get("runId") if isinstance(event, Mapping) else None
    if not isinstance(run_id, str) or not run_id:
        problems.append("runId: required (the execution name)")
    raw = event.get("runbook") if isinstance(event, Mapping) else None
    runbook = next((r for r in RUNBOOKS if r.value == raw), None)
    if runbook is None:
        problems.append(f"runbook: expected one of {', '.join(r.value for r in RUNBOOKS)}, got {raw!r}")
    if problems:
        raise InputError(problems)
    assert runbook is not None and isinstance(run_id, str)
    body = {k: v for k, v in event.items() if k not in ("runId", "runbook")}
    validate_input(runbook, body)
    return run_id, runbook, body


def plan_output(run_id: str, runbook: Runbook, dry_run: bool, body: Mapping[str, Any], plan: Plan) -> PlanOutput:
    nodes = tuple(NodeJob(run_id, n.cluster, n.node, n.instance_id, n.zone, dry_run) for n in plan.nodes)
    pets = tuple(
        PetJob(
            run_id=run_id,
            cluster=p.cluster,
            namespace=p.namespace,
            statefulset=p.statefulset,
            ordinal=p.ordinal,
            pod=p.pod,
            node=p.node,
            policy=p.policy,
            from_zone=p.from_zone,
            target_zone=p.target_zone,
            dry_run=dry_run,
        )
        for p in plan.pets
    )
    readable = plan.readable()
    if len(str(readable)) > READABLE_LIMIT:
        readable = plan.readable(detailed=False)
    return PlanOutput(
        run_id=run_id,
        runbook=runbook,
        dry_run=dry_run,
        zone=plan.zone,
        reason=str(body.get("reason", "")),
        nodes=nodes,
        pets=pets,
        skipped=tuple(SkippedItem(**s.to_dict()) for s in plan.skipped),
        plan=readable,
    )
