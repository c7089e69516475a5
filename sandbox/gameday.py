"""`python -m sandbox.gameday [SCENARIO]`: a failure drill on the sandbox, told as a timeline, then checked.

It sets up the world of a scenario (sandbox/scenarios/<name>.yaml), prints where every pet and node stands,
runs the scenario's steps on sandbox time, and prints what happened and what Ferry observed: the batches its
`ingest` handler took from the queue, the signals it recorded, the detector's zone transitions, its audited
actions and its notifications, and in act mode the runbooks it started: each execution, the plan, each node
fenced, each pet re-homed, the report. It ends with the same tables after the drill, how long the failed
zone's pets took to run elsewhere, and the checks: the safety invariants every drill must keep, plus the
scenario's own `expect:`. The exit status is 0 only if every check passed.

Adding what the timeline shows: an `Observer` (compares a view of the world between ticks). Adding a check:
a dataclass in sandbox/scenario.py and a function in `SCENARIO_CHECKS`.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sandbox import (
    lambdas,  # noqa: F401  (first: puts Ferry's layer on sys.path, as Lambda's /opt/python)
    picture,
)
from sandbox.aws import Inventory
from sandbox.lambdas import ROOT, Delivery, Invocation
from sandbox.realkube import HOW_TO_GET_THEM, assets_dir
from sandbox.scenario import (
    TROUBLE_KINDS,
    UNWRITTEN_CONTROL_PLANE,
    UNWRITTEN_ZONE,
    Check,
    ControlPlaneState,
    FederatedReplicas,
    NodesNotReady,
    NodesReady,
    PetsRehomed,
    PetsUnmoved,
    ReadinessKept,
    RunbookRuns,
    Scenario,
    ScenarioError,
    SignalSources,
    UnknownScenario,
    ZoneObserved,
    ZoneQuiet,
    ZoneState,
    load,
)
from sandbox.stepfunctions import ExecutionView, TaskRun, template_path
from sandbox.world import DOUBLE_ONLY_STEPS, Happening, KubeBackend, NodeState, Pet, World

DEFAULT_SCENARIO = "az-outage"
TICK_SECONDS = 15.0  # how often sandbox time stops to look around (controllers, table, queue)


# --- output -------------------------------------------------------------------------------------------------


class Style:
    """Plain text, with a little colour only when writing to a terminal (and NO_COLOR is unset)."""

    CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}

    def __init__(self, stream: TextIO) -> None:
        self.enabled = stream.isatty() and "NO_COLOR" not in os.environ

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles:
            return text
        return "".join(f"\033[{self.CODES[s]}m" for s in styles) + text + "\033[0m"


def clock(seconds: float) -> str:
    """Sandbox time offset as t+m:ss."""
    whole = round(seconds)
    return f"t+{whole // 60}:{whole % 60:02d}"


def table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


# --- what the world looks like ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Picture:
    """The world at one moment, for the before/after tables and the checks."""

    pets: tuple[Pet, ...]
    nodes: tuple[NodeState, ...]
    inventory: Inventory
    deployments: tuple[tuple[str, str, int, int], ...]  # cluster, namespace/name, desired, ready

    @classmethod
    def take(cls, world: World) -> Picture:
        deployments = []
        for app in world.scenario.federated:
            for member in app.weights:
                found = world.clusters[member].get("Deployment", app.name, app.namespace) or {}
                desired = int(found.get("spec", {}).get("replicas", 0))
                ready = int(found.get("status", {}).get("readyReplicas", 0) or 0)
                deployments.append((member, f"{app.namespace}/{app.name}", desired, ready))
        return cls(tuple(world.pets()), tuple(world.nodes()), world.inventory(), tuple(deployments))

    def lines(self, zones: Iterable[str]) -> list[str]:
        snapshots = {s.volume_id: s.id for s in self.inventory.snapshots}
        pet_rows = [("pet", "cluster", "zone", "node", "phase", "volume", "restored from", "snapshot")]
        for p in self.pets:
            volume = self.inventory.volume(p.volume_id or "")
            pet_rows.append(
                (
                    f"{p.namespace}/{p.name}",
                    p.cluster,
                    p.zone or "-",
                    p.node or "-",
                    p.phase or "(no pod)",
                    p.volume_id or "-",
                    (volume.snapshot_id if volume else None) or "-",
                    snapshots.get(p.volume_id or "", "-"),
                )
            )
        zone_rows = [("zone", "nodes Ready", "NotReady", "instances running", "stopped", "data volumes")]
        for zone in zones:
            nodes = [n for n in self.nodes if n.zone == zone]
            states = self.inventory.instance_states(zone)
            volumes = sum(1 for v in self.inventory.volumes if v.zone == zone and not v.root)
            ready = sum(n.is_ready for n in nodes)
            zone_rows.append(
                (
                    zone,
                    str(ready),
                    str(len(nodes) - ready),
                    str(states["running"]),
                    str(states["stopped"]),
                    str(volumes),
                )
            )
        lines = [*table(pet_rows), "", *table(zone_rows)]
        if self.deployments:
            rows = [("federated app", "cluster", "replicas", "ready")]
            rows += [(app, cluster, str(want), str(ready)) for cluster, app, want, ready in self.deployments]
            lines += ["", *table(rows)]
        return lines


# --- observers: what changed since the last look ------------------------------------------------------------


class Observer:
    """Looks at one aspect of the world each tick and reports what changed since it last looked."""

    def prime(self, world: World) -> None:
        self.observe(world)

    def moment_began(self, wall: float) -> None:
        """Told when each stop of the drill began on the real clock (`time.perf_counter()`), for timings."""

    def observe(self, world: World) -> list[Happening]:
        raise NotImplementedError


class NodeReadiness(Observer):
    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], str] = {}

    def observe(self, world: World) -> list[Happening]:
        changed: dict[tuple[str, str], list[str]] = {}
        for node in world.nodes():
            key = (node.cluster, node.name)
            if key in self._seen and self._seen[key] != node.ready:
                label = "Ready" if node.is_ready else f"NotReady (Ready={node.ready})"
                changed.setdefault((node.cluster, label), []).append(node.name)
            self._seen[key] = node.ready
        return [
            Happening(world.offset(), "kubernetes", f"{cluster}: {len(names)} node(s) {label}: {', '.join(names)}")
            for (cluster, label), names in changed.items()
        ]


class RecordedSignals(Observer):
    """Ferry's table: the signals its functions recorded, per subject (zone, cluster, region).

    Signals of trouble are shown as they come; the probe's routine healthy reports only for a subject that
    had trouble in this drill (they are then evidence of recovery), or every minute would repeat them.
    """

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._troubled: set[str] = set()

    def observe(self, world: World) -> list[Happening]:
        happened = []
        for subject in subjects(world):
            fresh = [s for s in world.signals(subject) if (s["pk"], s["sk"]) not in self._seen]
            self._seen |= {(s["pk"], s["sk"]) for s in fresh}
            if any(s["kind"] in TROUBLE_KINDS for s in fresh):
                self._troubled.add(subject)
            shown = [s for s in fresh if s["kind"] in TROUBLE_KINDS or subject in self._troubled]
            if shown:
                kinds = Counter(f"{s['kind']} ({s['source']})" for s in shown)
                listed = ", ".join(f"{n} x {k}" if n > 1 else k for k, n in sorted(kinds.items()))
                happened.append(Happening(world.offset(), "ferry", f"recorded for {subject}: {listed}"))
        return happened


class Verdicts(Observer):
    """The detector's verdicts: each zone's status and each control plane's, as it writes them."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def status(self, zone: str) -> str:
        """The zone's status as last seen (healthy until the detector writes otherwise)."""
        return self._seen.get(zone, UNWRITTEN_ZONE)

    def observe(self, world: World) -> list[Happening]:
        now = {f"{zone}": zone_status(world, zone) for zone in world.scenario.zones}
        now |= {f"control plane of {c}": control_plane_status(world, c) for c in world.clusters}
        happened = []
        for subject, status in now.items():
            before = self._seen.get(subject, status)
            if status != before:
                happened.append(Happening(world.offset(), "ferry", f"detector: {subject} {before} -> {status}"))
            self._seen[subject] = status
        return happened


