"""A person's word on a zone (pure): SetZone's request, checked against what Ferry knows, as a Signal.

Ferry's verdicts rest on authorities (AWS Health, ARC) and witnesses; sometimes a person knows better. An AWS
Health "closed" event that never came keeps a zone IMPAIRED forever, and a zone taken out for maintenance
must not fail back before the work is done. `ferry-SetZone {zone, state, reason, until?, requestedBy}` says
so, and the detector takes it as an authority with the person's name on it (`ferry.domain.detection.zones`):

- `healthy`: every authority open in the zone is closed in the person's name; the zone goes RECOVERING and
  fails back after the normal hold-down (evidence still counts: a zone whose nodes are down relapses).
- `impaired`: the zone is held IMPAIRED (evacuated, in act mode) until the person marks it healthy or until
  `until`; no failback before.

What the schema cannot check is checked here against the registry and the clock: the zone must be one a
registered cluster uses, and `until` must be in the future (and only goes with `impaired`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ferry.domain.detection.zones import EVIDENCE_UNTIL
from ferry.domain.errors import InputError
from ferry.domain.serialization import CamelJsonModel, wire
from ferry.domain.signals import Signal, SignalKind, Source

EVIDENCE_REQUESTED_BY = "requestedBy"
EVIDENCE_REASON = "reason"
EVIDENCE_RUN = "runId"


class ZoneSetting(StrEnum):
    HEALTHY = "healthy"
    IMPAIRED = "impaired"


_KINDS = {ZoneSetting.HEALTHY: SignalKind.ZONE_MARKED_HEALTHY, ZoneSetting.IMPAIRED: SignalKind.ZONE_HELD_IMPAIRED}


@dataclass(frozen=True, slots=True)
class SetZoneRequest(CamelJsonModel):
    """SetZone's input (schema-checked: `ferry.domain.runbooks.INPUT_SCHEMAS`) plus the run's id."""

    zone: str
    state: ZoneSetting
    reason: str
    requested_by: str
    run_id: str
    until: datetime | None = field(default=None, metadata=wire(omit_empty=True))


def override_signal(request: SetZoneRequest, *, now: datetime, zones: tuple[str, ...]) -> Signal:
    """The request as the detector's Signal, observed now; InputError naming each field it cannot accept."""
    problems = []
    if request.zone not in zones:
        known = ", ".join(zones) or "none yet"
        problems.append(f"zone: not a zone of any registered cluster (known: {known}), got {request.zone!r}")
    if request.until is not None and request.state is ZoneSetting.HEALTHY:
        problems.append("until: only a zone held impaired has an end; a zone marked healthy recovers at once")
    elif request.until is not None and request.until <= now:
        problems.append(f"until: must be in the future (now {now.isoformat()}), got {request.until.isoformat()}")
    if problems:
        raise InputError(problems)
    evidence = {
        EVIDENCE_REQUESTED_BY: request.requested_by,
        EVIDENCE_REASON: request.reason,
        EVIDENCE_RUN: request.run_id,
        **({EVIDENCE_UNTIL: request.until.isoformat()} if request.until else {}),
    }
    return Signal(
        kind=_KINDS[request.state],
        source=Source.OPERATOR,
        source_id=f"{request.requested_by}/{request.run_id}",  # the person's name on the authority
        observed_at=now,
        region=request.zone[:-1],  # a zone's name is its region's and a letter
        zone=request.zone,
        evidence=evidence,
    )


@dataclass(frozen=True, slots=True)
class SetZoneReport(CamelJsonModel):
    """What SetZone did: the zone's status before and after the person's word, and the transitions it made
    (each one audited, notified and, in act mode, handed off like any other: a zone held impaired is evacuated,
    a zone marked healthy fails back after its hold-down)."""

    run_id: str
    zone: str
    state: ZoneSetting
    requested_by: str
    reason: str
    status_before: str
    status_after: str
    transitions: tuple[str, ...]
    summary: str
    until: datetime | None = field(default=None, metadata=wire(omit_empty=True))


def set_zone_report(
    request: SetZoneRequest, before: str, after: str, transitions: tuple[tuple[str, str, str], ...]
) -> SetZoneReport:
    """`transitions`: (from, to, reason) of each transition the person's word made in this zone."""
    moves = tuple(f"{start} -> {end} ({why})" for start, end, why in transitions)
    held = f" until {request.until.isoformat()}" if request.until else ""
    what = f"{request.zone} set {request.state.value}{held} by {request.requested_by} ({request.reason})"
    effect = "; ".join(moves) if moves else f"no change of status ({after})"
    return SetZoneReport(
        run_id=request.run_id,
        zone=request.zone,
        state=request.state,
        requested_by=request.requested_by,
        reason=request.reason,
        status_before=before,
        status_after=after,
        transitions=moves,
        summary=f"{what}: {effect}",
        until=request.until,
    )
