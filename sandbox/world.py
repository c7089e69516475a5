"""The game-day world: the AWS sandbox and the Kubernetes clusters, seeded from a scenario and staged.

`World` puts together what a real account would hold: clusters whose nodes are EC2 instances in the node's
zone, EBS volumes behind the pets' claims (made by the clusters' provisioner through EC2), recent snapshots
of them, Ferry's table, topic and ingestion queue, and the clusters registered in Ferry's registry. It then
stages failures the way they happen (kubelets fall silent, instances stop, the EC2 API may fail) and sends
the events AWS would send, through the queue to Ferry's real `ingest` handler.

Everything runs on one `SandboxClock`: the world advances it and lets the clusters' controllers catch up,
so a five-minute drill takes seconds.

The clusters are the sandbox's double (`sandbox/kube`, the default) or, with `kube=KubeBackend.REAL`, one real
control plane per cluster (`sandbox/realkube.py`, from `FERRY_KUBE_ASSETS`) with stand-in kubelets per node
and the EBS CSI stand-in making moto volumes (`sandbox/realnodes.py`); a node dies as its stand-in kubelet
stops. Ferry cannot tell which: it reaches both through its registry (endpoint, token and, for the real one,
its CA). What only the double can do stays double-only: Kubernetes keeps its own, real time there (a silent
node is Unknown after 8 s, pod GC runs every 20 s), so the world's clock starts as real time and `advance_to`
moves the AWS side's time (Ferry's clock, Step Functions' waits, the schedules) at once but for a share it
waits in real time (`real_time_share`: a fiftieth in drills, all of it in the game day); the API faults
(`control-plane-outage`, `api-errors`, `api-latency`) are refused.

Ferry runs in observe mode unless the world is given `mode=Mode.ACT` (the game day passes the scenario's
`mode`, so `mode: act` in a scenario file is what turns it on; a world built directly, as a test's or a
bench's fixture, runs Ferry as a fresh deployment does and costs no synth). In act mode the world also holds
Ferry's runbooks: the state machines of the synthesized stack, executed by moto (`sandbox/stepfunctions.py`).
The functions get `FERRY_MODE=act` and the `FERRY_SM_*` ARNs the stack gives them, so the detector's
hand-off starts EvacuateZone for real; the world runs the runbooks' Tasks through Ferry's handlers at every
stop (`run_runbooks`) and holds their retries to sandbox time. In observe mode there are no state machines:
the detector starts nothing there anyway.
"""

from __future__ import annotations

import heapq
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any

from ferry.adapters.registry import Registry
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.federation.apps import FederatedApp, Placement
from ferry.domain.modes import Mode
from sandbox.aws import AwsEvents, AwsSandbox, FaultScope, Instance, Inventory
from sandbox.kube import KubeCluster
from sandbox.kube.clock import SandboxClock
from sandbox.lambdas import Delivery, Invocation, LambdaRuntime, SqsEventSource
from sandbox.realkube import HOW_TO_GET_THEM, RealControlPlane, assets_dir
from sandbox.realnodes import RealCluster
from sandbox.scenario import (
    ApiErrors,
    ApiLatency,
    ControlPlaneOutage,
    FederatedAppSpec,
    InstanceStop,
    NodeSpec,
    Scenario,
    StatefulSetSpec,
    Step,
    ZoneOutage,
    ZoneRecovery,
)
from sandbox.stepfunctions import ExecutionView, StepFunctionsSandbox, TaskRun, synthesized_template

ZONE_LABEL = "topology.kubernetes.io/zone"
STORAGE_CLASS = "ebs-sc"
INGEST = "ingest"
PROBE = "probe"
PROBE_EVERY = 60.0  # the probe's EventBridge schedule: rate(1 minute)
SETTLE_TIMEOUT = 10.0
# On real clusters, the share of each move of sandbox time the world spends waiting in real time (the rest, AWS
# time jumps): the drills' default. The game day passes 1.0, all real time, because Ferry's probe compares the
# nodes' lease renewals with its own clock.
REAL_TIME_SHARE = 0.02


class KubeBackend(StrEnum):
    """What plays the clusters: the sandbox's double, or real control planes (FERRY_KUBE_ASSETS)."""

    DOUBLE = "double"
    REAL = "real"


class DoubleOnly(RuntimeError):
    """A step only the double can stage (its clock moves Kubernetes time; its API takes faults)."""