class AuditedActions(Observer):
    """Ferry's audit log (`AUDIT#<day>`): every reaction its detector carried out, one line each.

    The runbooks' steps are audited too, one record per action (cordon, taint, create a volume, ...); those are
    counted per run instead, as `RunbookActivity` tells what each step did.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def observe(self, world: World) -> list[Happening]:
        day = world.clock.now().date().isoformat()
        happened = []
        steps: Counter[str] = Counter()
        for item in world.table_items(f"AUDIT#{day}"):
            if item["sk"] in self._seen:
                continue
            self._seen.add(item["sk"])
            run, separator, _ = str(item.get("action_id", "")).partition("/")
            if separator:  # a runbook's record: `<run id>/<step id>` (docs/REHOMING.md)
                steps[run] += 1
            else:
                happened.append(Happening(world.offset(), "ferry", f"audit: {_audit_line(item)}"))
        happened += [
            Happening(world.offset(), "ferry", f"audit: {n} step(s) of run {run} recorded") for run, n in steps.items()
        ]
        return happened


class RunbookActivity(Observer):
    """Ferry's runbooks at work (act mode): executions as Step Functions starts and ends them, and what each
    Task did (the plan, each node fenced, each pet re-homed, the report), from the handlers' own answers."""

    def __init__(self) -> None:
        self._status: dict[tuple[str, str], str] = {}
        self._tasks = 0
        self._pending: dict[str, tuple[int, str]] = {}  # subject -> "not yet" answers so far, the last one

    def prime(self, world: World) -> None:
        """Nothing runs before time zero."""

    def observe(self, world: World) -> list[Happening]:
        executions = world.executions()
        started = [e for e in executions if (e.runbook, e.name) not in self._status]
        ended = [e for e in executions if e.ended and self._status.get((e.runbook, e.name)) != e.status]
        lines = [("aws", _execution_started(e)) for e in started]
        runs = world.runbooks.task_runs[self._tasks :] if world.runbooks else []
        self._tasks += len(runs)
        lines += [("ferry", describe_task(run, self._pending)) for run in runs]
        lines += [("aws", _execution_ended(e)) for e in ended]
        self._status |= {(e.runbook, e.name): e.status for e in executions}
        return [Happening(world.offset(), actor, text) for actor, text in lines]


def _execution_started(execution: ExecutionView) -> str:
    given = execution.input
    target = given.get("zone") or "/".join(str(given[k]) for k in ("cluster", "node") if k in given) or "?"
    by = f", requested by {given['requestedBy']}" if given.get("requestedBy") else ""
    dry = " (dry run)" if given.get("dryRun", False) else ""
    return f"Step Functions: ferry-{execution.runbook} started {execution.name} for {target}{dry}{by}"


def _execution_ended(execution: ExecutionView) -> str:
    text = f"Step Functions: {execution.name} {execution.status}"
    if execution.error:
        text += f" ({execution.error}: {(execution.cause or '')[:160]})"
    return text


TASK_STEPS = {"runbook-plan": "plan", "runbook-fence": "fence", "runbook-rehome": "re-home", "runbook-report": "report"}


