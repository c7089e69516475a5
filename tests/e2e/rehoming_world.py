"""The sandbox set up for re-homing drills, and a stand-in for Step Functions that runs the real handlers.

`drill_world` starts the game day's world (two clusters over zones a, b, c; StatefulSets of pets with EBS
volumes and fresh snapshots) without its scripted steps. The pets' StatefulSets are seeded with
`nodeTaintsPolicy: Honor` on their zone spread, as their owner would set it: with the default (Ignore) the
dead zone's tainted nodes still count, and Kubernetes itself would keep a moved pet Pending (Ferry's planner
skips such pets with that reason; tests/unit/test_rehoming_planner.py shows it).

Each drill runs on the sandbox's Kubernetes double and, with the binaries (`FERRY_KUBE_ASSETS`), on real control
planes (`KUBE_BACKENDS`: a fixture parametrized with it gives a test both, the real one marked `real_kube`).

The runs go through the stack's own state machines (`sandbox.stepfunctions.Runbooks`: the synthesized
definitions in moto's interpreter, their retry waits moving sandbox time); `run`, `report` and `planned` read
a run's report and plan from the Tasks it ran. There is no other stand-in for Step Functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

import sandbox.world
from ferry.adapters.journal import Journal
from ferry.adapters.kube import Credentials
from ferry.adapters.kube_writes import KubeWriter
from ferry.adapters.registry import Registry
from ferry.adapters.reporting import AuditLog, Notifier
from ferry.adapters.states import StateTable
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.modes import Mode
from ferry.domain.rehoming.models import PlanOutput, RunOutcome, RunReport
from ferry.domain.rehoming.policies import RehomeLimits
from ferry.services.rehoming import RehomingSteps
from ferry.services.settings.rehoming import RehomeSettings
from sandbox.lambdas import LambdaRuntime
from sandbox.realnodes import RealCluster
from sandbox.scenario import ClusterSpec, StatefulSetSpec, ZoneOutage, load
from sandbox.stepfunctions import Runbooks
from sandbox.world import KubeBackend, World
from tests.conftest import wait_for

ZONE_A = "us-east-1a"
KUBE_BACKENDS = (
    pytest.param(KubeBackend.DOUBLE, id="double"),
    pytest.param(KubeBackend.REAL, id="real", marks=pytest.mark.real_kube),
)


def drill_world(
    statefulsets: tuple[StatefulSetSpec, ...] | None = None,
    *,
    honor: bool = True,
    clusters: tuple[ClusterSpec, ...] | None = None,
    settle_seconds: float | None = None,
    kube: KubeBackend = KubeBackend.DOUBLE,
    mode: Mode = Mode.OBSERVE,
    federated: bool = False,
) -> World:
    """`mode`: act gives the world the stack's runbooks, started by Ferry's own hand-offs (ingest, the probe);
    `federated`: the scenario's federated app (`web`) too, registered and deployed in its member clusters."""
    scenario = load("az-outage")
    scenario = dataclasses.replace(
        scenario,
        steps=(),
        federated=scenario.federated if federated else (),
        statefulsets=statefulsets or scenario.statefulsets,
        clusters=clusters or scenario.clusters,
    )
    world = World(scenario, kube=kube, mode=mode)
    with contextlib.ExitStack() as seeding:
        if honor:
            seeding.enter_context(honouring_taints())
        if settle_seconds is not None:  # hundreds of pets take longer to seed than the world waits by default
            seeding.enter_context(_patched(sandbox.world, "SETTLE_TIMEOUT", settle_seconds))
        return world.start()


@contextlib.contextmanager
def _patched(module: Any, name: str, value: Any) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def honouring_taints() -> Iterator[None]:
    """While a world seeds, its StatefulSets' zone spread says `nodeTaintsPolicy: Honor` (sandbox/world.py
    writes it so too now; this keeps the drills independent of that choice)."""
    original = sandbox.world.statefulset

    def statefulset(spec: StatefulSetSpec, zones: Iterable[str]) -> dict[str, Any]:
        manifest = original(spec, zones)
        for constraint in manifest["spec"]["template"]["spec"].get("topologySpreadConstraints") or []:
            constraint["nodeTaintsPolicy"] = "Honor"
        return manifest

    with _patched(sandbox.world, "statefulset", statefulset):
        yield


def zone_outage(world: World, zone: str = ZONE_A, *, ec2_failing: bool = False) -> None:
    """The zone goes dark; a minute later Kubernetes has marked its nodes NotReady (real clusters keep their own
    time: their node lifecycle controllers do it 8 s of real time after the kubelets fall silent)."""
    world.stage(ZoneOutage(at=0, zone=zone, ec2_api_failing=ec2_failing, send_events=False, health_event_after=None))
    world.advance_to(world.offset() + 60)
    # On the double that was it; real node lifecycle controllers take their own (real) time: waited for in it.
    wait_for(lambda: not any(n.is_ready for n in world.nodes() if n.zone == zone), timeout=90, what=f"{zone} NotReady")


def runtime(world: World, mode: str = "act") -> LambdaRuntime:
    return LambdaRuntime(
        account_id=world.aws.account_id,
        endpoint_url=world.aws.endpoint_url,
        table=world.aws.names.table,
        topic_arn=world.aws.topic_arn,
        mode=mode,
        clock=world.clock.now,
    )


