"""What a run did, in the words a person reads at 3 a.m.: per node, per pet, and for the run (pure).

Built from the plan and what the executor reports per step (`statuses`: step id -> done, already-done,
gated, not-confirmed, planned; `results`: step id -> what the step returned), so the same functions report a
fresh run, a resumed one and a dry run. Per pet: old zone, new zone, old volume, snapshot, new volume, RPO
(time from the snapshot to the volume made from it) with its breach flag, and time to Running (from the pet's
first step in the run, its node's fence, to the pod seen Running again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from ferry.domain.conventions import DECISION_REJECTED, DECISION_TIMED_OUT
from ferry.domain.rehoming import failback
from ferry.domain.rehoming.models import (
    FencedBy,
    IdentityFreed,
    NodeReport,
    PetReport,
    PetStatus,
    PlanOutput,
    PodEviction,
    ReportInput,
    RunOutcome,
    RunReport,
)
from ferry.domain.rehoming.plans import ActionKind, Condition, DrainPod, NodePlan, PetPlan, SkipReason
from ferry.domain.runbooks import Runbook

Statuses = Mapping[str, str]
Results = Mapping[str, Mapping[str, Any]]
FINISHED = ("done", "already-done")
# A run that did not go on: its input refused, or, in supervised mode, a person's reject or no decision in time
# with onTimeout abort (nothing was changed in either case).
REJECTIONS = ("InputError", "SchemaValidationError", DECISION_REJECTED, DECISION_TIMED_OUT)


def _finished(statuses: Statuses, step_id: str) -> bool:
    return statuses.get(step_id) in FINISHED


def node_report(plan: NodePlan, statuses: Statuses, results: Results) -> NodeReport:
    fence = results.get(plan.fence_step) or {}
    fenced = bool(fence.get("fenced"))
    freed = None
    for action in plan.actions:
        if _finished(statuses, action.step_id):
            if action.kind is ActionKind.MARK_OUT_OF_SERVICE:
                freed = IdentityFreed.OUT_OF_SERVICE_TAINT
            elif action.kind is ActionKind.FORCE_DELETE_PODS:
                freed = IdentityFreed.FORCE_DELETE
    cordon = next(a for a in plan.actions if a.kind is ActionKind.CORDON)
    by = None
    if fenced:
        by = FencedBy.STOPPED_BY_FERRY if fence.get("stoppedByFerry") else FencedBy.ALREADY_STOPPED
    reason = None
    if statuses.get(plan.fence_step) == "planned":
        reason = "dry run: nothing done"
    elif not fenced:
        detail = fence.get("detail") or "EC2 did not confirm"
        reason = f"not fenced: {detail}; cordoned and tainted NoSchedule, nothing forced"
    return NodeReport(
        cluster=plan.cluster,
        node=plan.node,
        instance_id=plan.instance_id,
        fenced=fenced,
        fenced_by=by,
        identity_freed=freed,
        cordoned=_finished(statuses, cordon.step_id),
        reason=reason,
    )


def drain_report(plan: NodePlan, statuses: Statuses, results: Results) -> NodeReport:
    """DrainNode's node: cordoned or not, and each pod evicted or not with the reason."""
    evictions = []
    for action in plan.actions:
        if not isinstance(action, DrainPod):
            continue
        result = results.get(action.step_id) or {}
        if statuses.get(action.step_id) == "planned":
            evictions.append(PodEviction(action.namespace, action.pod, False, "dry run: nothing done"))
        else:
            evicted = bool(result.get("evicted"))
            evictions.append(
                PodEviction(action.namespace, action.pod, evicted, None if evicted else result.get("reason"))
            )
    left = [e for e in evictions if not e.evicted]
    cordon = plan.actions[0]
    dry_run = statuses.get(cordon.step_id) == "planned"
    reason = "dry run: nothing done" if dry_run else None
    if left and not dry_run:
        reason = f"{len(left)} of {len(evictions)} pod(s) not evicted (never forced)"
    return NodeReport(
        cluster=plan.cluster,
        node=plan.node,
        instance_id=plan.instance_id,
        fenced=False,
        fenced_by=None,
        identity_freed=None,
        cordoned=_finished(statuses, cordon.step_id),
        reason=reason,
        evictions=tuple(evictions),
    )


def _joined(values: list[str | None]) -> str | None:
    present = [v for v in values if v]
    return ",".join(present) if present else None


