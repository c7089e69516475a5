"""The snapshot schedule's run: find every pet with an RPO, decide (`ferry.domain.rehoming.schedules`), act.

Every 5 minutes, for each registered cluster, each StatefulSet annotated `ferry.io/max-rpo` and each of its
pets' EBS volumes: the executor (`ferry.executor.snapshots`) takes the snapshots the decision asks for,
tagged as the schedule's own, and prunes the schedule's own beyond retention (the volumes adapter re-checks
the tag before any delete). A cluster that cannot be reached, or a zone whose EC2 API fails, costs those
pets this round, not the others'; pets whose newest snapshot is already older than their RPO are counted
and reported (`PetsAtRisk`). When the executor did not act (observe mode) the run says what it would take
and prune.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from ferry.adapters.aws import client
from ferry.adapters.kube import ClusterAccess
from ferry.adapters.kube_writes import KubeWriter, writers
from ferry.adapters.registry import Registry
from ferry.adapters.volumes import Volumes
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.errors import FerryError
from ferry.domain.rehoming import manifests
from ferry.domain.rehoming.inventory import key
from ferry.domain.rehoming.policies import max_rpo
from ferry.domain.rehoming.schedules import ScheduleDecision, ScheduledVolume, decide
from ferry.executor.snapshots import SnapshotTaker
from ferry.observability import NAMESPACE, logger
from ferry.services.clocks import Clock
from ferry.services.settings.rehoming import RehomeSettings

Connect = Callable[[ClusterRegistration], KubeWriter]


def scheduled_volumes(kube: KubeWriter) -> list[ScheduledVolume]:
    """Each EBS volume behind a pet of a StatefulSet with a valid `ferry.io/max-rpo`."""
    rpos = {}
    for raw in kube.statefulset_objects():
        sts = manifests.parse_statefulset(raw)
        limit = max_rpo(sts.annotations)
        if limit is not None and not sts.deleting:
            rpos[key(sts.namespace, sts.name)] = limit
    if not rpos:
        return []
    claims = {key(c.namespace, c.name): c for c in map(manifests.parse_claim, kube.claim_objects())}
    pvs = {v.name: v for v in map(manifests.parse_volume, kube.volume_objects())}
    found = []
    for pod in (p for p in map(manifests.parse_pod, kube.pet_pods()) if p is not None):
        limit = rpos.get(key(pod.namespace, pod.statefulset))
        for name in pod.claims if limit else ():
            claim = claims.get(key(pod.namespace, name))
            pv = pvs.get(claim.volume_name or "") if claim else None
            if pv and pv.volume_id and limit:
                found.append(ScheduledVolume(kube.cluster, pod.namespace, name, pv.volume_id, limit))
    return found


def _at_risk(decision: ScheduleDecision) -> list[dict[str, Any]]:
    return [
        {"cluster": r.volume.cluster, "pet": r.volume.pet, "ageSeconds": r.age.total_seconds() if r.age else None}
        for r in decision.at_risk
    ]


class SnapshotSchedule:
    def __init__(
        self,
        settings: RehomeSettings,
        *,
        registry: Registry,
        connect: Connect,
        ec2: Any,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._connect = connect
        self._volumes = Volumes(ec2)
        self._taker = SnapshotTaker(settings.mode, volumes=self._volumes)
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: RehomeSettings, *, clock: Clock) -> SnapshotSchedule:
        connect = writers(ClusterAccess.from_environment(now=clock), timeout=settings.kube_timeout_seconds)

        return cls(
            settings,
            registry=Registry(client("dynamodb"), settings.table_name),
            connect=connect,
            ec2=client("ec2"),
            clock=clock,
        )

    def _read(self, registration: ClusterRegistration) -> list[ScheduledVolume] | None:
        try:
            with self._connect(registration) as kube:
                return scheduled_volumes(kube)
        except FerryError as error:
            logger.warning(
                "cluster unreachable for the snapshot schedule",
                extra={"cluster": registration.name, "error": str(error)},
            )
            return None

    def run(self) -> dict[str, Any]:
        now = self._clock()
        clusters = self._registry.clusters()
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(clusters)))) as pool:
            read = list(pool.map(self._read, clusters))
        unreachable = sorted(c.name for c, found in zip(clusters, read, strict=True) if found is None)
        volumes = [v for found in read for v in found or []]
        snapshots = self._volumes.snapshots_of(v.volume_id for v in volumes)
        with_snapshots = [
            ScheduledVolume(v.cluster, v.namespace, v.claim, v.volume_id, v.max_rpo, snapshots.get(v.volume_id, ()))
            for v in volumes
        ]
        decision = decide(with_snapshots, now, self._settings.snapshot_period, self._settings.limits.snapshot_retention)
        done = self._taker.carry_out(decision)
        if not done.acted:  # observe mode: say what would have been done
            return {
                "clusters": [c.name for c in clusters],
                "unreachable": unreachable,
                "volumes": len(volumes),
                "observeMode": True,
                "wouldTake": [t.volume.volume_id for t in decision.take],
                "wouldPrune": [p.snapshot_id for p in decision.prune],
                "atRisk": _at_risk(decision),
            }
        for name, value in (
            ("SnapshotsTaken", len(done.taken)),
            ("SnapshotsPruned", len(done.pruned)),
            ("PetsAtRisk", len(decision.at_risk)),
        ):
            with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE):
                pass
        result = {
            "clusters": [c.name for c in clusters],
            "unreachable": unreachable,
            "volumes": len(volumes),
            "taken": list(done.taken),
            "pruned": list(done.pruned),
            "failed": list(done.failed),
            "atRisk": _at_risk(decision),
        }
        logger.info("snapshot schedule ran", extra={k: v for k, v in result.items() if k != "atRisk"})
        return result
