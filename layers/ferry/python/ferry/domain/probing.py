"""What one probe round saw in one cluster, and the Signals it means (pure).

The probe function gathers a `ClusterObservation` through the adapters (nodes and their leases per zone,
the API's `/readyz`, EC2's view of the nodes' instances); this module turns it into Signals for the detector.
Kubernetes' own node lifecycle needs 40 s plus five minutes to act; a lease that stopped renewing is visible
to Ferry on the next probe round.

A cluster the probe cannot reach is itself an observation (`api_error`), never an exception: the other
clusters are still probed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ferry.domain.signals import Signal, SignalKind, Source

DOWN_STATES = frozenset({"stopping", "stopped", "shutting-down", "terminated"})


@dataclass(frozen=True, slots=True)
class NodeHealth:
    name: str
    zone: str
    ready: bool
    lease_renewed_at: datetime | None
    instance_id: str | None = None
    control_plane: bool = False
    fenced: bool = False  # Ferry fenced it (out-of-service taint): out of service on purpose, not evidence
    quarantined: bool = False  # Ferry could not confirm its fence (NoSchedule): its pets wait for a retry


@dataclass(frozen=True, slots=True)
class VolumeSeen:
    """An EBS volume behind one of the cluster's PersistentVolumes, and the zone it is bound to."""

    pv: str
    volume_id: str
    zone: str


@dataclass(frozen=True, slots=True)
class ClusterObservation:
    cluster: str
    region: str
    observed_at: datetime
    round_id: str
    api_error: str | None = None  # None: /readyz answered 200
    nodes: tuple[NodeHealth, ...] = ()
    instance_states: Mapping[str, str] = field(default_factory=dict)  # instance id -> EC2 state name
    zones: tuple[str, ...] = ()  # the cluster's registered zones: a zone with no node left is still watched
    members: Mapping[str, str | None] = field(default_factory=dict)  # member instance -> /readyz error or None
    volumes: tuple[VolumeSeen, ...] = ()  # where the pets' data is: how ingest places a Health issue's volumes


@dataclass(frozen=True, slots=True)
class ZoneNodeSummary:
    zone: str
    total: int
    healthy: int  # Ready, with a lease renewed within the grace period
    oldest_lease_age: float  # seconds; 0 with no nodes, inf for a node that never renewed

    @property
    def unhealthy(self) -> int:
        return self.total - self.healthy


def summarize_zones(observation: ClusterObservation, lease_grace: timedelta) -> list[ZoneNodeSummary]:
    """Per zone: how many nodes, how many Ready with a fresh lease, the oldest lease age."""
    grace = lease_grace.total_seconds()
    summaries = []
    for zone in sorted(set(observation.zones) | {n.zone for n in observation.nodes}):
        nodes = [n for n in observation.nodes if n.zone == zone and not n.fenced]
        ages = [_lease_age(n, observation.observed_at) for n in nodes]
        summaries.append(
            ZoneNodeSummary(
                zone=zone,
                total=len(nodes),
                healthy=sum(n.ready and age <= grace for n, age in zip(nodes, ages, strict=True)),
                oldest_lease_age=max(ages, default=0.0),
            )
        )
    return summaries


def _lease_age(node: NodeHealth, now: datetime) -> float:
    if node.lease_renewed_at is None:
        return float("inf")
    return max(0.0, (now - node.lease_renewed_at).total_seconds())