def describe_task(run: TaskRun, pending: dict[str, tuple[int, str]]) -> str:
    """One line per Task: what the step answered (docs/REHOMING.md shapes), or why it did not.

    A step that answers "not yet" (StepPending) again for the same reason is told in a few words.
    """
    step = TASK_STEPS.get(run.function, run.function)
    event, error, result = run.invocation.event, run.invocation.error, run.invocation.result
    if error is not None:
        subject = _task_subject(event)
        if type(error).__name__ != "StepPending":
            return f"{step}: {subject} failed: {type(error).__name__}: {error}"
        count, last = pending.get(subject, (0, ""))
        pending[subject] = (count + 1, str(error))
        if str(error) == last:
            return f"{step}: {subject} still not yet (Step Functions asks again, retry {count + 1})"
        return f"{step}: {subject} not yet: {error} (Step Functions asks again, retry {count + 1})"
    if not isinstance(result, dict):
        return f"{step}: answered {result!r}"
    if run.function == "runbook-shift":
        return _shift_line(str(event.get("step")), result)
    describe = {"plan": _plan_line, "fence": _node_line, "re-home": _pet_line, "report": _report_line}.get(step)
    return describe(result) if describe else f"{step}: done"


def _task_subject(event: Any) -> str:
    """Whom a Task was about: a pet (`east-1/shop/db-0`), a node (`east-1/east-1-a-w0`), or the run."""
    keys = ("cluster", "namespace", "pod") if "pod" in event else ("cluster", "node") if "node" in event else ()
    return "/".join(str(event[k]) for k in keys if event.get(k)) or str(event.get("runId", "the run"))


def _plan_line(out: dict[str, Any]) -> str:
    nodes, pets, skipped = out.get("nodes") or [], out.get("pets") or [], out.get("skipped") or []
    clusters = ", ".join(sorted({str(n.get("cluster")) for n in nodes}))
    text = f"plan {out.get('runId')}: {len(nodes)} node(s) to fence" + (f" ({clusters})" if clusters else "")
    moves = [f"{p['cluster']}/{p['namespace']}/{p['pod']} {p['fromZone']} -> {p['targetZone']}" for p in pets]
    text += f", {len(pets)} pet(s) to move" + (f": {', '.join(moves)}" if moves else "")
    if skipped:
        text += f"; {len(skipped)} skipped ({skipped[0].get('subject')}: {skipped[0].get('reason')})"
    return text + (" [dry run]" if out.get("dryRun") else "")


def _node_line(report: dict[str, Any]) -> str:
    who = f"{report.get('cluster')}/{report.get('node')} ({report.get('instanceId')})"
    if not report.get("fenced"):
        return f"fence: {who} NOT fenced: {report.get('reason')}"
    freed = report.get("identityFreed")
    text = f"fence: {who} fenced ({report.get('fencedBy')})"
    text += f", pets' identities freed by {freed}" if freed else ", identities not freed"
    return text + (", cordoned" if report.get("cordoned") else "")


def _pet_line(report: dict[str, Any]) -> str:
    who = f"{report.get('cluster')}/{report.get('namespace')}/{report.get('pod')}"
    status = report.get("status")
    if status != "moved":
        return f"re-home: {who} {status}" + (f": {report['reason']}" if report.get("reason") else "")
    text = (
        f"re-home: {who} moved {report.get('fromZone')} -> {report.get('toZone')}: "
        f"{report.get('oldVolume')} -> {report.get('snapshot') or '(no snapshot)'} -> {report.get('newVolume')}"
    )
    if report.get("rpoSeconds") is not None:
        text += f", RPO {report['rpoSeconds']:.0f} s" + (" (over the bound)" if report.get("rpoBreached") else "")
    if report.get("timeToRunningSeconds") is not None:
        text += f", Running {report['timeToRunningSeconds']:.0f} s after it began"
    return text


def _report_line(report: dict[str, Any]) -> str:
    nodes, pets = report.get("nodes") or [], report.get("pets") or []
    fenced = sum(1 for n in nodes if n.get("fenced"))
    statuses = Counter(str(p.get("status")) for p in pets)
    moved = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "none"
    return (
        f"report: {report.get('runbook')} {report.get('runId')} {report.get('outcome')}: "
        f"{fenced}/{len(nodes)} node(s) fenced, pets: {moved}"
    )


def _shift_line(step: str, out: dict[str, Any]) -> str:
    """runbook-shift's steps (functions/runbook-shift/README.md): the plan, each app's scale calls, the wait."""
    if step == "plan":
        away = out.get("away") or {}
        where = f"cluster {away['cluster']}" if away.get("cluster") else f"zone {away.get('zone')}"
        apps = [_app_line(app) for app in out.get("apps") or []]
        dry = " [dry run]" if out.get("dryRun") else ""
        return f"shift plan {out.get('runId')} away from {where}: {'; '.join(apps) or 'no federated app'}{dry}"
    if step == "available":
        waiting = [a["shift"]["app"] for a in out.get("apps") or [] if not a.get("available") and a.get("ups")]
        state = "every scale-up available" if not waiting else f"waiting for {', '.join(waiting)}"
        return f"shift: {state} after {out.get('waitedSeconds')} s" + ("" if out.get("done") else ", looks again")
    if step == "report":
        return f"report: {out.get('runbook')} {out.get('runId')} {out.get('outcome')}"
    calls = [f"{c['cluster']} {c['before']} -> {c['to']} {c['status']}" for c in out.get(step[6:] + "s", [])]
    if step == "scale-down":
        calls += [f"{u['cluster']} not reached, its replicas stay until it answers" for u in out["shift"]["unreached"]]
    return f"{step}: {out['shift']['app']}: {', '.join(calls) or 'nothing to do'}"


def _app_line(app: dict[str, Any]) -> str:
    shift = app["shift"]
    if shift.get("problems"):
        return f"{shift['app']} refused ({shift['problems'][0]})"
    moves = [f"{s['cluster']} {s['before']} -> {s['to']}" for s in (*shift.get("ups", []), *shift.get("downs", []))]
    moves += [f"{u['cluster']} not reachable" for u in shift.get("unreached", [])]
    return f"{shift['app']} {', '.join(moves) or 'unchanged'}"


