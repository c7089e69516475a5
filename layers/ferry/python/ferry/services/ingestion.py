"""The ingest path: every AWS event Ferry receives becomes Signals, a counted skip, or a loud failure.

EventBridge delivers each event to one SQS queue; the `ingest` function gets batches of them. Per record:
parse the body (an EventBridge event), translate it (pure, `ferry.domain.translators`), look up what the
event leaves out (the zones of a Health issue's instances and volumes, the zone and cluster of an EC2
event's instance, the account's zone name for a zone id), and record the Signals. The work is idempotent on
the event's source, detail-type and id (Powertools Idempotency), so SQS's at-least-once delivery never
records an event twice; Powertools' payload validation flags an id seen before with a different event
(counted as EventsConflicting, logged, and not processed again). Nothing is dropped silently:

- a well-formed event Ferry does not act on is a `Skip`: counted, acknowledged, never retried;
- a malformed one raises `EventParseError`: that record alone fails, the log line and a `REJECTED#` record
  name the field, SQS retries it and after maxReceiveCount moves it, intact, to the dead-letter queue;
- a transient failure (DynamoDB or EC2 throttling or down) fails the record so SQS retries it;
- a signal whose event is older than the detection window on arrival is recorded with `stale` in its
  evidence and counted (SignalsStale): it decides nothing (the detector's rule), but the audit shows it.

Besides the detector's reactions, ingest hands the executor the node warnings' DrainNode requests and the
drills' notices (an ARC practice run or FIS experiment is told once per event, whatever it decides).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError

from ferry.adapters.aws import LazyClient, client
from ferry.adapters.ec2 import InstanceDirectory
from ferry.adapters.placements import Placements
from ferry.adapters.registry import Registry
from ferry.adapters.signal_log import SignalLog
from ferry.domain.detection import stale_on_arrival
from ferry.domain.errors import EventParseError, FerryError
from ferry.domain.signals import NODE_WARNINGS, Signal, Skip, Source, Translation
from ferry.domain.translators import Unplaced, translate
from ferry.domain.translators.zones import volume_id_in
from ferry.observability import emit_counts, logger, metrics
from ferry.services.clocks import Clock
from ferry.services.settings.ingest import IngestSettings
from ferry.services.verdicts import Verdicts

if TYPE_CHECKING:  # types only: Lambda passes its own context object (Powertools imports it so too), and the
    # reaction path is imported when a batch first needs it (ferry.services.verdicts says why)
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from ferry.executor.reactions import Done

# Idempotency: an event is known by who sent it and what it is, not by its id alone; a repeated key must
# carry the same event (payload validation), or it is flagged rather than trusted.
IDEMPOTENCY_KEY = '[source, "detail-type", id]'
IDEMPOTENCY_PAYLOAD = "[time, resources, detail]"
FOLLOWED_TTL = timedelta(seconds=60)  # how long a snapshot of the followed load balancers is trusted
EVIDENCE_ZONE_FROM = "zoneFrom"


_COUNTS = (
    ("SignalsTranslated", "kind"),
    ("SignalsStale", "kind"),
    ("EventsSkipped", "reason"),
    ("EventsRejected", "field"),
    ("EventsConflicting", "source"),
)


def parse_body(body: str | None) -> dict[str, Any]:
    """The SQS body must be one EventBridge event, a JSON object with a string `id`."""
    if not body:
        raise EventParseError("body", "empty")
    try:
        event = json.loads(body)
    except json.JSONDecodeError as error:
        raise EventParseError("body", f"not JSON ({error.msg} at char {error.pos})") from None
    if not isinstance(event, dict):
        raise EventParseError("body", f"expected a JSON object, got {type(event).__name__}")
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise EventParseError("id", "missing" if "id" not in event else "expected a non-empty string")
    return event


class Ingestor:
    """Processes SQS batches of EventBridge events. Built once per container, with its adapters passed in."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        log: SignalLog,
        directory: InstanceDirectory,
        placements: Placements,
        verdicts: Verdicts,
        persistence: DynamoDBPersistenceLayer,
        clock: Clock,
        registry: Registry | None = None,
    ) -> None:
        self._settings = settings
        self._log = log
        self._directory = directory
        self._placements = placements
        self._verdicts = verdicts
        self._registry = registry
        self._clock = clock
        self._idempotency = IdempotencyConfig(
            event_key_jmespath=IDEMPOTENCY_KEY,
            payload_validation_jmespath=IDEMPOTENCY_PAYLOAD,
            expires_after_seconds=24 * 3600,
        )
        self._ingest_once = idempotent_function(
            data_keyword_argument="event", persistence_store=persistence, config=self._idempotency
        )(self._ingest)
        self._counts: dict[str, Counter[str]] = {}
        self._followed: tuple[frozenset[str], datetime] | None = None

    @classmethod
    def from_settings(cls, settings: IngestSettings, *, clock: Clock) -> Ingestor:
        dynamodb = client("dynamodb")
        persistence = DynamoDBPersistenceLayer(
            table_name=settings.table_name,
            key_attr="pk",
            sort_key_attr="sk",
            expiry_attr="expires_at",
            boto3_client=dynamodb,
        )
        return cls(
            settings,
            log=SignalLog(dynamodb, settings.table_name),
            directory=InstanceDirectory(LazyClient("ec2")),
            placements=Placements(dynamodb, settings.table_name),
            verdicts=Verdicts.from_settings(settings.reactions, dynamodb, clock=clock),
            persistence=persistence,
            clock=clock,
            registry=Registry(dynamodb, settings.table_name),
        )

    def process_batch(
        self, event: Mapping[str, Any], context: LambdaContext, processor: BatchProcessor
    ) -> dict[str, Any]:
        """Process every record; the response lists only the failed ones (ReportBatchItemFailures)."""
        self._idempotency.register_lambda_context(context)
        metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
        self._counts = {name: Counter() for name, _ in _COUNTS}
        try:
            response = process_partial_response(
                event=dict(event), record_handler=self.handle_record, processor=processor, context=context
            )
            return dict(response)
        finally:
            for name, dimension in _COUNTS:
                emit_counts(name, dimension, self._counts[name])

    def handle_record(self, record: SQSRecord) -> dict[str, Any]:
        try:
            event = parse_body(record.body)
            logger.set_correlation_id(event["id"])
            logger.append_keys(source=event.get("source"), detail_type=event.get("detail-type"))
            outcome: dict[str, Any] = self._ingest_once(event=event)
        except IdempotencyValidationError:
            # The same source, detail-type and id as an event already processed, but not the same event: a
            # sender's bug or a forgery. It was processed once; this one is acknowledged, counted and logged.
            self._counts["EventsConflicting"][str(event.get("source"))] += 1
            logger.warning("event id seen before with a different payload: not processed again")
            return {"conflicting": event["id"]}
        except EventParseError as error:
            self._reject(record, error)
            raise
        except FerryError as error:
            logger.warning("event not ingested, will be retried", extra={"error": str(error)})
            raise
        if outcome.get("skipped"):
            self._counts["EventsSkipped"][outcome["skipped"]] += 1
            logger.info("event skipped", extra={"reason": outcome["skipped"], "detail": outcome["detail"]})
        for signal in outcome.get("signals", []):
            self._counts["SignalsTranslated"][signal["kind"]] += 1
            if signal["evidence"].get("stale"):
                self._counts["SignalsStale"][signal["kind"]] += 1
        return outcome

    def _ingest(self, event: dict[str, Any]) -> dict[str, Any]:
        translation = self.translate(event)
        if isinstance(translation, Skip):
            return {"skipped": translation.reason.value, "detail": translation.detail}
        signals = self._mark_stale(self.resolve(translation))
        self._log.record_signals(signals, ttl=timedelta(days=self._settings.signal_ttl_days))
        logger.info("signals recorded", extra={"signals": [s.to_dict() for s in signals]})
        done = (*self._verdicts.decide(signals), *self._drain_warned(signals), *self._tell_drills(signals))
        return {
            "signals": [s.to_dict() for s in signals],
            "reactions": [{"action_id": d.action_id, "outcome": d.outcome.value} for d in done],
        }

    def translate(self, event: dict[str, Any]) -> Translation:
        """Translate with what the domain cannot know (the followed load balancers), placing what it asks."""
        translation = translate(
            event,
            owned_alarm_prefix=self._settings.owned_alarm_prefix,
            followed=self._followed_resources() if event.get("source") == Source.ZONAL_SHIFT else frozenset(),
            drills=self._settings.drills,
        )
        if isinstance(translation, Unplaced):
            return translation.place(self.place(translation.resources))
        return translation

    def place(self, resources: Iterable[str]) -> dict[str, str]:
        """The zone of each instance or volume Ferry can place: the probe's placements first, then one EC2
        describe for the instances and one for the volumes it has not seen.

        If EC2 cannot answer (the failing zone's API may be down too), what is known is returned: the
        translation then falls back on the event's description, or is skipped as not zonal.
        """
        wanted = set(resources)
        volumes = {r for r in wanted if volume_id_in(r)}
        instances = wanted - volumes
        zones = {i: p.zone for i, p in self._placements.lookup(instances).items()} if instances else {}
        if volumes:
            zones |= {v: p.zone for v, p in self._placements.lookup_volumes(volumes).items()}
        try:
            if missing := instances - zones.keys():
                zones |= {i: loc.zone for i, loc in self._directory.locate(missing).items()}
            if missing := volumes - zones.keys():
                zones |= self._directory.locate_volumes(missing)
        except FerryError as error:
            logger.warning(
                "resources not placed", extra={"resources": sorted(wanted - zones.keys()), "error": str(error)}
            )
        return zones

    def resolve(self, signals: tuple[Signal, ...]) -> tuple[Signal, ...]:
        """Fill in what the event left out: zone and cluster of an instance, zone name of a zone id.

        Placements the probe remembered come first; EC2 is asked only about the rest, and if EC2 cannot
        answer (the failing zone's API may be down too) the signal is recorded without a zone rather than
        failing the record: other witnesses still speak for that zone. The evidence says where a zone found
        here came from (`zoneFrom`: placement or ec2).
        """
        wanted = {s.instance for s in signals if s.instance and (s.zone is None or s.cluster is None)}
        where: dict[str, tuple[str, str | None, str]] = {}
        if wanted:
            where = {i: (p.zone, p.cluster, "placement") for i, p in self._placements.lookup(wanted).items()}
        if missing := wanted - where.keys():
            try:
                where |= {i: (loc.zone, loc.cluster, "ec2") for i, loc in self._directory.locate(missing).items()}
            except FerryError as error:
                logger.warning("instances not placed", extra={"instances": sorted(missing), "error": str(error)})
        resolved = []
        for signal in signals:
            zone, cluster, found_by = where.get(signal.instance or "", (None, None, None))
            evidence = dict(signal.evidence)
            if signal.zone is None and zone is not None and found_by is not None:
                evidence.setdefault(EVIDENCE_ZONE_FROM, found_by)
            zone = signal.zone or zone
            if zone is None and signal.zone_id is not None:
                # The account's own mapping (EC2 DescribeAvailabilityZones, fetched once per container).
                zone = self._directory.zone_name(signal.zone_id)
            resolved.append(
                dataclasses.replace(signal, zone=zone, cluster=signal.cluster or cluster, evidence=evidence)
            )
        return tuple(resolved)

    def _drain_warned(self, signals: tuple[Signal, ...]) -> list[Done]:
        """DrainNode for each node warning about an instance of a registered cluster (its node name from the
        probe's placements; else the run finds the node by its instance). A start that fails fails the record,
        and SQS's retry names the same run."""
        warned = [s for s in signals if s.kind in NODE_WARNINGS and s.instance and s.cluster]
        if not warned:
            return []
        from ferry.domain.reactions import drain_request

        placed = self._placements.lookup({s.instance for s in warned if s.instance})
        done = []
        for signal in warned:
            placement = placed.get(signal.instance or "")
            node = placement.node if placement and placement.cluster == signal.cluster else None
            request = drain_request(signal, node, drain_on_rebalance=self._settings.drain_on_rebalance)
            if request is not None:
                done.append(self._verdicts.drain(request, why=str(request.input["reason"])))
        return done

    def _tell_drills(self, signals: tuple[Signal, ...]) -> list[Done]:
        """Operators hear of every drill (ferry.domain.reactions.drill_notice), once per event; a send that
        fails fails the record, and SQS's retry tells them."""
        drills = [s for s in signals if s.is_drill]
        if not drills:
            return []
        from ferry.domain.reactions import drill_notice

        return [self._verdicts.tell(notice) for notice in filter(None, map(drill_notice, drills))]

    def _mark_stale(self, signals: tuple[Signal, ...]) -> tuple[Signal, ...]:
        now, window = self._clock(), self._settings.reactions.window
        return tuple(
            dataclasses.replace(signal, evidence={**signal.evidence, "stale": f"older than the {window} window"})
            if stale_on_arrival(signal, now, window)
            else signal
            for signal in signals
        )

    def _followed_resources(self) -> frozenset[str]:
        """The load balancers of the registered clusters, read at most once a minute."""
        if self._registry is None:
            return frozenset()
        now = self._clock()
        if self._followed is None or now - self._followed[1] > FOLLOWED_TTL:
            followed = frozenset(arn for cluster in self._registry.clusters() for arn in cluster.load_balancers)
            self._followed = (followed, now)
        return self._followed[0]

    def _reject(self, record: SQSRecord, error: EventParseError) -> None:
        self._counts["EventsRejected"][error.field] += 1
        logger.error(
            "malformed event rejected",
            extra={"message_id": record.message_id, "field": error.field, "problem": error.problem},
        )
        try:
            self._log.record_rejection(
                record.message_id,
                str(error),
                record.body or "",
                now=self._clock(),
                ttl=timedelta(days=self._settings.rejected_ttl_days),
            )
        except FerryError as write_error:
            # The message still reaches the DLQ intact; the log line above carries the reason.
            logger.warning("could not record the rejection", extra={"error": str(write_error)})
