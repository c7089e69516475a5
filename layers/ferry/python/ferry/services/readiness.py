"""Readiness: "what if zone X failed now", for every watched zone, changing nothing (functions/readiness).

The one Task of ferry-Readiness, started by a person or by the daily schedule. It checks the input first (the
schema, then each cluster and zone named against the registry: an unknown zone is an input error naming it,
before anything is read), reads every cluster once (`reading.read_readiness`, side by side; a cluster that
cannot be read becomes a finding for that cluster, the rest is assessed), asks the pure assessment
(`ferry.domain.readiness`, EvacuateZone's own planner on the same snapshot), and then:

- publishes per zone `ReadinessGrade` (0 ready, 1 at-risk, 2 not-ready) and per finding kind
  `ReadinessFindings`;
- compares each zone's grade with the last answer kept in the table and notifies only when one got worse
  (a first answer, or the same grade every day, is not news);
- keeps this answer in the table (`READINESS` / `ZONE#<zone>`) and returns it as the execution's output.

It only reads clusters and EC2, so it runs the same in observe and act mode: it is how a new deployment earns
trust. Nothing it calls writes to a cluster or to EC2 (tests/e2e/test_readiness.py compares the worlds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ferry.adapters.aws import LazyClient, client
from ferry.adapters.fencing import Fencer
from ferry.adapters.kube import ClusterAccess
from ferry.adapters.kube_writes import KubeWriter, writers
from ferry.adapters.readiness import ReadinessStore
from ferry.adapters.registry import Registry
from ferry.adapters.reporting import Notifier
from ferry.adapters.states import StateTable
from ferry.adapters.volumes import Volumes
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.errors import InputError
from ferry.domain.readiness import Grade, ReadinessReport, assess, check_zones, grade_value, readiness_report
from ferry.domain.readiness_inputs import Surroundings
from ferry.domain.rehoming.inventory import ClusterInventory
from ferry.domain.runbooks import Runbook
from ferry.observability import emit_counts, logger
from ferry.services import reading
from ferry.services.clocks import Clock
from ferry.services.inputs import validate_input
from ferry.services.settings.rehoming import RehomeSettings

METRIC_GRADE = "ReadinessGrade"  # per zone
METRIC_FINDINGS = "ReadinessFindings"  # per finding kind
OUTPUT_LIMIT = 200_000  # characters of the execution's output: a Step Functions state carries at most 256 KB
READERS = 8  # clusters read at once

Connect = Callable[[ClusterRegistration], KubeWriter]


class Readiness:
    def __init__(
        self,
        settings: RehomeSettings,
        *,
        registry: Registry,
        connect: Connect,
        ec2: Any,
        states: StateTable,
        store: ReadinessStore,
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._connect = connect
        self._fencer = Fencer(ec2)
        self._volumes = Volumes(ec2)
        self._states = states
        self._store = store
        self._notifier = notifier
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: RehomeSettings, *, clock: Clock) -> Readiness:
        dynamodb = client("dynamodb")
        connect = writers(ClusterAccess.from_environment(now=clock), timeout=settings.kube_timeout_seconds)

        return cls(
            settings,
            registry=Registry(dynamodb, settings.table_name),
            connect=connect,
            ec2=LazyClient("ec2"),
            states=StateTable(dynamodb, settings.table_name),
            store=ReadinessStore(dynamodb, settings.table_name),
            notifier=Notifier(LazyClient("sns"), settings.topic_arn),
            clock=clock,
        )

    def assess(self, event: Mapping[str, Any]) -> dict[str, Any]:
        run_id, body = _parse(event)
        clusters = self._clusters(body.get("clusters"))
        watched = sorted({zone for c in clusters for zone in c.zones})
        wanted = list(body.get("zones") or watched)
        check_zones(wanted, watched)
        now = self._clock()
        with ThreadPoolExecutor(max_workers=max(1, min(READERS, len(clusters)))) as pool:
            read = list(pool.map(self._read, clusters))
        inventories = [r for r in read if isinstance(r, tuple)]
        unreachable = {c.name: r for c, r in zip(clusters, read, strict=True) if isinstance(r, str)}
        zones = assess(
            wanted,
            [inventory for inventory, _ in inventories],
            now,
            unreachable=unreachable,
            limits=self._settings.limits,
            surroundings={around.cluster: around for _, around in inventories},
            apps=self._registry.apps(),
        )
        last = {zone: Grade(grade) for zone, grade in self._store.grades().items() if grade in Grade}
        report = readiness_report(run_id, now, zones, unreachable=unreachable, last=last)
        self._publish(report)
        self._store.keep(
            run_id,
            now,
            [
                {
                    "zone": z.zone,
                    "grade": z.grade.value,
                    "findings": Counter(f.kind.value for f in z.findings),
                    "summary": report.summary,
                }
                for z in report.zones
            ],
        )
        if report.worse:
            self._notifier.notify(
                f"Ferry: readiness worse in {', '.join(report.worse)}",
                report.summary,
                {"run": run_id, "zones": ",".join(report.worse)},
            )
        return report.to_output(OUTPUT_LIMIT)

    def _clusters(self, named: Sequence[str] | None) -> list[ClusterRegistration]:
        registered = sorted(self._registry.clusters(), key=lambda c: c.name)
        if named is None:
            return registered
        by_name = {c.name: c for c in registered}
        missing = [n for n in named if n not in by_name]
        if missing:
            known = ", ".join(by_name) or "none"
            raise InputError([f"clusters: {n!r} is not registered with Ferry ({known})" for n in missing])
        return [by_name[n] for n in sorted(set(named))]

    def _read(self, registration: ClusterRegistration) -> tuple[ClusterInventory, Surroundings] | str:
        """The cluster's snapshot, or why it could not be read: a finding, never the run's failure."""
        try:
            zones = {
                z.zone: z.status for z in self._states.read_region(registration.region, registration.zones).state.zones
            }
            with self._connect(registration) as kube:
                return reading.read_readiness(kube, self._fencer, self._volumes, zones)
        except Exception as error:  # any failure to read one cluster is that cluster's finding, not the run's
            logger.warning("cluster not read", extra={"cluster": registration.name, "error": repr(error)})
            return f"could not be read: {type(error).__name__}: {error}"

    @staticmethod
    def _publish(report: ReadinessReport) -> None:
        # A zone's grade is a level (0 ready, 1 at-risk, 2 not-ready), not a count: one blob per zone.
        emit_counts(METRIC_GRADE, "zone", Counter({z.zone: grade_value(z.grade) for z in report.zones}))
        emit_counts(METRIC_FINDINGS, "kind", Counter(f.kind.value for z in report.zones for f in z.findings))


def _parse(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    run_id = event.get("runId") if isinstance(event, Mapping) else None
    if not isinstance(run_id, str) or not run_id:
        raise InputError(["runId: required (the execution name)"])
    body = {k: v for k, v in event.items() if k != "runId"}
    validate_input(Runbook.READINESS, body)
    return run_id, body
