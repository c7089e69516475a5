"""The EventBridge envelope every AWS event shares, and the one way a translator turns it into Signals.

Every source puts its own payload in `detail` but wraps it in the same envelope (id, source, detail-type,
time, region). Reading the envelope once, here, gives every translator the same checks; building Signals
through `emit` gives every signal the same identity rules: `source_id` is the EventBridge event id, with a
suffix naming the subject only when one event yields several signals, so a replayed event yields equal
signals.

Classify first, require later: `route_of` reads only what picks a translator (source and detail-type), so
an event of a source Ferry does not translate is a skip whatever else it lacks; the rest of the envelope is
checked only for events a translator will read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ferry.domain.errors import EventParseError
from ferry.domain.signals import Signal, SignalKind, Source, Translation
from ferry.domain.translators.fields import (
    get_mapping,
    get_optional_str,
    get_str,
    get_time,
    require_mapping,
    require_str,
    type_name,
)


@dataclass(frozen=True, slots=True)
class Envelope:
    """The checked envelope fields, plus the raw `detail` for the source's translator to read."""

    id: str
    source: str
    detail_type: str
    time: datetime
    region: str
    account: str | None
    resources: tuple[str, ...]
    detail: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Subject:
    """What one signal is about; an event about several zones or instances yields one signal per subject."""

    zone: str | None = None
    zone_id: str | None = None
    cluster: str | None = None
    instance: str | None = None

    @property
    def key(self) -> str:
        """The suffix that keeps sibling signals of one event distinct (and stable across replays)."""
        return self.instance or self.zone or self.zone_id or self.cluster or "-"


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A translation that can be finished only once Ferry knows the zones of some resources.

    An AWS Health event about instances or volumes names neither their zones nor, often, any zone at all:
    the translator hands back the resource ids and a pure function that finishes the translation from
    their zones (id -> zone name). The ingest service looks the zones up (Ferry's placements, then EC2) and
    calls `place`; ids it could not place are simply absent from the mapping.
    """

    resources: tuple[str, ...]
    finish: Callable[[Mapping[str, str]], Translation] = field(repr=False, compare=False)

    def place(self, zones: Mapping[str, str]) -> Translation:
        return self.finish(zones)


def route_of(event: object) -> tuple[str, str]:
    """The (source, detail-type) that picks a translator: all that must be read before classifying.

    The id is checked too: without it an event has no identity (idempotency, signal ids), known or not.
    """
    head = require_mapping(event, "event")
    get_str(head, "id", "")
    return get_str(head, "source", ""), get_str(head, "detail-type", "")


def parse_envelope(event: object) -> Envelope:
    """Check the envelope and return it; raise EventParseError naming the first bad field."""
    source, detail_type = route_of(event)
    event = require_mapping(event, "event")
    return Envelope(
        id=get_str(event, "id", ""),
        source=source,
        detail_type=detail_type,
        time=get_time(event, "time", ""),
        region=get_str(event, "region", ""),
        account=get_optional_str(event, "account", ""),
        resources=_resources(event),
        detail=get_mapping(event, "detail", ""),
    )


def emit(
    envelope: Envelope,
    *,
    kind: SignalKind,
    source: Source,
    evidence: Mapping[str, str | None],
    subjects: Sequence[Subject] = (Subject(),),
    region: str | None = None,
) -> tuple[Signal, ...]:
    """One Signal per subject, sharing the event's time, region and evidence.

    `region` overrides the envelope's region for sources that deliver events about another region
    (AWS Health names the impacted region in `detail.eventRegion`). Evidence entries that are None are
    dropped; the detail-type and account are always recorded.
    """
    unique = tuple(dict.fromkeys(subjects))  # one signal per distinct subject, in the event's order
    several = len(unique) > 1
    common = {"detail-type": envelope.detail_type, "account": envelope.account, **evidence}
    kept = {key: value for key, value in common.items() if value is not None}
    return tuple(
        Signal(
            kind=kind,
            source=source,
            source_id=f"{envelope.id}#{subject.key}" if several else envelope.id,
            observed_at=envelope.time,
            region=region or envelope.region,
            zone=subject.zone,
            zone_id=subject.zone_id,
            cluster=subject.cluster,
            instance=subject.instance,
            evidence=kept,
        )
        for subject in unique
    )


def _resources(event: Mapping[str, Any]) -> tuple[str, ...]:
    raw = event.get("resources")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise EventParseError("resources", f"expected an array, got {type_name(raw)}")
    return tuple(require_str(item, f"resources[{index}]") for index, item in enumerate(raw))
