"""AWS Health events: the authoritative word that a zone is impaired, recovered, or about to be maintained.

Ferry acts only on the services a zone failure shows up in (EC2, EBS, Elastic Load Balancing) and only on
issues it can place in a zone: an open issue becomes HEALTH_ISSUE per zone, its end HEALTH_RESOLVED, and a
scheduled change (instance retirement, maintenance) HEALTH_SCHEDULED_CHANGE per affected instance.

Classify first, require later: the service and the category decide whether Ferry reads on; an account
notification, an investigation or another service's event is a skip whatever fields it lacks (AWS sends
some without `statusCode`). Only the fields the chosen meaning needs are then required.

Where the zone is. The EventBridge schema (docs.aws.amazon.com/health/latest/ug/
aws-health-events-eventbridge-schema.html) documents no zone field: AWS writes the zone in the description
("... in a single Availability Zone (use1-az4) in the US-EAST-1 Region") and lists the affected instances or
volumes in `affectedEntities` (ARNs, sometimes, in `resources`). In this order, the first that answers wins,
and the signal's evidence says which (`zoneFrom`):

1. `availabilityZone` (the Health API's Event field; AWS may add it to events some day);
2. zone names or ids given as affected entities;
3. the zones of the affected instances and volumes, which only the ingest service can look up: the
   translation comes back `Unplaced` and is finished once their zones are known;
4. zone names or ids written as whole words in the latest description.

Resources spread over several zones with no zone named are regional, not zonal: a skip with that reason.
A resolution, though, is never skipped for want of a zone (its instances may be gone, its text may name
none): it comes as one zone-less HEALTH_RESOLVED (`zoneFrom: eventArn`), and the detector closes the issue
of that event ARN in whichever zones it is open.

When the issue is over: `statusCode: closed`, a latest description that says so as AWS writes it
("[RESOLVED]" anywhere, or "Operating normally" as the current severity), or an `endTime` no later than the
event's own time. A description that says so wins over a status still `open`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from ferry.domain.errors import EventParseError
from ferry.domain.signals import EVIDENCE_DEADLINE, SignalKind, Skip, SkipReason, Source, Translation
from ferry.domain.translators.envelopes import Envelope, Subject, Unplaced, emit
from ferry.domain.translators.fields import (
    get_optional_event_time,
    get_optional_list,
    get_optional_str,
    get_str,
    join_path,
    require_mapping,
    truncate,
)
from ferry.domain.translators.zones import ZoneRef, classify_zone, instance_id_in, resource_id_in, zones_in_text

DETAIL_TYPE = "AWS Health Event"
DESCRIPTION_LANGUAGE = "en_US"

# "[RESOLVED] Between 8:52 AM and ..." and "Current severity level: Operating normally": AWS's own words.
# Patterns, not compiled objects: only Health events with a description use them, and `re` compiles each once
# on first use instead of at every cold start of ingest.
_RESOLVED = r"(?i)\[\s*resolved\s*\]"
_OPERATING_NORMALLY = r"(?i)current\s+severity(?:\s+level)?\s*:\s*operating\s+normally"


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


class ZoneFrom(StrEnum):
    """Where the zone of a Health signal was found (the evidence's `zoneFrom`)."""

    AVAILABILITY_ZONE = "availabilityZone"
    AFFECTED_ENTITIES = "affectedEntities"
    AFFECTED_RESOURCES = "affectedResources"
    DESCRIPTION = "description"
    EVENT_ARN = "eventArn"  # a resolution placed nowhere: it closes its event's issue wherever it is open


class Ended(StrEnum):
    """What says an issue is over (the evidence's `resolvedBy`)."""

    STATUS = "statusCode"
    DESCRIPTION = "description"
    END_TIME = "endTime"


EVIDENCE_ZONE_FROM = "zoneFrom"


class _Issue(NamedTuple):
    """What a Health issue says, read before its zones are known. (A private record: a NamedTuple costs the
    cold start a quarter of a frozen dataclass, and nothing compares, hashes or prints it.)"""

    envelope: Envelope
    kind: SignalKind
    evidence: Mapping[str, str | None]
    region: str
    type_code: str
    described_zones: tuple[ZoneRef, ...]


def translate_health_event(envelope: Envelope) -> Translation | Unplaced:
    detail = envelope.detail
    service = get_str(detail, "service", "detail")
    category = get_str(detail, "eventTypeCategory", "detail")
    if service not in HealthService:
        return Skip(SkipReason.NOT_RELEVANT_SERVICE, f"AWS Health event for {service}")
    if category == EventCategory.ISSUE:
        return _translate_issue(envelope, service)
    if category == EventCategory.SCHEDULED_CHANGE:
        return _translate_scheduled_change(envelope, service)
    return Skip(SkipReason.IGNORED_STATE, f"AWS Health {service} event of category {category}")


# -------------------------------------------------------------------------------------------------- issues


def _translate_issue(envelope: Envelope, service: str) -> Translation | Unplaced:
    detail = envelope.detail
    type_code = get_str(detail, "eventTypeCode", "detail")
    status = get_optional_str(detail, "statusCode", "detail")
    description = _latest_description(detail)
    ended = _ended(status, description, get_optional_event_time(detail, "endTime", "detail"), envelope.time)
    if ended is None:
        if status is None:
            raise EventParseError("detail.statusCode", "missing, and nothing else says whether the issue is over")
        if status != EventStatus.OPEN:
            return Skip(SkipReason.IGNORED_STATE, f"AWS Health issue {type_code} with status {status}")
    evidence = {
        **_evidence(detail, service, type_code, status),
        "resolvedBy": ended.value if ended else None,
        "description": truncate(description) if description else None,
    }
    issue = _Issue(
        envelope=envelope,
        kind=SignalKind.HEALTH_RESOLVED if ended else SignalKind.HEALTH_ISSUE,
        evidence=evidence,
        region=get_optional_str(detail, "eventRegion", "detail") or envelope.region,
        type_code=type_code,
        described_zones=zones_in_text(description) if description else (),
    )
    entities = _entity_values(detail)
    named = _named_zone(detail)
    if named is not None:
        return _emit(issue, (named,), ZoneFrom.AVAILABILITY_ZONE)
    if entity_zones := _entity_zones(entities):
        return _emit(issue, entity_zones, ZoneFrom.AFFECTED_ENTITIES)
    resources = tuple(dict.fromkeys(r for r in map(resource_id_in, (*entities, *envelope.resources)) if r))
    if resources:
        return Unplaced(resources, lambda zones: _place_issue(issue, resources, zones))
    return _from_description(issue, "names no zone and no instance or volume")


def _place_issue(issue: _Issue, resources: Sequence[str], zones: Mapping[str, str]) -> Translation:
    placed = tuple(dict.fromkeys(zones[r] for r in resources if zones.get(r)))
    if len(placed) == 1:
        return _emit(issue, (ZoneRef(name=placed[0]),), ZoneFrom.AFFECTED_RESOURCES)
    if len(placed) > 1:
        if issue.described_zones:
            return _emit(issue, issue.described_zones, ZoneFrom.DESCRIPTION)
        if issue.kind is SignalKind.HEALTH_RESOLVED:
            return _emit(issue, (ZoneRef(),), ZoneFrom.EVENT_ARN)
        return Skip(
            SkipReason.REGIONAL,
            f"AWS Health issue {issue.type_code}: its resources span {len(placed)} zones "
            f"({', '.join(sorted(placed))}) and it names none",
        )
    return _from_description(issue, f"names no zone and none of its {len(resources)} resources could be placed")


def _from_description(issue: _Issue, why: str) -> Translation:
    if issue.described_zones:
        return _emit(issue, issue.described_zones, ZoneFrom.DESCRIPTION)
    if issue.kind is SignalKind.HEALTH_RESOLVED:
        return _emit(issue, (ZoneRef(),), ZoneFrom.EVENT_ARN)
    return Skip(SkipReason.NOT_ZONAL, f"AWS Health issue {issue.type_code} {why}")


def _emit(issue: _Issue, zones: Sequence[ZoneRef], source: ZoneFrom) -> Translation:
    return emit(
        issue.envelope,
        kind=issue.kind,
        source=Source.AWS_HEALTH,
        evidence={**issue.evidence, EVIDENCE_ZONE_FROM: source.value},
        subjects=[Subject(zone=zone.name, zone_id=zone.id) for zone in zones],
        region=issue.region,
    )


def _ended(status: str | None, description: str | None, end: datetime | None, sent: datetime) -> Ended | None:
    if status == EventStatus.CLOSED:
        return Ended.STATUS
    if description and (re.search(_RESOLVED, description) or re.search(_OPERATING_NORMALLY, description)):
        return Ended.DESCRIPTION
    if end is not None and end <= sent:
        return Ended.END_TIME
    return None


# --------------------------------------------------------------------------------------- scheduled changes


def _translate_scheduled_change(envelope: Envelope, service: str) -> Translation:
    """One signal per affected instance (in its zone when the event names exactly one), else per zone."""
    detail = envelope.detail
    type_code = get_str(detail, "eventTypeCode", "detail")
    status = get_optional_str(detail, "statusCode", "detail")
    if status == EventStatus.CLOSED:
        return Skip(SkipReason.IGNORED_STATE, f"AWS Health scheduled change {type_code} is closed")
    entities = _entity_values(detail)
    named = _named_zone(detail)
    zones = (named,) if named is not None else _entity_zones(entities)
    instances = list(dict.fromkeys(i for i in map(instance_id_in, entities) if i is not None))
    if instances:
        only = zones[0] if len(zones) == 1 else ZoneRef()
        subjects = [Subject(zone=only.name, zone_id=only.id, instance=instance) for instance in instances]
    else:
        subjects = [Subject(zone=zone.name, zone_id=zone.id) for zone in zones]
    if not subjects:
        return Skip(SkipReason.NOT_ZONAL, f"AWS Health scheduled change {type_code} names no instance or zone")
    # The change starts at `startTime` (a retirement: "will be stopped or terminated after" it).
    starts = get_optional_event_time(detail, "startTime", "detail")
    return emit(
        envelope,
        kind=SignalKind.HEALTH_SCHEDULED_CHANGE,
        source=Source.AWS_HEALTH,
        evidence={
            **_evidence(detail, service, type_code, status),
            EVIDENCE_DEADLINE: starts.isoformat() if starts else None,
        },
        subjects=subjects,
        region=get_optional_str(detail, "eventRegion", "detail") or envelope.region,
    )


# ------------------------------------------------------------------------------------------------- fields


def _evidence(detail: Mapping[str, Any], service: str, type_code: str, status: str | None) -> dict[str, str | None]:
    return {
        "service": service,
        "eventTypeCode": type_code,
        "eventTypeCategory": get_str(detail, "eventTypeCategory", "detail"),
        "statusCode": status,
        "eventArn": get_str(detail, "eventArn", "detail"),
        "eventScopeCode": get_optional_str(detail, "eventScopeCode", "detail"),
        "startTime": get_optional_str(detail, "startTime", "detail"),
        "endTime": get_optional_str(detail, "endTime", "detail"),
    }


def _latest_description(detail: Mapping[str, Any]) -> str | None:
    """The English latest description (or the first one given): where AWS writes the zone and the status."""
    path = "detail.eventDescription"
    texts: dict[str, str] = {}
    for index, raw in enumerate(get_optional_list(detail, "eventDescription", "detail")):
        entry = require_mapping(raw, join_path(path, index))
        text = get_optional_str(entry, "latestDescription", join_path(path, index))
        if text is not None:
            texts.setdefault(get_optional_str(entry, "language", join_path(path, index)) or "", text)
    return texts.get(DESCRIPTION_LANGUAGE) or next(iter(texts.values()), None)


def _entity_values(detail: Mapping[str, Any]) -> tuple[str, ...]:
    path = "detail.affectedEntities"
    values = []
    for index, raw in enumerate(get_optional_list(detail, "affectedEntities", "detail")):
        entity = require_mapping(raw, join_path(path, index))
        values.append(get_str(entity, "entityValue", join_path(path, index)))
    return tuple(values)


def _named_zone(detail: Mapping[str, Any]) -> ZoneRef | None:
    named = get_optional_str(detail, "availabilityZone", "detail")
    if named is None:
        return None
    zone = classify_zone(named)
    if zone is None:
        raise EventParseError("detail.availabilityZone", f"not an Availability Zone name or id: {named!r}")
    return zone


def _entity_zones(entities: Sequence[str]) -> tuple[ZoneRef, ...]:
    """Zone-shaped entities, each once. A name and an id are not matched here (the mapping is per account)."""
    return tuple(dict.fromkeys(zone for zone in map(classify_zone, entities) if zone is not None))