def pet_report(plan: PetPlan, statuses: Statuses, results: Results, began: datetime | None) -> PetReport:
    base = PetReport(
        cluster=plan.cluster,
        namespace=plan.namespace,
        pod=plan.pod,
        policy=plan.policy,
        status=PetStatus.PLANNED,
        from_zone=plan.from_zone,
        to_zone=plan.target_zone,
        old_volume=_joined([m.old_volume for m in plan.moves]),
        snapshot=_joined([m.snapshot_id for m in plan.moves]),
        reason="; ".join(plan.warnings) or None,
    )
    if any(statuses.get(a.step_id) == "planned" for a in plan.actions):
        return base
    gated = next((a for a in plan.actions if a.when is Condition.FENCED and statuses.get(a.step_id) == "gated"), None)
    if gated is not None:
        detail = (results.get(gated.gate or "") or {}).get("detail") or "EC2 did not confirm"
        return replace(
            base,
            status=PetStatus.SKIPPED,
            to_zone=None,
            reason=f"node {plan.node} not fenced ({detail}): identity not freed, nothing forced",
        )
    verify = next((results.get(a.step_id) for a in plan.actions if a.kind is ActionKind.VERIFY_RUNNING), None) or {}
    running = _time_to_running(verify, began)
    if not plan.crosses_zones:
        return replace(
            base, status=PetStatus.FREED, to_zone=plan.from_zone, rpo_seconds=0.0, time_to_running_seconds=running
        )
    created = [results.get(a.step_id) or {} for a in plan.actions if a.kind is ActionKind.CREATE_VOLUME]
    rpo = _rpo(plan, created)
    return replace(
        base,
        status=PetStatus.MOVED,
        to_zone=verify.get("zone") or plan.target_zone,
        new_volume=_joined([c.get("volumeId") for c in created]),
        rpo_seconds=rpo,
        rpo_breached=bool(rpo is not None and plan.max_rpo is not None and rpo > plan.max_rpo.total_seconds()),
        time_to_running_seconds=running,
    )


def _time_to_running(verify: Mapping[str, Any], began: datetime | None) -> float | None:
    if not verify.get("runningAt") or began is None:
        return None
    return max(0.0, (datetime.fromisoformat(verify["runningAt"]) - began).total_seconds())


def _rpo(plan: PetPlan, created: list[Mapping[str, Any]]) -> float | None:
    """The data at risk: from each snapshot's start to the volume restored from it; the worst claim counts."""
    ages = []
    for move, made in zip(plan.moves, created, strict=False):
        if move.snapshot_started_at and made.get("createdAt"):
            ages.append((datetime.fromisoformat(made["createdAt"]) - move.snapshot_started_at).total_seconds())
    return max(ages) if ages else None


# --- runs -----------------------------------------------------------------------------------------------------


def outcome(request: ReportInput, dry_run: bool) -> RunOutcome:
    if request.error is not None:
        return RunOutcome.REJECTED if request.error.error in REJECTIONS else RunOutcome.FAILED
    if dry_run:
        return RunOutcome.DRY_RUN
    statuses = Counter(p.status for p in request.pets)
    if request.pets and statuses[PetStatus.FAILED] == len(request.pets):
        return RunOutcome.FAILED
    if request.runbook is Runbook.DRAIN_NODE:  # nothing fenced; what it leaves by design is not a shortfall
        drained = all(n.cordoned and all(e.evicted for e in n.evictions) for n in request.nodes)
        return RunOutcome.SUCCEEDED if request.nodes and drained else RunOutcome.PARTIAL
    if request.runbook is Runbook.FAILBACK_ZONE:  # pets living away and nodes not back are reported, by design
        stopped = any(s.reason.startswith(SkipReason.ZONE_RELAPSED.value) for s in skipped_of(request))
        relapsed = stopped or any(n.reason and "relapsed" in n.reason for n in request.nodes)
        return RunOutcome.PARTIAL if relapsed else RunOutcome.SUCCEEDED
    unfenced = any(not n.fenced for n in request.nodes)
    # Nodes left alone matter through their pets (skipped with the node's reason); control-plane nodes do not.
    pets_left = [s for s in (request.plan.skipped if request.plan else ()) if "/node/" not in s.subject]
    left = statuses[PetStatus.FAILED] + statuses[PetStatus.SKIPPED] + len(pets_left)
    return RunOutcome.PARTIAL if unfenced or left else RunOutcome.SUCCEEDED


def failback_report(
    plan: NodePlan, statuses: Mapping[str, str], results: Mapping[str, Mapping[str, Any]]
) -> NodeReport:
    """FailbackZone's node: what of Ferry's was lifted, what stays, or that the zone relapsed."""
    step = plan.actions[0].step_id
    result = results.get(step) or {}
    lifted = tuple(str(x) for x in result.get("lifted") or ())
    if statuses.get(step) == "planned":
        reason: str | None = "planned: lift Ferry's cordon and taints (only those)"
    elif result.get("relapsed"):
        again = " and cordoned again" if result.get("cordonedAgain") else ""
        reason = f"{plan.zone} relapsed: not given back{again}" if not lifted else f"{plan.zone} relapsed{again}"
    elif result.get("keptCordon"):
        reason = "a cordon Ferry did not set stays"
    else:
        reason = None
    uncordoned = failback.UNCORDONED in lifted and not result.get("cordonedAgain")
    return NodeReport(
        plan.cluster,
        plan.node,
        plan.instance_id,
        fenced=False,
        fenced_by=None,
        identity_freed=None,
        cordoned=not uncordoned,
        reason=reason,
        lifted=lifted,
    )


