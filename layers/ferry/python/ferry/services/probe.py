"""The probe round: look at every registered cluster at once and say what is seen, as Signals.

Kubernetes takes minutes to mark a dead zone's nodes NotReady; AWS Health may take longer to say anything.
Every minute the probe reads, for each cluster, node readiness and lease renewals (paginated, never a pod
listing), the API's `/readyz`, and EC2's view of the nodes' instances (one batched call for all clusters),
and publishes what it saw as metrics per zone and per cluster. It remembers where each node's instance and
each PersistentVolume's EBS volume lives (`ferry.adapters.placements`), which is how ingest places the
instances and volumes an AWS Health issue names without asking EC2. Clusters are probed in parallel with a
per-call timeout; a cluster that cannot be reached (timeout, 401/403, garbage) is an `API_UNREACHABLE`
observation, never an exception that stops the round for the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from ferry.adapters.aws import client
from ferry.adapters.decisions import Pauses
from ferry.adapters.ec2 import InstanceDirectory
from ferry.adapters.journal import Journal
from ferry.adapters.kube import ClusterAccess, KubeApi
from ferry.adapters.kube_writes import writers
from ferry.adapters.placements import Placement, Placements, VolumePlacement
from ferry.adapters.registry import Registry
from ferry.adapters.reporting import AuditLog
from ferry.adapters.signal_log import SignalLog
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.errors import FerryError
from ferry.domain.probing import (
    ClusterObservation,
    NodeHealth,
    VolumeSeen,
    quarantined_zones,
    recovered_fenced_nodes,
    signals_from,
    summarize_zones,
)
from ferry.domain.rehoming.manifests import parse_volume
from ferry.domain.signals import Signal
from ferry.executor.nodes import NodeReleaser
from ferry.observability import NAMESPACE, logger
from ferry.services.clocks import Clock
from ferry.services.settings.probe import ProbeSettings
from ferry.services.verdicts import Verdicts

Connect = Callable[[ClusterRegistration], KubeApi]
UNKNOWN_ZONE = "unknown"
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service:NoExecute"
QUARANTINE_TAINT = "ferry.io/fence-unconfirmed:NoSchedule"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    observations: tuple[ClusterObservation, ...]
    signals: tuple[Signal, ...]


def read_cluster(
    registration: ClusterRegistration, connect: Connect, now: datetime, round_id: str
) -> ClusterObservation:
    """Nodes, leases and `/readyz` of one cluster; any failure becomes the observation's `api_error`."""
    observation = ClusterObservation(
        cluster=registration.name,
        region=registration.region,
        observed_at=now,
        round_id=f"{round_id}/{registration.name}",
        zones=registration.zones,
    )
    try:
        with connect(registration) as api:
            api.readyz()
            renewals = api.lease_renewals()
            nodes = tuple(
                NodeHealth(
                    name=node.name,
                    zone=node.zone or UNKNOWN_ZONE,
                    ready=node.ready,
                    lease_renewed_at=renewals.get(node.name),
                    instance_id=node.instance_id,
                    control_plane=node.control_plane,
                    fenced=OUT_OF_SERVICE_TAINT in node.taints,
                    quarantined=QUARANTINE_TAINT in node.taints,
                )
                for node in api.nodes()
            )
            volumes = read_volumes(api, registration.name)
    except (FerryError, ValueError, OSError) as error:
        logger.warning("cluster unreachable", extra={"cluster": registration.name, "error": str(error)})
        observation = _with(observation, api_error=f"{type(error).__name__}: {error}")
    else:
        observation = _with(observation, nodes=nodes, volumes=volumes)
    return _with(observation, members=read_members(registration, connect))


def read_volumes(api: KubeApi, cluster: str) -> tuple[VolumeSeen, ...]:
    """The EBS volumes behind the cluster's PersistentVolumes and their zones (CSI volumeHandle or in-tree
    volumeID; zone affinity or label). A listing that fails costs this round's volumes, not the cluster's
    health: the API answered /readyz and its nodes already."""
    try:
        parsed = [parse_volume(pv) for pv in api.volume_objects()]
    except (FerryError, ValueError, OSError) as error:
        logger.warning("persistent volumes not read", extra={"cluster": cluster, "error": str(error)})
        return ()
    return tuple(VolumeSeen(pv=v.name, volume_id=v.volume_id, zone=v.zone) for v in parsed if v.volume_id and v.zone)


def read_members(registration: ClusterRegistration, connect: Connect) -> dict[str, str | None]:
    """`/readyz` of each control-plane member's own endpoint: None when it answered, else the error."""
    members: dict[str, str | None] = {}
    for instance, url in registration.member_endpoints:
        try:
            with connect(dataclasses.replace(registration, endpoint=url)) as api:
                api.readyz()
            members[instance] = None
        except (FerryError, ValueError, OSError) as error:
            members[instance] = f"{type(error).__name__}: {error}"
    return members


def _with(observation: ClusterObservation, **changes: object) -> ClusterObservation:
    return dataclasses.replace(observation, **changes)  # type: ignore[arg-type]