def signals_from(
    observation: ClusterObservation, *, lease_grace: timedelta, unhealthy_fraction: float = 0.5
) -> tuple[Signal, ...]:
    """The Signals one probe round of one cluster means.

    - API: `API_HEALTHY` or `API_UNREACHABLE` (with the error). An unreachable API says nothing about the
      zones (the nodes cannot be read), so no zone signal comes with it.
    - Per zone: `NODES_NOT_READY` when more than `unhealthy_fraction` of its nodes are NotReady or have a
      lease older than `lease_grace`, else `NODES_READY`; a zone with no nodes says nothing.
    - Per node whose instance EC2 reports down: `INSTANCE_DOWN` from the EC2 source (an independent voice),
      marked `role=control-plane` for control-plane nodes.
    - Per registered control-plane member: `CONTROL_PLANE_MEMBER_HEALTHY` or `..._UNHEALTHY` from its own
      `/readyz`, reported even when the shared endpoint fails (they tell a dead member from a dead cluster).

    Nodes Ferry fenced are left out of both: their instances were stopped on purpose and stay stopped until
    failback, and counting them would keep their zone from ever looking quiet enough to recover.
    """
    members = [
        _signal(
            observation,
            SignalKind.CONTROL_PLANE_MEMBER_UNHEALTHY if error else SignalKind.CONTROL_PLANE_MEMBER_HEALTHY,
            instance=instance,
            evidence={"error": error[:300]} if error else {},
        )
        for instance, error in sorted(observation.members.items())
    ]
    if observation.api_error is not None:
        api = _signal(observation, SignalKind.API_UNREACHABLE, evidence={"error": observation.api_error[:300]})
        return (api, *members)
    signals = [_signal(observation, SignalKind.API_HEALTHY), *members]
    for summary in summarize_zones(observation, lease_grace):
        if summary.total == 0:
            continue
        failing = summary.unhealthy > summary.total * unhealthy_fraction
        signals.append(
            _signal(
                observation,
                SignalKind.NODES_NOT_READY if failing else SignalKind.NODES_READY,
                zone=summary.zone,
                evidence={
                    "nodes": str(summary.total),
                    "healthy": str(summary.healthy),
                    "unhealthy": str(summary.unhealthy),
                    "oldest_lease_age_s": _seconds(summary.oldest_lease_age),
                },
            )
        )
    for node in sorted(observation.nodes, key=lambda n: n.name):
        state = observation.instance_states.get(node.instance_id or "")
        if node.instance_id and state in DOWN_STATES and not node.fenced:
            signals.append(
                _signal(
                    observation,
                    SignalKind.INSTANCE_DOWN,
                    source=Source.EC2,
                    zone=node.zone,
                    instance=node.instance_id,
                    evidence={"state": state, "node": node.name}
                    | ({"role": "control-plane"} if node.control_plane else {}),
                )
            )
    return tuple(signals)


def recovered_fenced_nodes(observation: ClusterObservation, *, lease_grace: timedelta) -> tuple[str, ...]:
    """Nodes Ferry fenced whose kubelet is back: Ready, with a lease renewed within the grace period.

    Their pods were force-deleted when they were fenced, so the out-of-service taint has done its work and
    Kubernetes says to remove it once the node is back. Ferry's cordon stays: failback uncordons.
    """
    grace = lease_grace.total_seconds()
    return tuple(
        sorted(
            n.name
            for n in observation.nodes
            if n.fenced and n.ready and _lease_age(n, observation.observed_at) <= grace
        )
    )


def quarantined_zones(observation: ClusterObservation) -> frozenset[str]:
    """Zones where Ferry left a node quarantined (fence not confirmed): their evacuation is unfinished."""
    return frozenset(n.zone for n in observation.nodes if n.quarantined)


def _signal(
    observation: ClusterObservation,
    kind: SignalKind,
    *,
    source: Source = Source.PROBE,
    zone: str | None = None,
    instance: str | None = None,
    evidence: Mapping[str, str] | None = None,
) -> Signal:
    return Signal(
        kind=kind,
        source=source,
        source_id=f"{observation.round_id}/{instance}" if instance else observation.round_id,
        observed_at=observation.observed_at,
        region=observation.region,
        zone=zone,
        cluster=observation.cluster,
        instance=instance,
        evidence=evidence or {},
    )


def _seconds(value: float) -> str:
    return "never" if value == float("inf") else f"{value:.0f}"
