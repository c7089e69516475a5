"""AWS Health events: the authoritative word that a zone is impaired, recovered, or about to be maintained.

Ferry acts only on the services a zone failure shows up in (EC2, EBS, Elastic Load Balancing) and only on
events that name a zone: an open zonal issue becomes HEALTH_ISSUE per zone, its closing HEALTH_RESOLVED, and
a scheduled change (instance retirement, maintenance) HEALTH_SCHEDULED_CHANGE per affected instance.

Where the zone is: the EventBridge schema (docs.aws.amazon.com/health/latest/ug/
aws-health-events-eventbridge-schema.html) documents no zone field; the Health API's Event documents
`availabilityZone` (a zone name). Ferry reads that field when present, else any affected entity whose value
is a zone name or zone id, and treats an event with neither as not zonal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ferry.domain.errors import EventParseError
from ferry.domain.signals import SignalKind, Skip, SkipReason, Source, Translation
from ferry.domain.translators.envelopes import Envelope, Subject, emit
from ferry.domain.translators.fields import (
    get_optional_list,
    get_optional_str,
    get_str,
    join_path,
    require_mapping,
)
from ferry.domain.translators.zones import ZoneRef, classify_zone, instance_id_in

DETAIL_TYPE = "AWS Health Event"


class HealthService(StrEnum):
    """The services whose zonal trouble is a zone's trouble for Kubernetes nodes and their volumes."""

    EC2 = "EC2"
    EBS = "EBS"
    ELASTIC_LOAD_BALANCING = "ELASTICLOADBALANCING"


class EventCategory(StrEnum):
    ISSUE = "issue"
    SCHEDULED_CHANGE = "scheduledChange"


class EventStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    UPCOMING = "upcoming"


_ISSUE_KINDS: dict[str, SignalKind] = {
    EventStatus.OPEN: SignalKind.HEALTH_ISSUE,
    EventStatus.CLOSED: SignalKind.HEALTH_RESOLVED,
}


@dataclass(frozen=True, slots=True)
class _Codes:
    """The fields that decide what a Health event means."""

    service: str
    category: str
    status: str
    type_code: str


def translate_health_event(envelope: Envelope) -> Translation:
    detail = envelope.detail
    codes = _Codes(
        service=get_str(detail, "service", "detail"),
        category=get_str(detail, "eventTypeCategory", "detail"),
        status=get_str(detail, "statusCode", "detail"),
        type_code=get_str(detail, "eventTypeCode", "detail"),
    )
    # Read everything before deciding, so that a malformed event never passes as a skip.
    evidence = _evidence(codes, detail)
    entities = _entity_values(detail)
    zones = _zones(detail, entities)
    region = get_optional_str(detail, "eventRegion", "detail") or envelope.region

    if codes.service not in HealthService:
        return Skip(SkipReason.NOT_RELEVANT_SERVICE, f"AWS Health event for {codes.service}")
    if codes.category == EventCategory.ISSUE:
        decided = _decide_issue(codes, zones)
    elif codes.category == EventCategory.SCHEDULED_CHANGE:
        decided = _decide_scheduled_change(codes, entities, zones)
    else:
        return Skip(SkipReason.IGNORED_STATE, f"AWS Health event of category {codes.category}")
    if isinstance(decided, Skip):
        return decided
    kind, subjects = decided
    return emit(envelope, kind=kind, source=Source.AWS_HEALTH, evidence=evidence, subjects=subjects, region=region)


def _decide_issue(codes: _Codes, zones: Sequence[ZoneRef]) -> tuple[SignalKind, list[Subject]] | Skip:
    kind = _ISSUE_KINDS.get(codes.status)
    if kind is None:
        return Skip(SkipReason.IGNORED_STATE, f"AWS Health issue with status {codes.status}")
    if not zones:
        return Skip(SkipReason.NOT_ZONAL, f"AWS Health issue {codes.type_code} names no zone")
    return kind, [Subject(zone=zone.name, zone_id=zone.id) for zone in zones]


def _decide_scheduled_change(
    codes: _Codes, entities: Sequence[str], zones: Sequence[ZoneRef]
) -> tuple[SignalKind, list[Subject]] | Skip:
    """One subject per affected instance (in its zone when the event names exactly one), else per zone."""
    if codes.status == EventStatus.CLOSED:
        return Skip(SkipReason.IGNORED_STATE, f"AWS Health scheduled change {codes.type_code} is closed")
    instances = [instance for instance in map(instance_id_in, entities) if instance is not None]
    if instances:
        only = zones[0] if len(zones) == 1 else ZoneRef()
        subjects = [Subject(zone=only.name, zone_id=only.id, instance=instance) for instance in instances]
    else:
        subjects = [Subject(zone=zone.name, zone_id=zone.id) for zone in zones]
    if not subjects:
        return Skip(SkipReason.NOT_ZONAL, f"AWS Health scheduled change {codes.type_code} names no instance or zone")
    return SignalKind.HEALTH_SCHEDULED_CHANGE, subjects


def _evidence(codes: _Codes, detail: Mapping[str, Any]) -> dict[str, str | None]:
    return {
        "service": codes.service,
        "eventTypeCode": codes.type_code,
        "eventTypeCategory": codes.category,
        "statusCode": codes.status,
        "eventArn": get_str(detail, "eventArn", "detail"),
        "eventScopeCode": get_optional_str(detail, "eventScopeCode", "detail"),
        "startTime": get_optional_str(detail, "startTime", "detail"),
    }


def _entity_values(detail: Mapping[str, Any]) -> tuple[str, ...]:
    path = "detail.affectedEntities"
    values = []
    for index, raw in enumerate(get_optional_list(detail, "affectedEntities", "detail")):
        entity = require_mapping(raw, join_path(path, index))
        values.append(get_str(entity, "entityValue", join_path(path, index)))
    return tuple(values)


def _zones(detail: Mapping[str, Any], entities: Sequence[str]) -> tuple[ZoneRef, ...]:
    """The zones an event names: its `availabilityZone` if it has one, else its zone-shaped entities.

    Never both: a zone name and a zone id cannot be matched here (the mapping differs per account), and one
    zone counted twice would be two signals for one fact.
    """
    named = get_optional_str(detail, "availabilityZone", "detail")
    if named is None:
        return tuple(dict.fromkeys(zone for zone in map(classify_zone, entities) if zone is not None))
    zone = classify_zone(named)
    if zone is None:
        raise EventParseError("detail.availabilityZone", f"not an Availability Zone name or id: {named!r}")
    return (zone,)
