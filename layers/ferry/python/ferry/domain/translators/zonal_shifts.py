"""ARC zonal shift and zonal autoshift events: AWS or a person moving traffic away from a zone.

An autoshift is AWS's own verdict that a zone is impaired (with autoshift observer notification on, Ferry
hears of every one in the region, not only those of its own resources); a manual shift is a person's
verdict; an FIS experiment autoshift is a rehearsal that should be handled as the real thing. All are
authoritative: started/updated becomes ZONAL_SHIFT_STARTED, completed/canceled ZONAL_SHIFT_ENDED. Practice
runs shift one resource briefly to prove it can be shifted; they say nothing about the zone and are skipped.

ARC names the zone by id (`detail.metadata.awayFrom` = `use1-az2`); the ingest service maps it to a name.

Format: docs.aws.amazon.com/r53recovery/latest/dg/eventbridge-zonal-autoshift.html and
docs.aws.amazon.com/eventbridge/latest/ref/events-ref-arc-zonal-shift.html
"""

from __future__ import annotations

from enum import StrEnum

from ferry.domain.errors import EventParseError
from ferry.domain.signals import SignalKind, Skip, SkipReason, Source, Translation
from ferry.domain.translators.envelopes import Envelope, Subject, emit
from ferry.domain.translators.fields import get_mapping, get_optional_str, get_str, truncate
from ferry.domain.translators.zones import classify_zone


class ShiftTrigger(StrEnum):
    """Who moved the traffic."""

    AUTOSHIFT = "autoshift"
    FIS_EXPERIMENT = "fis-experiment"
    MANUAL = "manual"
    PRACTICE_RUN = "practice-run"


# detail-type -> (who shifted, what it means; None for events that say nothing about the zone)
DETAIL_TYPES: dict[str, tuple[ShiftTrigger, SignalKind | None]] = {
    "Autoshift In Progress": (ShiftTrigger.AUTOSHIFT, SignalKind.ZONAL_SHIFT_STARTED),
    "Autoshift Completed": (ShiftTrigger.AUTOSHIFT, SignalKind.ZONAL_SHIFT_ENDED),
    "FIS Experiment Autoshift In Progress": (ShiftTrigger.FIS_EXPERIMENT, SignalKind.ZONAL_SHIFT_STARTED),
    "FIS Experiment Autoshift Completed": (ShiftTrigger.FIS_EXPERIMENT, SignalKind.ZONAL_SHIFT_ENDED),
    "FIS Experiment Autoshift Canceled": (ShiftTrigger.FIS_EXPERIMENT, SignalKind.ZONAL_SHIFT_ENDED),
    "Manual Shift Started": (ShiftTrigger.MANUAL, SignalKind.ZONAL_SHIFT_STARTED),
    # An update (new expiry or comment) restates that the shift is on; the detector treats it idempotently.
    "Manual Shift Updated": (ShiftTrigger.MANUAL, SignalKind.ZONAL_SHIFT_STARTED),
    "Manual Shift Canceled": (ShiftTrigger.MANUAL, SignalKind.ZONAL_SHIFT_ENDED),
    "Practice Run Started": (ShiftTrigger.PRACTICE_RUN, None),
    "Practice Run Succeeded": (ShiftTrigger.PRACTICE_RUN, None),
    "Practice Run Interrupted": (ShiftTrigger.PRACTICE_RUN, None),
    "Practice Run Failed": (ShiftTrigger.PRACTICE_RUN, None),
}


def translate_zonal_shift(envelope: Envelope) -> Translation:
    trigger, kind = DETAIL_TYPES[envelope.detail_type]
    metadata = get_mapping(envelope.detail, "metadata", "detail")
    away_from = get_str(metadata, "awayFrom", "detail.metadata")
    zone = classify_zone(away_from)
    if zone is None:
        raise EventParseError("detail.metadata.awayFrom", f"not an Availability Zone id: {away_from!r}")
    notes = get_optional_str(metadata, "notes", "detail.metadata")
    if kind is None:
        return Skip(SkipReason.IGNORED_STATE, f"ARC {envelope.detail_type} away from {away_from}")
    evidence = {
        "trigger": trigger.value,
        "awayFrom": away_from,
        "notes": truncate(notes) if notes else None,
        "resources": truncate(", ".join(envelope.resources)) if envelope.resources else None,
    }
    subject = Subject(zone=zone.name, zone_id=zone.id)
    return emit(envelope, kind=kind, source=Source.ZONAL_SHIFT, evidence=evidence, subjects=[subject])