def probe_round(
    clusters: Sequence[ClusterRegistration],
    *,
    connect: Connect,
    directory: InstanceDirectory,
    now: datetime,
    lease_grace: timedelta,
    unhealthy_fraction: float,
    parallelism: int = 8,
) -> ProbeResult:
    round_id = f"probe-{int(now.timestamp())}"
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(clusters)))) as pool:
        observed = list(pool.map(lambda c: read_cluster(c, connect, now, round_id), clusters))
    instance_ids = [n.instance_id for o in observed for n in o.nodes if n.instance_id]
    try:
        states = {i: loc.state for i, loc in directory.locate(instance_ids).items()}
    except FerryError as error:
        # EC2 failing is not a reason to lose what Kubernetes told us; the EC2 voice is just missing.
        logger.warning("EC2 instance states unavailable this round", extra={"error": str(error)})
        states = {}
    observations = tuple(
        _with(o, instance_states={i: states[i] for i in (n.instance_id for n in o.nodes) if i in states})
        for o in observed
    )
    signals = tuple(
        s for o in observations for s in signals_from(o, lease_grace=lease_grace, unhealthy_fraction=unhealthy_fraction)
    )
    return ProbeResult(observations=observations, signals=signals)


def publish_metrics(result: ProbeResult, lease_grace: timedelta) -> None:
    """Per cluster: ApiHealthy (1/0). Per cluster and zone: NodesReady, NodesNotReady, LeaseAgeMax (s)."""
    for observation in result.observations:
        healthy = 0 if observation.api_error else 1
        _metric("ApiHealthy", healthy, MetricUnit.Count, cluster=observation.cluster)
        for zone in summarize_zones(observation, lease_grace):
            dims = {"cluster": observation.cluster, "zone": zone.zone}
            _metric("NodesReady", zone.healthy, MetricUnit.Count, **dims)
            _metric("NodesNotReady", zone.unhealthy, MetricUnit.Count, **dims)
            if zone.oldest_lease_age != float("inf"):
                _metric("LeaseAgeMax", zone.oldest_lease_age, MetricUnit.Seconds, **dims)


def _metric(name: str, value: float, unit: MetricUnit, **dimensions: str) -> None:
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=dim)


class Prober:
    """One probe invocation: every registered cluster read, what was seen recorded and decided upon."""

    def __init__(
        self,
        settings: ProbeSettings,
        *,
        registry: Registry,
        connect: Connect,
        releaser: NodeReleaser,
        directory: InstanceDirectory,
        placements: Placements,
        log: SignalLog,
        verdicts: Verdicts,
        journal: Journal,
        pauses: Pauses,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._connect = connect
        self._releaser = releaser
        self._directory = directory
        self._placements = placements
        self._log = log
        self._verdicts = verdicts
        self._journal = journal
        self._pauses = pauses
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: ProbeSettings, *, clock: Clock) -> Prober:
        dynamodb = client("dynamodb")
        table = settings.reactions.table_name
        connect = writers(ClusterAccess.from_environment(now=clock), timeout=settings.timeout_seconds)

        return cls(
            settings,
            registry=Registry(dynamodb, table),
            connect=connect,
            releaser=NodeReleaser(settings.reactions.mode, connect=connect, audit=AuditLog(dynamodb, table)),
            directory=InstanceDirectory(client("ec2")),
            placements=Placements(dynamodb, table),
            log=SignalLog(dynamodb, table),
            verdicts=Verdicts.from_settings(settings.reactions, dynamodb, clock=clock),
            journal=Journal(dynamodb, table),
            pauses=Pauses(dynamodb, table),
            clock=clock,
        )

    def run(self) -> dict[str, Any]:
        now = self._clock()
        clusters = self._registry.clusters()
        result = probe_round(
            clusters,
            connect=self._connect,
            directory=self._directory,
            now=now,
            lease_grace=self._settings.lease_grace,
            unhealthy_fraction=self._settings.unhealthy_fraction,
            parallelism=self._settings.parallelism,
        )
        publish_metrics(result, self._settings.lease_grace)
        self._placements.remember(
            (
                *(
                    Placement(instance_id=n.instance_id, zone=n.zone, cluster=o.cluster, node=n.name)
                    for o in result.observations
                    for n in o.nodes
                    if n.instance_id and n.zone != UNKNOWN_ZONE
                ),
                *(
                    VolumePlacement(volume_id=v.volume_id, zone=v.zone, cluster=o.cluster, pv=v.pv)
                    for o in result.observations
                    for v in o.volumes
                ),
            ),
            now=now,
        )
        self._log.record_signals(result.signals, ttl=timedelta(days=self._settings.signal_ttl_days))
        done = self._verdicts.decide(result.signals) + self._verdicts.redo_pending()
        released = self._release_recovered(clusters, result.observations, now)
        unfinished = set().union(*(quarantined_zones(o) for o in result.observations))
        done += self._verdicts.retry_unfinished(unfinished, claims=self._journal, pauses=self._pauses)
        unreachable = sorted(o.cluster for o in result.observations if o.api_error)
        logger.info("probe round done", extra={"clusters": len(clusters), "unreachable": unreachable})
        return {
            "clusters": [c.name for c in clusters],
            "unreachable": unreachable,
            "signals": len(result.signals),
            "released": released,
            "reactions": [{"action_id": d.action_id, "outcome": d.outcome.value} for d in done],
        }

    def _release_recovered(
        self, clusters: Sequence[ClusterRegistration], observations: Sequence[ClusterObservation], now: datetime
    ) -> list[str]:
        """Lift the out-of-service taint from fenced nodes that are back; one cluster failing spares the rest."""
        by_name = {c.name: c for c in clusters}
        released = []
        for observation in observations:
            nodes = recovered_fenced_nodes(observation, lease_grace=self._settings.lease_grace)
            if not nodes:
                continue
            try:
                done = self._releaser.release(by_name[observation.cluster], nodes, now=now)
            except FerryError as error:
                logger.warning("fenced nodes not released", extra={"cluster": observation.cluster, "error": str(error)})
                continue
            released += [f"{observation.cluster}/{node}" for node in done]
        return released
