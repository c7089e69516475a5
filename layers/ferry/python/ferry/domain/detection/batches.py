"""Which stored state each signal of a batch is decided against (pure).

A batch (one ingest delivery, one probe round) is decided per watched region, all its zones together (static
stability), then per cluster its control plane. Every signal of a watched region goes to the zone detector,
zone-less ones too: they change no zone, but they let time pass (a scheduled tick ends a hold-down). A
region is watched when the policy lists zones of it (a zone's name is its region's name and a letter);
signals about other regions are left out. A control-plane signal goes to its cluster's control plane; whether
Ferry protects that cluster is the registry's to say, read with the state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ferry.domain.detection.control_planes import CONTROL_PLANE_KINDS
from ferry.domain.detection.policy import DetectionPolicy
from ferry.domain.errors import ConfigError
from ferry.domain.signals import Signal


@dataclass(frozen=True, slots=True)
class RegionBatch:
    """The signals of one watched region, decided against its zones' states together."""

    region: str
    zones: tuple[str, ...]  # the watched zones of the region: the zone states decided together
    signals: tuple[Signal, ...]


@dataclass(frozen=True, slots=True)
class ControlPlaneBatch:
    """The control-plane signals of one cluster, decided against its control plane's state."""

    cluster: str
    signals: tuple[Signal, ...]


@dataclass(frozen=True, slots=True)
class Batches:
    """A batch split by the state it is decided against, in the order to decide it: regions, then clusters."""

    regions: tuple[RegionBatch, ...]
    control_planes: tuple[ControlPlaneBatch, ...]


def split_batch(signals: Iterable[Signal], policy: DetectionPolicy) -> Batches:
    """Per watched region (by name) its signals, then per cluster (by name) its control-plane signals."""
    by_region: dict[str, list[Signal]] = defaultdict(list)
    by_cluster: dict[str, list[Signal]] = defaultdict(list)
    for signal in signals:
        by_region[signal.region].append(signal)
        if signal.cluster is not None and signal.kind in CONTROL_PLANE_KINDS:
            by_cluster[signal.cluster].append(signal)
    regions = []
    for region in sorted(by_region):
        zones = watched_zones(region, policy)
        if zones:
            regions.append(RegionBatch(region, zones, tuple(by_region[region])))
    control_planes = tuple(ControlPlaneBatch(c, tuple(by_cluster[c])) for c in sorted(by_cluster))
    return Batches(tuple(regions), control_planes)


def watched_zones(region: str, policy: DetectionPolicy) -> tuple[str, ...]:
    """The policy's zones of `region`; raises ConfigError when the policy names no zone at all."""
    if not policy.zones:
        raise ConfigError("zones", "deciding a region needs its zones (at least 2) to apply static stability")
    return tuple(z for z in policy.zones if z.startswith(region))
