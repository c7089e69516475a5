"""The EventBridge envelope every AWS event shares, and the one way a translator turns it into Signals.

Every source puts its own payload in `detail` but wraps it in the same envelope (id, source, detail-type,
time, region). Reading the envelope once, here, gives every translator the same checks; building Signals
through `emit` gives every signal the same identity rules: `source_id` is the EventBridge event id, with a
suffix naming the subject only when one event yields several signals, so a replayed event yields equal
signals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ferry.domain.errors import EventParseError
from ferry.domain.signals import Signal, SignalKind, Source
from ferry.domain.translators.fields import get_mapping, get_optional_str, get_str, get_time, require_str, type_name


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


def parse_envelope(event: object) -> Envelope:
    """Check the envelope and return it; raise EventParseError naming the first bad field."""
    if not isinstance(event, Mapping):
        raise EventParseError("event", f"expected an object, got {type_name(event)}")
    return Envelope(
        id=get_str(event, "id", ""),
        source=get_str(event, "source", ""),
        detail_type=get_str(event, "detail-type", ""),
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
