"""A region's zones together, with static stability: Ferry never evacuates a region into nowhere (pure).

Per zone the verdict is `zones.detect_zone`'s. Across zones one rule overrides it: if a zone would newly
become IMPAIRED while `max_impaired_zones` zones are already evacuated (IMPAIRED or RECOVERING), or if every
zone of the region would then be evacuated, the zone is held SUSPECT instead, with a STATIC_STABILITY
transition that tells the caller to raise Ferry's own alarm and notify. When every zone looks broken at once,
the observer (Ferry's probes, its network, its alarms) is the likelier failure, and evacuating would help
no one. A held zone is granted IMPAIRED later if its case still stands once another zone has recovered.

"At once" is what the detector sees together: signals are decided in batches (a probe round reports every
zone; ingest hands over a whole SQS batch), so a region-wide blackout reported in one batch starts no
evacuation at all, while zones failing one after another are evacuated up to the limit.

The zones of the region are an input (`RegionState.new(region, zones)`): a zone that never reported is still
a zone, and it is what makes "every zone" mean the whole region. Signals for any other zone or region are
ignored. A zone-less AWS Health resolution is decided in each zone where the issue of its event ARN is open
(`zones.closes_open_issue`): the zone states themselves are the index of open issues by ARN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ferry.domain.detection.facts import IgnoreReason, detector_clock
from ferry.domain.detection.policy import DetectionPolicy
from ferry.domain.detection.transitions import Transition, ZoneStatus
from ferry.domain.detection.zones import ZoneState, closes_open_issue, merge_zone, screen_zone_signal, settle_zone
from ferry.domain.serialization import JsonModel
from ferry.domain.signals import Signal

EVACUATED = frozenset({ZoneStatus.IMPAIRED, ZoneStatus.RECOVERING})


@dataclass(frozen=True, slots=True)
class RegionState(JsonModel):
    """Every zone of one region, in zone-name order."""

    region: str
    zones: tuple[ZoneState, ...]

    @classmethod
    def new(cls, region: str, zones: Iterable[str], known: Iterable[ZoneState] = ()) -> RegionState:
        """The region's zones, each from `known` when it has a state already, else HEALTHY."""
        by_name = {state.zone: state for state in known}
        return cls(region, tuple(by_name.get(name) or ZoneState(name) for name in sorted(set(zones))))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(z.zone for z in self.zones)

    def zone(self, name: str) -> ZoneState | None:
        return next((z for z in self.zones if z.zone == name), None)

    @property
    def evacuated(self) -> tuple[str, ...]:
        return tuple(z.zone for z in self.zones if z.status in EVACUATED)

    @property
    def held(self) -> tuple[str, ...]:
        """Zones static stability holds back: while any is held, Ferry's own alarm should be raised."""
        return tuple(z.zone for z in self.zones if z.held)


def step_region(
    state: RegionState, signal: Signal, now: datetime, policy: DetectionPolicy
) -> tuple[RegionState, tuple[Transition, ...]]:
    return detect_region(state, (signal,), now, policy)


def detect_region(
    state: RegionState, signals: Iterable[Signal], now: datetime, policy: DetectionPolicy
) -> tuple[RegionState, tuple[Transition, ...]]:
    """A batch of signals (any order) and the passing of time, for every zone of the region."""
    clock = detector_clock(now, *(z.updated_at for z in state.zones))
    batch = [placed for signal in signals for placed in _placed(state, signal)]
    merged = [
        merge_zone(zone, (s for s in batch if s.zone == zone.zone and s.region == state.region), clock, policy)
        for zone in state.zones
    ]
    free = [settle_zone(m, before, clock, policy) for m, before in zip(merged, state.zones, strict=True)]
    wanting = [
        before.zone
        for before, (after, _) in zip(state.zones, free, strict=True)
        if after.status is ZoneStatus.IMPAIRED and before.status not in EVACUATED
    ]
    busy = sum(1 for after, _ in free if after.status in EVACUATED) - len(wanting)
    granted = _grant(wanting, busy, len(state.zones), policy.max_impaired_zones)
    settled = [
        result
        if before.zone not in wanting or before.zone in granted
        else settle_zone(m, before, clock, policy, may_impair=False)
        for m, before, result in zip(merged, state.zones, free, strict=True)
    ]
    new = RegionState(state.region, tuple(zone for zone, _ in settled))
    return (state if new == state else new), tuple(t for _, transitions in settled for t in transitions)


def _grant(wanting: list[str], busy: int, zones: int, most: int) -> frozenset[str]:
    """Which of the zones that want IMPAIRED may have it: none if that would be every zone."""
    if busy + len(wanting) >= zones:
        return frozenset()
    return frozenset(sorted(wanting)[: max(0, most - busy)])


def screen_region_signal(
    state: RegionState, signal: Signal, now: datetime, policy: DetectionPolicy
) -> IgnoreReason | None:
    """Why `detect_region` would leave `signal` out (for the caller's metrics), or None if it counts."""
    clock = detector_clock(now, *(z.updated_at for z in state.zones))
    return screen_zone_signal(_placed(state, signal)[0], state.names, clock, policy, region=state.region)


def _placed(state: RegionState, signal: Signal) -> tuple[Signal, ...]:
    """A zone-less Health resolution of this region, once per zone where its event's issue is open; any other
    signal as it is."""
    if signal.zone is not None or signal.region != state.region:
        return (signal,)
    zones = [zone.zone for zone in state.zones if closes_open_issue(zone, signal)]
    return tuple(dataclasses.replace(signal, zone=zone) for zone in zones) or (signal,)