Cluster = KubeCluster | RealCluster
DOUBLE_ONLY_STEPS = (ControlPlaneOutage, ApiErrors, ApiLatency)  # the double's API faults


@dataclass(frozen=True, slots=True)
class Happening:
    """One line of the timeline: when (seconds since the start), who acted, and what happened."""

    at: float
    actor: str  # sandbox | aws | kubernetes | ferry
    text: str


@dataclass(frozen=True, slots=True)
class Pet:
    """Where one StatefulSet pod stands: the before/after table and the one-pod-per-identity check read it."""

    cluster: str
    namespace: str
    name: str
    claim: str
    pods: int  # pod objects with this identity, across every cluster
    node: str | None
    zone: str | None
    phase: str | None
    volume_id: str | None


@dataclass(frozen=True, slots=True)
class NodeState:
    cluster: str
    name: str
    zone: str
    ready: str  # the Ready condition's status: True, False or Unknown
    instance_id: str | None

    @property
    def is_ready(self) -> bool:
        return self.ready == "True"


@dataclass
class _Agendum:
    at: float
    label: str
    action: Callable[[], list[Happening]]


class World:
    """The sandbox for one scenario: start it, stage steps, read what exists; stop it."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        clock: SandboxClock | None = None,
        mode: Mode = Mode.OBSERVE,
        kube: KubeBackend = KubeBackend.DOUBLE,
        real_time_share: float = REAL_TIME_SHARE,
    ) -> None:
        self.scenario = scenario
        self.mode = mode  # Ferry's; the game day passes the scenario's
        self.kube = kube
        self.real_time_share = real_time_share
        # Real clusters keep real time: the world's clock starts there, and only moves ahead of it (AWS time).
        self.clock = clock or SandboxClock(realtime=kube is KubeBackend.REAL)
        self.aws = AwsSandbox(zones=scenario.zones)
        self.clusters: dict[str, Cluster] = {}
        self.instance_ids: dict[tuple[str, str], str] = {}  # (cluster, node) -> instance id
        self.snapshots: dict[str, str] = {}  # "<cluster>/<ns>/<claim>" -> snapshot id taken during seeding
        self.sent_events: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self.probes: list[Invocation] = []
        self._agenda: list[tuple[float, int, _Agendum]] = []
        self._sequence = itertools.count()
        self._events: AwsEvents | None = None
        self._lambdas: LambdaRuntime | None = None
        self.runbooks: StepFunctionsSandbox | None = None  # act and supervised modes only
        self._started_at: datetime | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> World:
        """Start moto and the clusters, seed them, and set time zero."""
        self.aws.start()
        try:
            self._events = AwsEvents(self.aws.account_id, self.aws.zone_ids())
            if self.mode is not Mode.OBSERVE:  # act and supervised modes run the runbooks
                self.runbooks = StepFunctionsSandbox(self.aws, synthesized_template()).start()
            self._lambdas = LambdaRuntime(
                account_id=self.aws.account_id,
                endpoint_url=self.aws.endpoint_url,
                table=self.aws.names.table,
                topic_arn=self.aws.topic_arn,
                mode=self.mode.value,
                clock=self.clock.now,
                stack_variables=self.runbooks.environment if self.runbooks else None,
            )
            self._start_clusters([spec.name for spec in self.scenario.clusters])
            for spec in self.scenario.clusters:
                self._seed_nodes(spec.name, spec.nodes(self.scenario.zones))
            self._seed_workloads()
            self._snapshot_pets()
            self._register_clusters()
            if self.runbooks:
                self.runbooks.attach(self)
        except BaseException:
            self.stop()
            raise
        self._started_at = self.clock.now()
        for step in self.scenario.steps:
            self.schedule(step.at, _describe(step), partial(self.stage, step))
        if self.lambdas.exists(PROBE):
            self.schedule(PROBE_EVERY, "probe schedule", self._run_probe)
        return self

    def stop(self) -> None:
        if self.runbooks:
            self.runbooks.stop()  # first: executions still waiting on the world are let go
        for cluster in self.clusters.values():
            cluster.stop()
        self.aws.stop()

    def __enter__(self) -> World:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def lambdas(self) -> LambdaRuntime:
        if self._lambdas is None:
            raise RuntimeError("World.start() first")
        return self._lambdas

    @property
    def events(self) -> AwsEvents:
        if self._events is None:
            raise RuntimeError("World.start() first")
        return self._events

    # --- seeding -------------------------------------------------------------------------------------------

    def _start_clusters(self, names: list[str]) -> None:
        if self.kube is KubeBackend.DOUBLE:
            for name in names:
                self.clusters[name] = KubeCluster(name, clock=self.clock, provisioner=self.aws.provisioner(name))
                self.clusters[name].start()
            return
        assets = assets_dir()
        if assets is None:
            raise DoubleOnly(f"real clusters need Kubernetes binaries: {HOW_TO_GET_THEM}")
        for name in names:  # registered before they start, so that stop() ends one that failed half-way
            self.clusters[name] = RealCluster(
                RealControlPlane(assets, name=name), provisioner=self.aws.provisioner(name)
            )
        _each(list(self.clusters.values()), lambda cluster: cluster.start())  # ~7 s each: started side by side

    def _seed_nodes(self, cluster: str, nodes: Iterable[NodeSpec]) -> None:
        for node in nodes:
            instance_id = self.aws.launch_instance(cluster, node.name, node.zone, control_plane=node.control_plane)
            self.instance_ids[(cluster, node.name)] = instance_id
            self.clusters[cluster].add_node(
                node.name, node.zone, instance_id=instance_id, control_plane=node.control_plane
            )

    def _seed_workloads(self) -> None:
        for name, cluster in self.clusters.items():
            if cluster.get("StorageClass", STORAGE_CLASS) is None:  # a StorageClass's parameters are immutable
                cluster.apply(storage_class())
            namespaces = {s.namespace for s in self.scenario.statefulsets if s.cluster == name}
            namespaces |= {f.namespace for f in self.scenario.federated if name in f.weights}
            for namespace in sorted(namespaces):
                cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        for sts in self.scenario.statefulsets:
            self.clusters[sts.cluster].apply(statefulset(sts, self.scenario.zones))
        for app in self.scenario.federated:
            for member, replicas in app.replicas().items():
                self.clusters[member].apply(federated_deployment(app, member, replicas))
        self.settle()

    def _snapshot_pets(self) -> None:
        """A recent snapshot of each pet's volume, tagged as Ferry's snapshot schedule tags its own."""
        for sts in self.scenario.statefulsets:
            if not sts.snapshot:
                continue
            for pet in self.pets(sts):
                if pet.volume_id is None:
                    raise RuntimeError(f"{sts.cluster}: pet {pet.namespace}/{pet.name} has no volume after seeding")
                tags = {
                    "ferry:managed": "true",
                    "ferry:cluster": sts.cluster,
                    "ferry:pet": f"{pet.namespace}/{pet.claim}",
                }
                self.snapshots[f"{sts.cluster}/{pet.namespace}/{pet.claim}"] = self.aws.snapshot_volume(
                    pet.volume_id, tags, description=f"ferry scheduled snapshot of {pet.namespace}/{pet.claim}"
                )

    def _register_clusters(self) -> None:
        """Record each cluster in Ferry's registry, its token in Secrets Manager, as bootstrapping would, and the
        federated apps, as the configuration file would."""
        secrets = self.aws.client("secretsmanager")
        registry = Registry(self.aws.client("dynamodb"), self.aws.names.table)
        for spec in self.scenario.clusters:
            cluster = self.clusters[spec.name]
            secret = f"ferry/clusters/{spec.name}"
            value = (
                cluster.control_plane.secret_value()
                if isinstance(cluster, RealCluster)
                else {"token": cluster.token, "certificate-authority-data": ""}
            )
            secrets.create_secret(Name=secret, SecretString=json.dumps(value))
            control_plane = [
                self.instance_ids[(spec.name, n.name)] for n in spec.nodes(self.scenario.zones) if n.control_plane
            ]
            registry.register(
                ClusterRegistration(
                    name=spec.name,
                    kind=ClusterKind.SELF_MANAGED,
                    endpoint=cluster.url,
                    region=self.scenario.region,
                    zones=self.scenario.zones,
                    credentials_secret=secret,
                    control_plane_instances=tuple(control_plane),
                )
            )
        for app in self.scenario.federated:  # as `cdk deploy` writes ferry.yaml's apps (cdk/registry.py)
            placements = tuple(Placement(cluster, weight=weight) for cluster, weight in sorted(app.weights.items()))
            registry.register_app(FederatedApp(app.namespace, app.name, app.total_replicas, placements))

    # --- time ----------------------------------------------------------------------------------------------

    def offset(self) -> float:
        """Seconds of sandbox time since the game day started."""
        if self._started_at is None:
            return 0.0
        return (self.clock.now() - self._started_at).total_seconds()

    def advance_to(self, offset: float) -> None:
        """Move sandbox time forward to `offset` and let every cluster's controllers catch up.

        Real clusters keep real time: the world waits `real_time_share` of the move in real time and moves the
        rest at once, so that what a runbook waits for in Kubernetes (pod GC's 20 s period, a claim's binding)
        gets real time in proportion to its waits (at 0.02, a StepPending retry's quarter of an hour is 18 s,
        on top of the tries themselves); at 1.0 the world runs on real time only.
        """
        delta = offset - self.offset()
        if delta > 0 and self.kube is KubeBackend.REAL:
            waited = delta * self.real_time_share
            self.clock.advance(delta - waited)
            time.sleep(waited)  # the clock is real time plus its advances: this moves it the rest of the way
        elif delta > 0:
            self.clock.advance(delta)
        self.settle()

    def settle(self) -> None:
        """Let every cluster's controllers catch up (real clusters side by side: each waits for a quiet spell)."""
        _each(list(self.clusters.values()), lambda cluster: cluster.settle(timeout=SETTLE_TIMEOUT))

    def schedule(self, at: float, label: str, action: Callable[[], list[Happening]]) -> None:
        heapq.heappush(self._agenda, (at, next(self._sequence), _Agendum(at, label, action)))

    def next_due(self) -> float | None:
        return self._agenda[0][0] if self._agenda else None

    def run_due(self) -> list[Happening]:
        """Run every scheduled action whose time has come (steps, and what they set off later)."""
        happened: list[Happening] = []
        while self._agenda and self._agenda[0][0] <= self.offset() + 1e-6:
            _, _, agendum = heapq.heappop(self._agenda)
            happened += agendum.action()
        return happened

    # --- staging -------------------------------------------------------------------------------------------

    def stage(self, step: Step) -> list[Happening]:
        """Make a scenario step happen now."""
        match step:
            case ZoneOutage():
                return self.zone_outage(step)
            case ZoneRecovery():
                return self.zone_recovery(step)
            case InstanceStop():
                return self.instance_stop(step)
            case ControlPlaneOutage():
                self.double(step.cluster, step).set_outage(step.down)
                state = "down: its API answers nothing" if step.down else "back up"
                return [self._note("sandbox", f"{step.cluster} control plane {state}")]
            case ApiErrors():
                self.double(step.cluster, step).set_error_rate(step.rate, codes=step.codes)
                codes = "/".join(map(str, step.codes))
                return [self._note("sandbox", f"{step.cluster} API fails {step.rate:.0%} of requests ({codes})")]
            case ApiLatency():
                self.double(step.cluster, step).set_latency(step.seconds)
                return [self._note("sandbox", f"{step.cluster} API answers {step.seconds:g}s late")]
        raise TypeError(f"unknown step {step!r}")

    def double(self, cluster: str, step: Step | None = None) -> KubeCluster:
        """The cluster, for what only the double can do (API faults); refused on a real control plane."""
        found = self.clusters[cluster]
        if not isinstance(found, KubeCluster):
            what = _describe(step) if step else "this"
            raise DoubleOnly(f"{what} needs the sandbox's Kubernetes double; {cluster} is a real control plane")
        return found

    def zone_outage(self, step: ZoneOutage) -> list[Happening]:
        zone = step.zone
        silenced = self._set_zone_alive(zone, alive=False)
        stopped = self.aws.stop_zone_instances(zone)
        if step.ec2_api_failing:
            self.aws.fail_ec2_for_zone(zone, True, scope=FaultScope(step.ec2_api_scope.value))
        api = f"EC2 API failing ({step.ec2_api_scope.value} scope)" if step.ec2_api_failing else "EC2 API still answers"
        happened = [
            self._note(
                "sandbox",
                f"zone {zone} goes dark: {len(silenced)} kubelets fall silent, "
                f"{len(stopped)} EC2 instances stop; {api}",
            )
        ]
        if step.send_events:
            happened += self.send_events(self._state_changes(stopped, "stopped"))
        if step.health_event_after is not None:
            ids = [i.id for i in stopped]
            self.schedule(
                self.offset() + step.health_event_after,
                f"AWS Health issue for {zone}",
                lambda: self.send_events([self.events.health_issue(zone, ids, self.clock.now())]),
            )
        return happened

    def zone_recovery(self, step: ZoneRecovery) -> list[Happening]:
        zone = step.zone
        self.aws.fail_ec2_for_zone(zone, False)
        started = self.aws.start_zone_instances(zone)
        revived = self._set_zone_alive(zone, alive=True)
        happened = [
            self._note(
                "sandbox", f"zone {zone} is back: {len(started)} instances start, {len(revived)} kubelets report"
            )
        ]
        if step.send_events:
            happened += self.send_events(self._state_changes(started, "running"))
        if step.health_event_after is not None:
            ids = [i.id for i in started]
            self.schedule(
                self.offset() + step.health_event_after,
                f"AWS Health resolution for {zone}",
                lambda: self.send_events([self.events.health_issue(zone, ids, self.clock.now(), open_=False)]),
            )
        return happened

    def instance_stop(self, step: InstanceStop) -> list[Happening]:
        instance_id = self.instance_ids[(step.cluster, step.node)]
        self.clusters[step.cluster].set_node_alive(step.node, False)
        self.aws.stop_instances([instance_id])
        happened = [self._note("sandbox", f"{step.cluster}: node {step.node} ({instance_id}) stops, alone")]
        if step.send_events:
            happened += self.send_events([self.events.instance_state_change(instance_id, "stopped", self.clock.now())])
        return happened

    def _set_zone_alive(self, zone: str, *, alive: bool) -> list[str]:
        changed = []
        for spec in self.scenario.clusters:
            for node in spec.nodes(self.scenario.zones):
                if node.zone == zone:
                    self.clusters[spec.name].set_node_alive(node.name, alive)
                    changed.append(f"{spec.name}/{node.name}")
        return changed

    def _state_changes(self, instances: Iterable[Instance], state: str) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [self.events.instance_state_change(i.id, state, now) for i in instances]

    # --- events to Ferry -----------------------------------------------------------------------------------

    def send_events(self, events: list[dict[str, Any]]) -> list[Happening]:
        """AWS emits events: EventBridge's rule puts each on Ferry's ingestion queue."""
        if not events:
            return []
        self.aws.put_events(events)
        self.sent_events += events
        kinds = Counter(_event_label(e) for e in events)
        listed = ", ".join(f"{n} x {label}" if n > 1 else label for label, n in kinds.items())
        return [self._note("aws", f"EventBridge -> SQS: {listed}")]

    def deliver_events(self) -> list[Delivery]:
        """Lambda's SQS poller hands what is on the queue to `ingest`, batch by batch."""
        source = SqsEventSource(
            self.aws.client("sqs"),
            self.aws.queue_urls[self.aws.names.events_queue],
            self.aws.queue_arn(self.aws.names.events_queue),
            self.lambdas.function(INGEST),
        )
        delivered = source.drain()
        self.deliveries += delivered
        for delivery in delivered:
            if delivery.failed_ids:
                handles = [delivery.receipts[m] for m in delivery.failed_ids]
                self.schedule(
                    self.offset() + self.aws.names.visibility_timeout,
                    "SQS redelivery",
                    partial(self._redeliver, handles),
                )
        return delivered

    def _redeliver(self, receipt_handles: list[str]) -> list[Happening]:
        """SQS's visibility timeout runs on sandbox time: failed messages come back for another try.

        moto keeps real time, so the world makes them visible when the sandbox clock says so; after
        maxReceiveCount receives, SQS's redrive policy moves them to the dead-letter queue on the next receive.
        """
        sqs = self.aws.client("sqs")
        url = self.aws.queue_urls[self.aws.names.events_queue]
        for handle in receipt_handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return [self._note("aws", f"SQS: {len(receipt_handles)} failed message(s) visible again for a retry")]

    def dead_letters(self) -> int:
        """How many messages wait in the ingestion dead-letter queue."""
        attributes = self.aws.client("sqs").get_queue_attributes(
            QueueUrl=self.aws.queue_urls[self.aws.names.events_dlq], AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    # --- runbooks (act mode) -------------------------------------------------------------------------------

    def invoke(self, function: str, event: Mapping[str, Any]) -> Invocation:
        """Run one of Ferry's functions now, as Lambda would (the runbooks' Tasks come through here)."""
        return self.lambdas.invoke(function, event)

    def run_runbooks(self) -> list[TaskRun]:
        """Run the Tasks the runbooks' executions wait for, until each waits on sandbox time or has ended."""
        return self.runbooks.run_tasks() if self.runbooks else []

    def executions(self, runbook: str | None = None) -> list[ExecutionView]:
        """The runbooks' executions (of one runbook, or all), oldest first; none in observe mode."""
        return self.runbooks.executions(runbook) if self.runbooks else []

    def _run_probe(self) -> list[Happening]:
        """EventBridge's schedule fires: the probe function runs (and is scheduled for the next minute)."""
        self.schedule(self.offset() + PROBE_EVERY, "probe schedule", self._run_probe)
        event = self.events.scheduled(f"ferry-{PROBE}-every-minute", self.clock.now())
        invocation = self.lambdas.invoke(PROBE, event)
        self.probes.append(invocation)
        if not invocation.ok:
            return [self._note("ferry", f"probe failed: {invocation.error!r}")]
        result = invocation.result if isinstance(invocation.result, dict) else {}
        unreachable = result.get("unreachable") or []
        text = f"probe read {len(result.get('clusters') or [])} cluster(s): {result.get('signals', 0)} signal(s)"
        if unreachable:
            text += f"; unreachable: {', '.join(map(str, unreachable))}"
        return [self._note("ferry", text)]

    # --- what exists ---------------------------------------------------------------------------------------

    def inventory(self) -> Inventory:
        return self.aws.inventory()

    def nodes(self) -> list[NodeState]:
        found = []
        for name, cluster in self.clusters.items():
            for node in cluster.list("Node"):
                meta = node.get("metadata", {})
                conditions = node.get("status", {}).get("conditions", [])
                ready = next((c.get("status", "Unknown") for c in conditions if c.get("type") == "Ready"), "Unknown")
                found.append(
                    NodeState(
                        cluster=name,
                        name=meta.get("name", ""),
                        zone=meta.get("labels", {}).get(ZONE_LABEL, ""),
                        ready=ready,
                        instance_id=self.instance_ids.get((name, meta.get("name", ""))),
                    )
                )
        return sorted(found, key=lambda n: (n.cluster, n.name))

    def pets(self, sts: StatefulSetSpec | None = None) -> list[Pet]:
        """Every pet of the scenario's StatefulSets (or of one), looked up in its cluster."""
        chosen = [sts] if sts else list(self.scenario.statefulsets)
        return [self._pet(s, ordinal) for s in chosen for ordinal in range(s.replicas)]

    def _pet(self, sts: StatefulSetSpec, ordinal: int) -> Pet:
        cluster = self.clusters[sts.cluster]
        name = f"{sts.name}-{ordinal}"
        claim = sts.claim_name(ordinal)
        pod = cluster.get("Pod", name, sts.namespace)
        node_name = (pod or {}).get("spec", {}).get("nodeName")
        node = cluster.get("Node", node_name) if node_name else None
        return Pet(
            cluster=sts.cluster,
            namespace=sts.namespace,
            name=name,
            claim=claim,
            pods=sum(1 for c in self.clusters.values() if c.get("Pod", name, sts.namespace) is not None),
            node=node_name,
            zone=(node or {}).get("metadata", {}).get("labels", {}).get(ZONE_LABEL),
            phase=(pod or {}).get("status", {}).get("phase"),
            volume_id=self._volume_of(cluster, sts.namespace, claim),
        )

    @staticmethod
    def _volume_of(cluster: Cluster, namespace: str, claim: str) -> str | None:
        pvc = cluster.get("PersistentVolumeClaim", claim, namespace)
        volume_name = (pvc or {}).get("spec", {}).get("volumeName")
        pv = cluster.get("PersistentVolume", volume_name) if volume_name else None
        if pv is None:
            return None
        spec = pv.get("spec", {})
        handle = spec.get("csi", {}).get("volumeHandle") or spec.get("awsElasticBlockStore", {}).get("volumeID")
        return str(handle).rsplit("/", 1)[-1] if handle else None

    def table_items(self, pk: str) -> list[dict[str, Any]]:
        """Every item of one partition of Ferry's table, as plain Python values."""
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        pages = (
            self.aws.client("dynamodb")
            .get_paginator("query")
            .paginate(
                TableName=self.aws.names.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
            )
        )
        return [{k: deserialize(v) for k, v in item.items()} for page in pages for item in page["Items"]]

    def signals(self, subject: str) -> list[dict[str, Any]]:
        """The signals Ferry's ingest recorded about a zone, cluster or region (`SIGNAL#<subject>`)."""
        return self.table_items(f"SIGNAL#{subject}")

    def zone_state(self, zone: str) -> dict[str, Any] | None:
        """The detector's record of the zone (`ZONE#<region>#<zone>` / `STATE`), if it wrote one."""
        return self._item(f"ZONE#{self.scenario.region}#{zone}", "STATE")

    def control_plane_state(self, cluster: str) -> dict[str, Any] | None:
        """The detector's record of a cluster's control plane (`CLUSTER#<cluster>` / `CONTROL_PLANE`)."""
        return self._item(f"CLUSTER#{cluster}", "CONTROL_PLANE")

    def _item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return next((i for i in self.table_items(pk) if i.get("sk") == sk), None)

    # --- helpers -------------------------------------------------------------------------------------------

    def _note(self, actor: str, text: str) -> Happening:
        return Happening(self.offset(), actor, text)


# --- manifests ----------------------------------------------------------------------------------------------


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS},
        "provisioner": "ebs.csi.aws.com",
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Delete",
        "allowVolumeExpansion": True,
        "parameters": {"type": "gp3"},
    }