def steps_in_process(
    world: World,
    *,
    owner: str | None = None,
    limits: RehomeLimits | None = None,
    ec2: Any = None,
    writer: type[KubeWriter] = KubeWriter,
) -> RehomingSteps:
    """The step services wired to the sandbox as `from_settings` wires them in Lambda (the EC2 client goes
    through the fault proxy), for runs outside the handlers: the parallel local runner, two executors at once;
    `writer`: a KubeWriter that asks the API for something else (a drill's bad request)."""
    dynamodb = world.aws.client("dynamodb")
    table = world.aws.names.table
    settings = RehomeSettings(table, world.aws.topic_arn, Mode.ACT, limits or RehomeLimits())

    def connect(registration: ClusterRegistration) -> KubeWriter:
        cluster = world.clusters[registration.name]
        ca = cluster.control_plane.ca_pem if isinstance(cluster, RealCluster) else None
        return writer(registration, Credentials(token=cluster.token, ca_pem=ca), timeout=5)

    return RehomingSteps(
        settings,
        registry=Registry(dynamodb, table),
        connect=connect,
        ec2=ec2 or world.aws.client("ec2", through_proxy=True, max_attempts=2),
        states=StateTable(dynamodb, table),
        journal=Journal(dynamodb, table),
        audit=AuditLog(dynamodb, table),
        notifier=Notifier(world.aws.client("sns"), world.aws.topic_arn),
        clock=world.clock.now,
        sleep=lambda seconds: world.advance_to(world.offset() + seconds),
        monotonic=lambda: world.clock.now().timestamp(),
        owner=owner,
    )


# --- runs of the stack's runbooks (sandbox.stepfunctions.Runbooks) ----------------------------------------------


def report(runbooks: Runbooks, run_id: str) -> RunReport:
    """The run's report, as the report step returned it (a failed run's execution carries only its summary)."""
    reports = [r for r in runbooks.sandbox.task_runs if r.function == "runbook-report" and r.run_id == run_id]
    assert reports and reports[-1].invocation.ok, f"{run_id}: no report"
    return RunReport.from_dict(reports[-1].invocation.result)


def planned(runbooks: Runbooks, run_id: str) -> PlanOutput | None:
    """The run's plan, as the plan step returned it; None if it planned nothing (a rejected input)."""
    plans = [r for r in runbooks.sandbox.task_runs if r.function == "runbook-plan" and r.run_id == run_id]
    return PlanOutput.from_dict(plans[-1].invocation.result) if plans and plans[-1].invocation.ok else None


def run(runbooks: Runbooks, runbook: str, payload: dict[str, Any], run_id: str) -> RunReport:
    """One execution named `run_id` (Step Functions refuses a name used before: a second run is a new name),
    run to its end; its report."""
    execution = runbooks.run(runbook, payload, run_id)
    made = report(runbooks, run_id)
    # The execution ends as its report says: FAILED for a failed run (console, alarm), SUCCEEDED otherwise.
    assert execution.status == ("FAILED" if made.outcome is RunOutcome.FAILED else "SUCCEEDED"), execution
    return made


# --- what the world holds --------------------------------------------------------------------------------------


def state(world: World) -> dict[str, Any]:
    """What re-homing may change, to compare before and after: Kubernetes objects by identity and spec, EC2
    instances, volumes and snapshots with their tags. Heartbeats, statuses and taints the controllers write
    anyway are left out."""
    kube: dict[str, Any] = {}
    for name, cluster in sorted(world.clusters.items()):
        kube[name] = {
            "nodes": {
                n["metadata"]["name"]: (n["spec"].get("unschedulable"), _taints(n)) for n in cluster.list("Node")
            },
            "pods": sorted(
                (p["metadata"]["namespace"], p["metadata"]["name"], p["metadata"]["uid"]) for p in cluster.list("Pod")
            ),
            "claims": {
                (c["metadata"]["namespace"], c["metadata"]["name"]): (c["metadata"]["uid"], c["spec"].get("volumeName"))
                for c in cluster.list("PersistentVolumeClaim")
            },
            "volumes": {
                v["metadata"]["name"]: (
                    v["spec"].get("persistentVolumeReclaimPolicy"),
                    (v["spec"].get("csi") or {}).get("volumeHandle"),
                )
                for v in cluster.list("PersistentVolume")
            },
        }
    inventory = world.inventory()
    return {
        "kube": kube,
        "instances": {i.id: i.state for i in inventory.instances},
        "volumes": {v.id: (v.zone, v.snapshot_id, dict(v.tags)) for v in inventory.volumes},
        "snapshots": {s.id: (s.volume_id, dict(s.tags)) for s in inventory.snapshots},
    }


# The node lifecycle controller's taints on a silent node: Kubernetes', not re-homing's. A real controller adds
# them over time (NoExecute at its eviction rate, a node every 10 s in a zone down beside healthy ones), so they
# may still be arriving while a drill compares before and after.
NODE_LIFECYCLE_TAINTS = ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")


def _taints(node: dict[str, Any]) -> list[str]:
    taints = node["spec"].get("taints") or []
    return sorted(f"{t['key']}:{t['effect']}" for t in taints if t["key"] not in NODE_LIFECYCLE_TAINTS)


def pods_per_identity(world: World) -> dict[str, int]:
    return {f"{p.cluster}/{p.namespace}/{p.name}": p.pods for p in world.pets()}


def wait_until(world: World, done: Callable[[], bool], *, seconds: float = 300, step: float = 5) -> None:
    waited = 0.0
    while not done():
        assert waited < seconds, "the sandbox did not get there in time"
        world.advance_to(world.offset() + step)
        waited += step
