"""ARC zonal shift and zonal autoshift events: AWS or a person moving traffic away from a zone.

Who shifted decides what the shift says about the zone:

- an autoshift is AWS's own verdict that the zone is impaired (with autoshift observer notification on,
  Ferry hears of every one in the region, not only those of its own resources): an authority,
  ZONAL_SHIFT_STARTED / ZONAL_SHIFT_ENDED;
- a manual shift of a resource Ferry follows (a cluster's load balancer, listed in its registration) is a
  person's verdict on Ferry's own traffic: an authority too;
- any other manual shift is one person moving one resource of theirs, for reasons of their own: recorded
  (UNFOLLOWED_SHIFT_*), it decides nothing about the zone;
- a practice run or a FIS experiment's autoshift is a drill: recorded (DRILL_*) and never an evacuation,
  unless the operator set `drills=act` to rehearse Ferry's own response, when it counts as an authority.

ARC names the zone by id (`detail.metadata.awayFrom` = `use1-az2`); the ingest service maps it to a name.

Format: docs.aws.amazon.com/r53recovery/latest/dg/eventbridge-zonal-autoshift.html and
docs.aws.amazon.com/eventbridge/latest/ref/events-ref-arc-zonal-shift.html
"""

from __future__ import annotations

from enum import StrEnum

from ferry.domain.errors import EventParseError
from ferry.domain.signals import EVIDENCE_DRILL, SignalKind, Source, Translation
from ferry.domain.translators.envelopes import Envelope, Subject, emit
from ferry.domain.translators.fields import get_mapping, get_optional_str, get_str, truncate
from ferry.domain.translators.zones import classify_zone


class ShiftTrigger(StrEnum):
    """Who moved the traffic."""

    AUTOSHIFT = "autoshift"
    FIS_EXPERIMENT = "fis-experiment"
    MANUAL = "manual"
    PRACTICE_RUN = "practice-run"


class Drills(StrEnum):
    """The `drills` setting: what a practice run or a FIS experiment's autoshift does."""

    RECORD = "record"  # recorded and counted, never an evacuation (the default)
    ACT = "act"  # handled as the real thing: rehearses Ferry's own response


_DRILLS = frozenset({ShiftTrigger.FIS_EXPERIMENT, ShiftTrigger.PRACTICE_RUN})

# detail-type -> (who shifted, whether the shift is on: started, in progress or updated)
DETAIL_TYPES: dict[str, tuple[ShiftTrigger, bool]] = {
    "Autoshift In Progress": (ShiftTrigger.AUTOSHIFT, True),
    "Autoshift Completed": (ShiftTrigger.AUTOSHIFT, False),
    "FIS Experiment Autoshift In Progress": (ShiftTrigger.FIS_EXPERIMENT, True),
    "FIS Experiment Autoshift Completed": (ShiftTrigger.FIS_EXPERIMENT, False),
    "FIS Experiment Autoshift Canceled": (ShiftTrigger.FIS_EXPERIMENT, False),
    "Manual Shift Started": (ShiftTrigger.MANUAL, True),
    # An update (new expiry or comment) restates that the shift is on; the detector treats it idempotently.
    "Manual Shift Updated": (ShiftTrigger.MANUAL, True),
    "Manual Shift Canceled": (ShiftTrigger.MANUAL, False),
    "Practice Run Started": (ShiftTrigger.PRACTICE_RUN, True),
    "Practice Run Succeeded": (ShiftTrigger.PRACTICE_RUN, False),
    "Practice Run Interrupted": (ShiftTrigger.PRACTICE_RUN, False),
    "Practice Run Failed": (ShiftTrigger.PRACTICE_RUN, False),
}

_KINDS = {
    "authority": (SignalKind.ZONAL_SHIFT_STARTED, SignalKind.ZONAL_SHIFT_ENDED),
    "unfollowed": (SignalKind.UNFOLLOWED_SHIFT_STARTED, SignalKind.UNFOLLOWED_SHIFT_ENDED),
    "drill": (SignalKind.DRILL_STARTED, SignalKind.DRILL_ENDED),
}


def translate_zonal_shift(
    envelope: Envelope, *, followed: frozenset[str] = frozenset(), drills: Drills = Drills.RECORD
) -> Translation:
    """`followed` are the resource ARNs (clusters' load balancers) whose manual shifts are authorities."""
    trigger, on = DETAIL_TYPES[envelope.detail_type]
    metadata = get_mapping(envelope.detail, "metadata", "detail")
    away_from = get_str(metadata, "awayFrom", "detail.metadata")
    zone = classify_zone(away_from)
    if zone is None:
        raise EventParseError("detail.metadata.awayFrom", f"not an Availability Zone id: {away_from!r}")
    notes = get_optional_str(metadata, "notes", "detail.metadata")
    following = [resource for resource in envelope.resources if resource in followed]
    if trigger in _DRILLS:
        meaning = "authority" if drills is Drills.ACT else "drill"
    elif trigger is ShiftTrigger.MANUAL and not following:
        meaning = "unfollowed"
    else:
        meaning = "authority"
    started, ended = _KINDS[meaning]
    kind = started if on else ended
    evidence = {
        "trigger": trigger.value,
        "awayFrom": away_from,
        "notes": truncate(notes) if notes else None,
        "resources": truncate(", ".join(envelope.resources)) if envelope.resources else None,
        "followed": truncate(", ".join(following)) if following else None,
        EVIDENCE_DRILL: "true" if trigger in _DRILLS else None,
    }
    subject = Subject(zone=zone.name, zone_id=zone.id)
    return emit(envelope, kind=kind, source=Source.ZONAL_SHIFT, evidence=evidence, subjects=[subject])