class Recovery(Observer):
    """Times issue 5's promise: from a zone's IMPAIRED to every pet that ran there Running in another zone.

    Sandbox time is read at the drill's stops. Wall time runs from the start of the stop at which the zone
    became IMPAIRED (so the runbook's first steps, run at that stop, count) to the stop that saw the last
    pet Running elsewhere.
    """

    def __init__(self, verdicts: Verdicts) -> None:
        self._verdicts = verdicts
        self._wall = time.perf_counter()
        self.homes: dict[str, str | None] = {}  # pet -> the zone it ran in at time zero
        self.impaired: dict[str, tuple[float, float]] = {}  # zone -> (sandbox offset, wall) of IMPAIRED
        self.rehomed: dict[str, tuple[float, float]] = {}  # zone -> when its last pet ran elsewhere

    def prime(self, world: World) -> None:
        self.homes = {_pet_key(p): p.zone for p in world.pets()}

    def moment_began(self, wall: float) -> None:
        self._wall = wall

    def observe(self, world: World) -> list[Happening]:
        for zone in world.scenario.zones:
            if zone not in self.impaired and self._verdicts.status(zone) == "impaired":
                self.impaired[zone] = (world.offset(), self._wall)
        waiting = [zone for zone in self.impaired if zone not in self.rehomed]
        if not waiting:
            return []
        pets = world.pets()
        happened = []
        for zone in waiting:
            its = self.pets_of(zone, pets)
            if its and all(p.phase == "Running" and p.zone not in (None, zone) for p in its):
                self.rehomed[zone] = (world.offset(), time.perf_counter())
                elapsed = world.offset() - self.impaired[zone][0]
                text = f"all {len(its)} pet(s) of {zone} Running elsewhere, {elapsed:.0f} s after IMPAIRED"
                happened.append(Happening(world.offset(), "sandbox", text))
        return happened

    def pets_of(self, zone: str, pets: Iterable[Pet]) -> list[Pet]:
        return [p for p in pets if self.homes.get(_pet_key(p)) == zone]

    def elapsed(self, zone: str) -> tuple[float, float] | None:
        """(sandbox seconds, wall seconds) from the zone's IMPAIRED to all its pets Running elsewhere."""
        if zone not in self.impaired or zone not in self.rehomed:
            return None
        (impaired, impaired_wall), (rehomed, rehomed_wall) = self.impaired[zone], self.rehomed[zone]
        return rehomed - impaired, rehomed_wall - impaired_wall

    def lines(self, pets: Iterable[Pet]) -> list[str]:
        lines = []
        for zone, (at, _) in sorted(self.impaired.items()):
            its = self.pets_of(zone, pets)
            names = ", ".join(f"{p.cluster} {p.namespace}/{p.name}" for p in its) or "none"
            text = f"  {zone}: IMPAIRED at {clock(at)}; {len(its)} pet(s) ran there ({names})"
            timing = self.elapsed(zone)
            if timing is None:
                lines.append(text + "; not all Running elsewhere by the end of the drill" if its else text)
                continue
            lines.append(text + f"; all Running elsewhere at {clock(self.rehomed[zone][0])}")
            sandbox_s, wall_s = timing
            lines.append(
                f"  time from IMPAIRED to all pets Running elsewhere: {sandbox_s:.0f} s (sandbox time), "
                f"{wall_s:.1f} s (wall)"
            )
        return lines


def _pet_key(pet: Pet) -> str:
    return f"{pet.cluster}/{pet.namespace}/{pet.name}"


def _audit_line(item: dict[str, Any]) -> str:
    """`zone us-east-1a -> impaired: EvacuateZone observed (mode observe)` from an audit record."""
    record = item.get("record") or {}
    what = record.get("what") or item.get("action_id") or item["sk"].split("#", 1)[-1]
    runbook = record.get("runbook") or "no runbook"
    outcome = record.get("outcome", "?")
    return f"{what}: {runbook} {outcome}" + (f" (mode {record['mode']})" if record.get("mode") else "")


class Notifications(Observer):
    """What Ferry published to its SNS topic, read back through the subscribed queue."""

    def prime(self, world: World) -> None:
        world.aws.notifications()  # nothing before time zero is news

    def observe(self, world: World) -> list[Happening]:
        import json

        happened = []
        for message in world.aws.notifications():
            body = json.loads(message["Body"])
            subject = body.get("Subject") or body.get("Message", "")[:80]
            happened.append(Happening(world.offset(), "ferry", f"notification: {subject}"))
        return happened


class PetMoves(Observer):
    """Where each pet runs; a pet that leaves a node whose instance still runs broke fence-before-force."""

    def __init__(self) -> None:
        self._seen: dict[str, Pet] = {}
        self.violations: list[str] = []

    def observe(self, world: World) -> list[Happening]:
        happened = []
        running = {i.id for i in world.aws.instances(state="running")}
        for pet in world.pets():
            key = f"{pet.cluster} {pet.namespace}/{pet.name}"
            before = self._seen.get(key)
            self._seen[key] = pet
            if before is None or (before.node, before.phase, before.volume_id) == (pet.node, pet.phase, pet.volume_id):
                continue
            happened.append(Happening(world.offset(), "kubernetes", f"{key}: {_pet_change(before, pet)}"))
            old_instance = world.instance_ids.get((pet.cluster, before.node or ""))
            if before.node and pet.node != before.node and old_instance in running:
                self.violations.append(f"{key} left {before.node} while its instance {old_instance} was running")
        return happened


def _pet_change(before: Pet, after: Pet) -> str:
    parts = []
    for label, old, new in (
        ("node", before.node, after.node),
        ("phase", before.phase, after.phase),
        ("volume", before.volume_id, after.volume_id),
    ):
        if old != new:
            parts.append(f"{label} {old or '-'} -> {new or '-'}")
    return ", ".join(parts)