def statefulset(spec: StatefulSetSpec, zones: Iterable[str]) -> dict[str, Any]:
    """A StatefulSet of pets spread one per zone, each with an EBS-backed claim from `ebs-sc`."""
    labels = {"app": spec.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            "name": spec.name,
            "namespace": spec.namespace,
            "labels": labels,
            "annotations": {"ferry.io/rehome": spec.rehome.value, "ferry.io/max-rpo": spec.max_rpo},
        },
        "spec": {
            "replicas": spec.replicas,
            "serviceName": spec.name,
            "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": spec.name,
                            "image": "postgres:16",
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
                        }
                    ],
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": ZONE_LABEL,
                            "whenUnsatisfiable": "DoNotSchedule",
                            # Honor: a dead zone's tainted nodes do not count, or no other zone could take
                            # a pet out of it (with the default, Ignore, a real scheduler would refuse too).
                            "nodeTaintsPolicy": "Honor",
                            "labelSelector": {"matchLabels": labels},
                        }
                    ],
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": list(zones)}]}
                                ]
                            }
                        }
                    },
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": STORAGE_CLASS,
                        "resources": {"requests": {"storage": f"{spec.storage_gib}Gi"}},
                    },
                }
            ],
        },
    }


def federated_deployment(app: FederatedAppSpec, member: str, replicas: int) -> dict[str, Any]:
    """One member's slice of a federated app: its share of the total, by weight."""
    labels = {"app": app.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": app.name,
            "namespace": app.namespace,
            "labels": labels,
            "annotations": {
                "ferry.io/federated-app": app.name,
                "ferry.io/total-replicas": str(app.total_replicas),
                "ferry.io/weight": str(app.weights[member]),
            },
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": app.name, "image": "nginx:1.27"}]},
            },
        },
    }


# --- helpers ------------------------------------------------------------------------------------------------


def _each(clusters: list[Cluster], call: Callable[[Cluster], None]) -> None:
    """`call` on every cluster: one after the other on the double (its controllers share the sandbox clock),
    side by side on real control planes (each is its own processes, waiting on its own real time)."""
    if not any(isinstance(c, RealCluster) for c in clusters) or len(clusters) < 2:
        for cluster in clusters:
            call(cluster)
        return
    with ThreadPoolExecutor(len(clusters)) as pool:
        for done in [pool.submit(call, cluster) for cluster in clusters]:
            done.result()


# --- labels -------------------------------------------------------------------------------------------------


def _describe(step: Step) -> str:
    return type(step).__name__


def _event_label(event: Mapping[str, Any]) -> str:
    detail = event.get("detail", {})
    if event.get("source") == "aws.ec2":
        return f"EC2 instance state change ({detail.get('state')})"
    if event.get("source") == "aws.health":
        where = ", ".join(e.get("entityValue", "") for e in detail.get("affectedEntities", [])[:3])
        return f"AWS Health {detail.get('eventTypeCode')} ({detail.get('statusCode')}) about {where}"
    return str(event.get("detail-type"))