def _failback_lines(nodes: tuple[NodeReport, ...]) -> list[str]:
    given = sum(1 for n in nodes if not n.cordoned)
    lines = [f"nodes: {given}/{len(nodes)} given back (schedulable again)"]
    for node in nodes:
        what = ", ".join(node.lifted) if node.lifted else "nothing lifted"
        lines.append(f"  - {node.cluster}/{node.node}: {what}{f' ({node.reason})' if node.reason else ''}")
    return lines


def run_report(request: ReportInput) -> RunReport:
    dry_run = bool(request.plan.dry_run if request.plan else request.input.get("dryRun", False))
    result = outcome(request, dry_run)
    return RunReport(
        run_id=request.run_id,
        runbook=request.runbook,
        dry_run=dry_run,
        outcome=result,
        summary=summary(request, result),
        nodes=request.nodes,
        pets=request.pets,
        error=request.error,
    )


def summary(request: ReportInput, result: RunOutcome) -> str:
    zone = request.plan.zone if request.plan and request.plan.zone else request.input.get("zone")
    lines = [f"{request.runbook.value} {request.run_id}{f' ({zone})' if zone else ''}: {result.value}"]
    if request.input.get("reason"):
        lines.append(f"why: {request.input['reason']}")
    if request.runbook is Runbook.DRAIN_NODE:
        lines += _drain_lines(request.nodes)
    elif request.runbook is Runbook.FAILBACK_ZONE:
        lines += _failback_lines(request.nodes)
    elif request.nodes:
        fenced = sum(1 for n in request.nodes if n.fenced)
        lines.append(f"nodes: {fenced}/{len(request.nodes)} fenced")
        lines += [f"  - {n.cluster}/{n.node} ({n.instance_id}): {n.reason}" for n in request.nodes if n.reason]
    if request.pets:
        counts = Counter(p.status.value for p in request.pets)
        lines.append("pets: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
        lines += [f"  - {_pet_line(p)}" for p in request.pets]
    if request.plan and request.plan.skipped:
        lines.append(f"left alone: {len(request.plan.skipped)}")
        lines += [f"  - {s.subject}: {s.reason}" for s in request.plan.skipped]
    if request.error:
        lines.append(f"error: {request.error.error}: {request.error.cause[:1000]}")
    return "\n".join(lines)


def _drain_lines(nodes: tuple[NodeReport, ...]) -> list[str]:
    lines = []
    for node in nodes:
        evicted = sum(1 for e in node.evictions if e.evicted)
        cordoned = "cordoned" if node.cordoned else "NOT cordoned"
        lines.append(
            f"node {node.cluster}/{node.node} ({node.instance_id}): {cordoned}, {evicted}/{len(node.evictions)} evicted"
        )
        lines += [f"  - {e.namespace}/{e.pod}: not evicted: {e.reason}" for e in node.evictions if not e.evicted]
        if node.reason and not node.evictions:
            lines.append(f"  - {node.reason}")
    return lines


def _pet_line(pet: PetReport) -> str:
    where = f"{pet.from_zone} -> {pet.to_zone}" if pet.to_zone and pet.to_zone != pet.from_zone else f"{pet.from_zone}"
    parts = [f"{pet.subject}: {pet.status.value} ({pet.policy.value}) {where}"]
    if pet.new_volume:
        parts.append(f"{pet.old_volume} -> {pet.new_volume} from {pet.snapshot}")
    if pet.rpo_seconds is not None:
        parts.append(f"RPO {pet.rpo_seconds:.0f}s{' BREACHED' if pet.rpo_breached else ''}")
    if pet.time_to_running_seconds is not None:
        parts.append(f"Running after {pet.time_to_running_seconds:.0f}s")
    if pet.reason:
        parts.append(pet.reason)
    return "; ".join(parts)


def skipped_of(request: ReportInput) -> tuple[Any, ...]:
    return request.plan.skipped if request.plan else ()


def plan_summary(plan: PlanOutput) -> str:
    """What a supervised run is about to do, for the person who decides (its pause's notification and record:
    ferry.domain.decisions)."""
    head = f"{plan.runbook.value} {plan.run_id}{f' ({plan.zone})' if plan.zone else ''}: {plan.reason}"
    lines = [head, f"nodes: {len(plan.nodes)}, pets: {len(plan.pets)}, left alone: {len(plan.skipped)}"]
    lines += [f"  - node {n.cluster}/{n.node} ({n.instance_id or 'no instance'}, {n.zone})" for n in plan.nodes]
    lines += [
        f"  - pet {p.cluster}/{p.namespace}/{p.pod} ({p.policy}): {p.from_zone} -> {p.target_zone or '?'}"
        for p in plan.pets
    ]
    lines += [f"  - left: {s.subject}: {s.reason}" for s in plan.skipped]
    return "\n".join(lines)