def zone_status(world: World, zone: str) -> str:
    """The detector's status of a zone (`healthy`, `suspect`, ...); a zone it never wrote about is healthy."""
    item = world.zone_state(zone)
    return str(item.get("status", "?")) if item else UNWRITTEN_ZONE


def control_plane_status(world: World, cluster: str) -> str:
    """The detector's status of a control plane (`up`, `degraded`, `down`); never written about is up."""
    item = world.control_plane_state(cluster)
    return str(item.get("status", "?")) if item else UNWRITTEN_CONTROL_PLANE


def subjects(world: World) -> list[str]:
    """Everything a signal can be about: each zone, each cluster, the region."""
    return [*world.scenario.zones, *world.clusters, world.scenario.region]


def describe_delivery(world: World, delivery: Delivery) -> Happening:
    """One line per batch: what the handler made of it, from its EMF metrics, and why records failed."""
    metrics = delivery.invocation.metrics()
    skipped = sum(v for (name, _), v in metrics.items() if name == "EventsSkipped")
    signals = sum(v for (name, _), v in metrics.items() if name == "SignalsTranslated")
    failed = len(delivery.failed_ids)
    text = (
        f"ingest took a batch of {len(delivery.message_ids)} from the queue: "
        f"{int(signals)} signal(s), {int(skipped)} skipped, {failed} failed"
    )
    if failed:
        reasons = Counter(
            str(r.get("error") or r.get("message"))
            for r in delivery.invocation.log_records()
            if r.get("level") in {"WARNING", "ERROR"} and r.get("error")
        )
        shown = "; ".join(f"{n} x {reason}" if n > 1 else reason for reason, n in reasons.most_common(2))
        text += f" ({shown or repr(delivery.invocation.error)}; SQS will redeliver them, then dead-letter)"
    return Happening(world.offset(), "ferry", text)


# --- checks -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    passed: bool
    detail: str


@dataclass
class Run:
    """Everything a check may look at once the drill is over."""

    world: World
    before: Picture
    after: Picture
    pet_moves: PetMoves
    recovery: Recovery
    timeline: list[Happening] = field(default_factory=list)
    readiness: Mapping[str, Any] | None = None  # the readiness report printed before the drill


def check_events_processed(run: Run) -> Outcome:
    deliveries = run.world.deliveries
    delivered = {m for d in deliveries for m in d.message_ids}
    failed = {m for d in deliveries for m in d.failed_ids if m not in {x for e in deliveries for x in e.succeeded_ids}}
    sent = len(run.world.sent_events)
    passed = not failed and len(delivered) >= sent
    detail = f"{sent} sent, {len(delivered)} delivered, {len(failed)} failed"
    if dead := run.world.dead_letters():
        detail += f", {dead} in the dead-letter queue"
    if len(delivered) < sent:
        detail += f", {sent - len(delivered)} never delivered"
    return Outcome("every delivered event was processed or skipped, none failed", passed, detail)


def check_one_pod_per_pet(run: Run) -> Outcome:
    doubled = [f"{p.namespace}/{p.name} has {p.pods} pods" for p in run.after.pets if p.pods > 1]
    problems = doubled + run.pet_moves.violations
    detail = "; ".join(problems) or f"{len(run.after.pets)} pets, each with at most one pod; none moved unfenced"
    return Outcome("at most one pod per pet identity (fence before force)", not problems, detail)


def check_no_volume_deleted(run: Run) -> Outcome:
    before = run.before.inventory.data_volume_ids()
    after = {v.id for v in run.after.inventory.volumes if v.state != "deleted"}
    gone = sorted(before - after)
    detail = f"deleted: {', '.join(gone)}" if gone else f"all {len(before)} data volumes still exist"
    return Outcome("no EBS volume deleted", not gone, detail)


SAFETY_CHECKS: tuple[Callable[[Run], Outcome], ...] = (
    check_events_processed,
    check_one_pod_per_pet,
    check_no_volume_deleted,
)


