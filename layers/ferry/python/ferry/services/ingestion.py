"""The ingest path: every AWS event Ferry receives becomes Signals, a counted skip, or a loud failure.

EventBridge delivers each event to one SQS queue; the `ingest` function gets batches of them. Per record:
parse the body (an EventBridge event), translate it (pure, `ferry.domain.translators`), resolve what the event
leaves out (an EC2 event names no zone, ARC names zone ids), and record the Signals. The work is
idempotent on the EventBridge event id (Powertools Idempotency), so SQS's at-least-once delivery never
records an event twice. Nothing is dropped silently:

- a well-formed event Ferry does not act on is a `Skip`: counted, acknowledged, never retried;
- a malformed one raises `EventParseError`: that record alone fails, the log line and a `REJECTED#` record
  name the field, SQS retries it and after maxReceiveCount moves it, intact, to the dead-letter queue;
- a transient failure (DynamoDB or EC2 throttling or down) fails the record so SQS retries it.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.adapters.aws import LazyClient, client
from ferry.adapters.ec2 import InstanceDirectory
from ferry.adapters.placements import Placements
from ferry.adapters.signal_log import SignalLog
from ferry.domain.errors import EventParseError, FerryError
from ferry.domain.signals import Signal, Skip
from ferry.domain.translators import translate
from ferry.observability import emit_counts, logger, metrics
from ferry.services.clocks import Clock
from ferry.services.settings import IngestSettings
from ferry.services.verdicts import Verdicts


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
    ) -> None:
        self._settings = settings
        self._log = log
        self._directory = directory
        self._placements = placements
        self._verdicts = verdicts
        self._clock = clock
        self._idempotency = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=24 * 3600)
        self._ingest_once = idempotent_function(
            data_keyword_argument="event", persistence_store=persistence, config=self._idempotency
        )(self._ingest)
        self._counts: dict[str, Counter[str]] = {}

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
        )

    def process_batch(
        self, event: Mapping[str, Any], context: LambdaContext, processor: BatchProcessor
    ) -> dict[str, Any]:
        """Process every record; the response lists only the failed ones (ReportBatchItemFailures)."""
        self._idempotency.register_lambda_context(context)
        metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=len(event.get("Records", [])))
        self._counts = {"SignalsTranslated": Counter(), "EventsSkipped": Counter(), "EventsRejected": Counter()}
        try:
            response = process_partial_response(
                event=dict(event), record_handler=self.handle_record, processor=processor, context=context
            )
            return dict(response)
        finally:
            emit_counts("SignalsTranslated", "kind", self._counts["SignalsTranslated"])
            emit_counts("EventsSkipped", "reason", self._counts["EventsSkipped"])
            emit_counts("EventsRejected", "field", self._counts["EventsRejected"])

    def handle_record(self, record: SQSRecord) -> dict[str, Any]:
        try:
            event = parse_body(record.body)
            logger.set_correlation_id(event["id"])
            logger.append_keys(source=event.get("source"), detail_type=event.get("detail-type"))
            outcome: dict[str, Any] = self._ingest_once(event=event)
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
        return outcome

    def _ingest(self, event: dict[str, Any]) -> dict[str, Any]:
        translation = translate(event, owned_alarm_prefix=self._settings.owned_alarm_prefix)
        if isinstance(translation, Skip):
            return {"skipped": translation.reason.value, "detail": translation.detail}
        signals = self.resolve(translation)
        self._log.record_signals(signals, ttl=timedelta(days=self._settings.signal_ttl_days))
        logger.info("signals recorded", extra={"signals": [s.to_dict() for s in signals]})
        done = self._verdicts.decide(signals)
        return {
            "signals": [s.to_dict() for s in signals],
            "reactions": [{"action_id": d.action_id, "outcome": d.outcome.value} for d in done],
        }

    def resolve(self, signals: tuple[Signal, ...]) -> tuple[Signal, ...]:
        """Fill in what the event left out: zone and cluster of an instance, zone name of a zone id.

        Placements the probe remembered come first; EC2 is asked only about the rest, and if EC2 cannot
        answer (the failing zone's API may be down too) the signal is recorded without a zone rather than
        failing the record: other witnesses still speak for that zone.
        """
        wanted = {s.instance for s in signals if s.instance and (s.zone is None or s.cluster is None)}
        where: dict[str, tuple[str, str | None]] = {}
        if wanted:
            where = {i: (p.zone, p.cluster) for i, p in self._placements.lookup(wanted).items()}
        if missing := wanted - where.keys():
            try:
                where |= {i: (loc.zone, loc.cluster) for i, loc in self._directory.locate(missing).items()}
            except FerryError as error:
                logger.warning("instances not placed", extra={"instances": sorted(missing), "error": str(error)})
        resolved = []
        for signal in signals:
            zone, cluster = where.get(signal.instance or "", (None, None))
            zone = signal.zone or zone
            if zone is None and signal.zone_id is not None:
                zone = self._directory.zone_name(signal.zone_id)
            resolved.append(dataclasses.replace(signal, zone=zone, cluster=signal.cluster or cluster))
        return tuple(resolved)

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