def _sources(run: Run, zone: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The signals of trouble recorded about a zone, and their distinct sources."""
    signals = [s for s in run.world.signals(zone) if s["kind"] in TROUBLE_KINDS]
    return signals, sorted({str(s["source"]) for s in signals})


def check_zone_observed(run: Run, check: ZoneObserved) -> Outcome:
    signals, sources = _sources(run, check.zone)
    missing = sorted(set(check.kinds) - {str(s["kind"]) for s in signals})
    passed = len(sources) >= check.min_sources and not missing
    detail = f"{len(signals)} signal(s) of trouble from {len(sources)} source(s) ({', '.join(sources) or 'none'})"
    if missing:
        detail += f"; no {', '.join(missing)}"
    return Outcome(f"Ferry observed {check.zone} (>= {check.min_sources} source(s))", passed, detail)


def check_signal_sources(run: Run, check: SignalSources) -> Outcome:
    signals, sources = _sources(run, check.zone)
    detail = f"{len(signals)} signal(s) from {', '.join(sources) or 'no source'}"
    return Outcome(
        f"at most {check.max_sources} source(s) spoke about {check.zone}", len(sources) <= check.max_sources, detail
    )


def check_zone_quiet(run: Run, check: ZoneQuiet) -> Outcome:
    signals, sources = _sources(run, check.zone)
    detail = f"{len(signals)} signal(s) of trouble" + (f" from {', '.join(sources)}" if sources else "")
    return Outcome(f"no trouble recorded about {check.zone}", not signals, detail)


def _zone_nodes(run: Run, zone: str, cluster: str | None) -> list[NodeState]:
    return [n for n in run.after.nodes if n.zone == zone and cluster in (None, n.cluster)]


def check_nodes_not_ready(run: Run, check: NodesNotReady) -> Outcome:
    nodes = _zone_nodes(run, check.zone, check.cluster)
    ready = [f"{n.cluster}/{n.name}" for n in nodes if n.is_ready]
    where = f"{check.cluster} " if check.cluster else ""
    detail = f"still Ready: {', '.join(ready)}" if ready else f"{len(nodes)} node(s) NotReady"
    return Outcome(f"Kubernetes marked {where}{check.zone}'s nodes NotReady", bool(nodes) and not ready, detail)


def check_nodes_ready(run: Run, check: NodesReady) -> Outcome:
    nodes = _zone_nodes(run, check.zone, check.cluster)
    down = [f"{n.cluster}/{n.name}" for n in nodes if not n.is_ready]
    detail = f"NotReady: {', '.join(down)}" if down else f"{len(nodes)} node(s) Ready"
    return Outcome(f"{check.zone}'s nodes are Ready", bool(nodes) and not down, detail)


def check_zone_state(run: Run, check: ZoneState) -> Outcome:
    state = zone_status(run.world, check.zone)
    detail = f"state {state}" + ("" if run.world.zone_state(check.zone) else " (the detector wrote nothing)")
    return Outcome(f"{check.zone} is {' or '.join(check.states)}", state in check.states, detail)


def check_control_plane_state(run: Run, check: ControlPlaneState) -> Outcome:
    status = control_plane_status(run.world, check.cluster)
    detail = f"status {status}" + ("" if run.world.control_plane_state(check.cluster) else " (never written)")
    return Outcome(f"control plane of {check.cluster} is {' or '.join(check.states)}", status in check.states, detail)


def _pets_by_key(picture: Picture) -> dict[str, Pet]:
    return {_pet_key(p): p for p in picture.pets}


def check_pets_rehomed(run: Run, check: PetsRehomed) -> Outcome:
    name = f"every pet of {check.zone} Running in a healthy zone on its snapshot's data within {check.within:g} s"
    before = [p for p in run.before.pets if p.zone == check.zone]
    if not before:
        return Outcome(name, False, f"no pet ran in {check.zone} before the drill: nothing to re-home")
    after = _pets_by_key(run.after)
    problems, moves = [], []
    for old in before:
        new = after[_pet_key(old)]
        where = f"{old.namespace}/{old.name}"
        problem = _rehome_problem(run, check.zone, old, new)
        if problem:
            problems.append(f"{where} {problem}")
            continue
        volume = run.after.inventory.volume(new.volume_id or "")
        restored_from = volume.snapshot_id if volume else None
        moves.append(f"{where} {check.zone} -> {new.zone} on {new.volume_id} from {restored_from} of {old.volume_id}")
    timing = run.recovery.elapsed(check.zone)
    if timing is None:
        problems.append("not all Running elsewhere at once during the drill")
    elif timing[0] > check.within:
        problems.append(f"all Running elsewhere only {timing[0]:.0f} s after IMPAIRED")
    else:
        moves.append(f"all Running {timing[0]:.0f} s after IMPAIRED")
    return Outcome(name, not problems, "; ".join(problems or moves))


def _rehome_problem(run: Run, failed_zone: str, old: Pet, new: Pet) -> str | None:
    """Why a pet of the failed zone is not back with its data, or None if it is."""
    if new.phase != "Running" or new.zone in (None, failed_zone):
        return f"is {new.phase or 'without a pod'} in {new.zone or 'no zone'}"
    if zone_status(run.world, new.zone or "") != UNWRITTEN_ZONE:
        return f"runs in {new.zone}, which the detector calls {zone_status(run.world, new.zone or '')}"
    volume = run.after.inventory.volume(new.volume_id or "")
    ours = {s.id for s in run.after.inventory.snapshots if s.volume_id == old.volume_id}
    if volume is None or new.volume_id == old.volume_id or volume.snapshot_id not in ours:
        made = volume.snapshot_id if volume else None
        return f"runs on {new.volume_id}, not a volume restored from a snapshot of {old.volume_id} (from {made})"
    return None


def check_pets_unmoved(run: Run, check: PetsUnmoved) -> Outcome:
    after = _pets_by_key(run.after)
    moved = [
        f"{p.namespace}/{p.name}: {p.node} {p.volume_id} -> {after[_pet_key(p)].node} {after[_pet_key(p)].volume_id}"
        for p in run.before.pets
        if (p.node, p.volume_id) != (after[_pet_key(p)].node, after[_pet_key(p)].volume_id)
    ]
    detail = "; ".join(moved) or f"all {len(run.before.pets)} pets on the node and volume they started on"
    return Outcome("no pet moved", not moved, detail)


def check_readiness_kept(run: Run, check: ReadinessKept) -> Outcome:
    name = f"the outage of {check.zone} did what the readiness report said before it"
    answer = next((z for z in (run.readiness or {}).get("zones", []) if z["zone"] == check.zone), None)
    if answer is None:
        return Outcome(name, False, f"no readiness answer for {check.zone} before the drill")
    after = {f"{p.cluster}/{p.namespace}/{p.name}": p for p in run.after.pets}
    problems, kept = [], []
    for said in answer["pets"]:
        pet = after.get(said["subject"])
        if pet is None:
            problems.append(f"{said['subject']}: gone")
            continue
        if said["outcome"] in ("moves", "fresh"):
            volume = run.after.inventory.volume(pet.volume_id or "")
            source = volume.snapshot_id if volume else None
            if pet.zone != said["targetZone"] or pet.phase != "Running":
                problems.append(f"{said['subject']}: said {said['targetZone']}, is {pet.phase} in {pet.zone}")
            elif said["outcome"] == "moves" and source not in said["snapshots"]:
                problems.append(f"{said['subject']}: said from {', '.join(said['snapshots'])}, restored from {source}")
            else:
                kept.append(f"{said['subject']} -> {pet.zone} as said")
        elif pet.zone != check.zone:
            problems.append(f"{said['subject']}: said {said['outcome']}, moved to {pet.zone}")
        else:
            kept.append(f"{said['subject']} {said['outcome']} as said")
    if not answer["pets"]:
        return Outcome(name, False, f"the report named no pet in {check.zone}: nothing to compare")
    return Outcome(name, not problems, "; ".join(problems or kept))


def _run_outcome(execution: ExecutionView) -> str:
    """The report's outcome (`succeeded`, `partial`, ...), or the execution's status when it has no report."""
    if not execution.ended:
        return "still running"
    return str((execution.output or {}).get("outcome", execution.status.lower()))


def check_runbook_runs(run: Run, check: RunbookRuns) -> Outcome:
    executions = run.world.executions(check.runbook)
    outcomes = [_run_outcome(e) for e in executions]
    listed = ", ".join(f"{e.name} ({o})" for e, o in zip(executions, outcomes, strict=True)) or "none"
    wrong = [o for o in outcomes if check.outcomes and o not in check.outcomes]
    passed = len(executions) == check.count and not wrong
    name = f"{check.runbook} started {check.count} time(s)"
    if check.outcomes:
        name += f", each ending {' or '.join(check.outcomes)}"
    if run.world.runbooks is None:
        listed += " (observe mode: no state machines in the sandbox)"
    return Outcome(name, passed, f"{len(executions)} run(s): {listed}")


def check_federated_replicas(run: Run, check: FederatedReplicas) -> Outcome:
    found = [
        (want, ready)
        for cluster, app, want, ready in run.after.deployments
        if cluster == check.cluster and app.endswith(f"/{check.app}")
    ]
    want, ready = found[0] if found else (0, 0)
    name = f"{check.app} runs {check.replicas} ready replica(s) in {check.cluster}"
    return Outcome(name, (want, ready) == (check.replicas, check.replicas), f"{want} wanted, {ready} ready")


SCENARIO_CHECKS: dict[type, Callable[[Run, Any], Outcome]] = {
    FederatedReplicas: check_federated_replicas,
    ControlPlaneState: check_control_plane_state,
    ZoneObserved: check_zone_observed,
    SignalSources: check_signal_sources,
    ZoneQuiet: check_zone_quiet,
    NodesNotReady: check_nodes_not_ready,
    NodesReady: check_nodes_ready,
    ZoneState: check_zone_state,
    PetsRehomed: check_pets_rehomed,
    PetsUnmoved: check_pets_unmoved,
    ReadinessKept: check_readiness_kept,
    RunbookRuns: check_runbook_runs,
}


def evaluate(run: Run, expectations: Iterable[Check]) -> list[Outcome]:
    outcomes = [check(run) for check in SAFETY_CHECKS]
    outcomes += [SCENARIO_CHECKS[type(expectation)](run, expectation) for expectation in expectations]
    return outcomes


# --- the drill ----------------------------------------------------------------------------------------------


def moments(world: World, duration: float, tick: float) -> Iterator[float]:
    """The sandbox times to stop at: every tick, and whenever something is scheduled in between."""
    at = 0.0
    while at < duration:
        next_tick = min(duration, (at // tick + 1) * tick)
        due = world.next_due()
        at = min(next_tick, due) if due is not None and due > at else next_tick
        yield at


class Report:
    """Writes the game day for a person at a terminal: sections, tables, the timeline, the checks."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.style = Style(out)

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def section(self, title: str, lines: Iterable[str] = (), note: str = "") -> None:
        self.say()
        self.say(self.style(title, "bold") + (self.style(f"  ({note})", "dim") if note else ""))
        for line in lines:
            self.say(line)

    def header(self, scenario: Scenario) -> None:
        self.say(self.style(f"Ferry game day: {scenario.name}", "bold"))
        for line in textwrap.wrap(scenario.description, width=100, initial_indent="  ", subsequent_indent="  "):
            self.say(line)

    def happening(self, happening: Happening) -> None:
        actor = self.style(f"{happening.actor:<10}", ACTOR_STYLE.get(happening.actor, ""))
        self.say(f"  {clock(happening.at):>7}  {actor}  {happening.text}")

    def outcomes(self, outcomes: Sequence[Outcome], elapsed: float) -> None:
        self.section("CHECKS")
        for outcome in outcomes:
            mark = self.style("PASS", "green") if outcome.passed else self.style("FAIL", "red", "bold")
            self.say(f"  {mark}  {outcome.name}: {outcome.detail}")
        failed = [o for o in outcomes if not o.passed]
        verdict = self.style("FAILED", "red", "bold") if failed else self.style("PASSED", "green", "bold")
        self.say()
        self.say(f"{verdict}: {len(outcomes) - len(failed)} of {len(outcomes)} checks hold ({elapsed:.1f} s)")


def drill(world: World, observers: Sequence[Observer], report: Report, tick: float) -> list[Happening]:
    """Run the scenario on sandbox time, reporting what happens at each stop."""
    for observer in observers:
        observer.prime(world)
    timeline: list[Happening] = []
    for at in moments(world, world.scenario.duration, tick):
        began = time.perf_counter()
        for observer in observers:
            observer.moment_began(began)
        world.advance_to(at)
        happened = world.run_due()
        happened += [describe_delivery(world, d) for d in world.deliver_events()]
        world.run_runbooks()  # act mode: the Tasks the detector's hand-off set off, until they wait on time
        for observer in observers:
            happened += observer.observe(world)
        for happening in happened:
            report.happening(happening)
        timeline += happened
    report.happening(Happening(world.offset(), "sandbox", "end of the drill"))
    return timeline


def run_gameday(
    scenario: Scenario,
    out: TextIO | None = None,
    *,
    tick: float = TICK_SECONDS,
    kube: KubeBackend = KubeBackend.DOUBLE,
) -> list[Outcome]:
    """Set up, drill, report (to `out`, stdout by default); returns every check's outcome.

    On real control planes (`kube=KubeBackend.REAL`) the drill runs on real time: Ferry's probe compares the
    nodes' lease renewals with its own clock, which must not run ahead of the clusters'."""
    report = Report(out or sys.stdout)
    report.header(scenario)
    started = time.perf_counter()
    if scenario.acts and not template_path().exists():
        report.say("  synthesizing the CDK app for the runbooks' state machines (once; cached under .build/sandbox/)")
    with World(scenario, mode=scenario.mode, kube=kube, real_time_share=1.0) as world:
        report.say(f"  world ready in {time.perf_counter() - started:.1f} s: {_world_summary(world)}")
        before = Picture.take(world)
        report.section("BEFORE", before.lines(scenario.zones))
        readiness = readiness_before(world)
        report.section(
            "READINESS",
            readiness_lines(readiness),
            note=f"before the drill: what losing each zone now would do; Ferry in {scenario.mode.value} mode",
        )
        pet_moves, verdicts = PetMoves(), Verdicts()
        recovery = Recovery(verdicts)
        observers = [
            NodeReadiness(),
            RecordedSignals(),
            verdicts,
            AuditedActions(),
            RunbookActivity(),
            pet_moves,
            recovery,
            Notifications(),
        ]
        real = kube is KubeBackend.REAL
        report.section(
            "TIMELINE", note="real time: real control planes" if real else "sandbox time; the clock is fast-forwarded"
        )
        timeline = drill(world, observers, report, tick)
        after = Picture.take(world)
        report.section("AFTER", after.lines(scenario.zones))
        drawn = draw(world, readiness, timeline, before, after)
        report.section("PICTURE", [f"  {drawn}"], note="the game day in one HTML file: open it in a browser")
        if recovery.impaired:
            report.section("RECOVERY", recovery.lines(after.pets), note=f"Ferry in {scenario.mode.value} mode")
        outcomes = evaluate(
            Run(
                world,
                before,
                after,
                pet_moves,
                recovery,
                timeline,
                readiness=readiness.result if readiness.ok else None,
            ),
            scenario.expect,
        )
    report.outcomes(outcomes, time.perf_counter() - started)
    return outcomes


PICTURES_DIR = ROOT / ".build" / "gameday"


def draw(world: World, readiness: Invocation, timeline: Sequence[Happening], before: Picture, after: Picture) -> Path:
    """The game day as one self-contained HTML file (sandbox/picture.py); its path."""
    moves = [
        pet
        for execution in world.executions()
        for pet in (execution.output or {}).get("pets", []) or []
        if pet.get("status") == "moved"
    ]

    def pets(picture: Picture) -> list[tuple[str, str]]:
        return [(f"{p.cluster}/{p.namespace}/{p.name}", p.zone or "-") for p in picture.pets]

    page = picture.render(
        title=f"Ferry game day: {world.scenario.name} (Ferry in {world.mode.value} mode)",
        zones=world.scenario.zones,
        readiness=readiness.result if readiness.ok else None,
        moments=[picture.Moment(h.at, h.actor, h.text) for h in timeline],
        end=world.offset(),
        moves=moves,
        pets_before=pets(before),
        pets_after=pets(after),
        apps_before=[(app, cluster, want) for cluster, app, want, _ in before.deployments],
        apps_after=[(app, cluster, want) for cluster, app, want, _ in after.deployments],
    )
    return picture.write(PICTURES_DIR / f"{world.scenario.name}.html", page)


def readiness_before(world: World) -> Invocation:
    """The readiness step, as ferry-Readiness runs it (the handler through the sandbox's Lambda runtime)."""
    return world.invoke(
        "readiness",
        {"runId": "readiness-before-the-drill", "reason": "game day: before the outage", "requestedBy": "gameday"},
    )


def readiness_lines(invocation: Invocation) -> list[str]:
    if not invocation.ok:
        return [f"readiness failed: {invocation.error}"]
    return [f"  {line}" for line in str(invocation.result["summary"]).splitlines()]


def _world_summary(world: World) -> str:
    nodes = sum(len(c.nodes(world.scenario.zones)) for c in world.scenario.clusters)
    pets = sum(s.replicas for s in world.scenario.statefulsets)
    return (
        f"{len(world.clusters)} clusters ({', '.join(world.clusters)}), {nodes} nodes = EC2 instances, "
        f"{pets} pets, {len(world.snapshots)} snapshots; AWS at {world.aws.endpoint_url}"
    )


ACTOR_STYLE = {"sandbox": "yellow", "aws": "cyan", "kubernetes": "dim", "ferry": "green"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.gameday", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default=DEFAULT_SCENARIO, help="a name in sandbox/scenarios/ or a path")
    parser.add_argument("--tick", type=float, default=TICK_SECONDS, help="seconds of sandbox time between looks")
    parser.add_argument(
        "--kube",
        choices=[k.value for k in KubeBackend],
        default=KubeBackend.DOUBLE.value,
        help="the clusters: the sandbox's double (default), or a real control plane per cluster ($FERRY_KUBE_ASSETS)",
    )
    args = parser.parse_args(argv)
    try:
        scenario = load(args.scenario)
    except (ScenarioError, UnknownScenario) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    kube = KubeBackend(args.kube)
    if kube is KubeBackend.REAL:
        try:
            found = assets_dir()
        except FileNotFoundError as error:
            found, problem = None, str(error)
        else:
            problem = f"real control planes: {HOW_TO_GET_THEM}"
        if found is None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        if scenario_faults := [type(s).__name__ for s in scenario.steps if isinstance(s, DOUBLE_ONLY_STEPS)]:
            print(
                f"error: {', '.join(scenario_faults)} can only be staged on the double (--kube double)", file=sys.stderr
            )
            return 2
    outcomes = run_gameday(scenario, tick=args.tick, kube=kube)
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
