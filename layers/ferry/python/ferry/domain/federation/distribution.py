"""Where a federated app's replicas go (pure): weights, minimums, maximums, room, and the failures Ferry knows.

`distribute(app, health, zones, capacity)` gives each member cluster a replica count:

- a cluster whose control plane is DOWN, or whose every node is in an impaired zone (or not Ready), gets
  zero: Ferry never places replicas where it cannot see them run;
- every other cluster first gets its minimum (lowered to its ceiling: max, or the room `capacity` says it has),
  then the rest is handed out one replica at a time to the cluster with the highest priority
  `weight x available / (replicas + 1/2)` (Sainte-Laguë, the most proportional divisor method for small
  counts), where `available` is the cluster's share of its nodes that are Ready in zones not impaired
  (IMPAIRED or RECOVERING: replicas come back by failback, not by a recomputation during the hold-down).
  Ties go to the cluster whose name sorts first. A cluster of weight zero gets its minimum only;
- what no cluster can take is the shortfall, reported with each cluster's reason, never hidden.

Why one replica at a time from one priority order: the replicas handed out are exactly the best `n` of a fixed
set of (cluster, next replica) candidates, so when one cluster fails, loses a zone or loses room, its own
candidates drop out or fall back and every other cluster can only gain; when it recovers, only it gains.
Replicas move from or to the cluster that changed, never between healthy clusters (no churn), and a
re-computation with the same inputs gives the same answer.

A cluster spanning zones that loses one keeps `Ready nodes in healthy zones / all nodes` of its weight: two
clusters over the same three zones each lose the same third, so their distribution does not change.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ferry.domain.detection.transitions import ControlPlaneStatus, ZoneStatus
from ferry.domain.federation.apps import FederatedApp, member_problems
from ferry.domain.serialization import CamelJsonModel, wire

# Zones where no replica should be counted on: impaired, or recovering (failback brings replicas back in steps).
UNAVAILABLE_ZONES = frozenset({ZoneStatus.IMPAIRED, ZoneStatus.RECOVERING})


@dataclass(frozen=True, slots=True)
class ZoneNodes:
    zone: str
    ready: int
    total: int


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    """What Ferry knows of one member cluster: its control plane's verdict and its nodes per zone (the probe's)."""

    control_plane: ControlPlaneStatus = ControlPlaneStatus.UP
    nodes: tuple[ZoneNodes, ...] = ()  # none known: the whole cluster counts as available

    def available(self, zones: Mapping[str, ZoneStatus]) -> tuple[int, int]:
        """(nodes Ready in available zones, all nodes): the share of the cluster's weight it keeps."""
        total = sum(n.total for n in self.nodes)
        if total <= 0:
            return 1, 1
        ready = sum(n.ready for n in self.nodes if zones.get(n.zone, ZoneStatus.HEALTHY) not in UNAVAILABLE_ZONES)
        return max(ready, 0), total


class ShareReason(StrEnum):
    """Why a cluster got the count it got; the first two are why it got none."""

    CONTROL_PLANE_DOWN = "control-plane-down"
    NO_AVAILABLE_NODES = "no-available-nodes"  # every node not Ready or in an impaired zone
    AT_MAX = "at-max"  # it holds its max and would take more
    AT_CAPACITY = "at-capacity"  # it holds all the room it has (below its max)
    WEIGHT_ZERO = "weight-zero"  # it takes its minimum and no more
    ZONE_IMPAIRED = "zone-impaired"  # its weight was cut to the share of its nodes in healthy zones
    WEIGHTED = "weighted"


def _pairs(value: Any) -> tuple[tuple[str, Any], ...]:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {value!r}")
    return tuple(sorted(value.items()))


def _reasons(value: Any) -> tuple[tuple[str, ShareReason], ...]:
    return tuple((cluster, ShareReason(reason)) for cluster, reason in _pairs(value))


@dataclass(frozen=True, slots=True)
class Distribution(CamelJsonModel):
    """Replicas per member cluster (objects on the wire: `{"east-1": 3}`); a cluster's reason is there when it is
    not plainly its weight's share (`ShareReason`)."""

    app: str  # namespace/name
    replicas: tuple[tuple[str, int], ...] = field(metadata=wire(dump=dict, load=_pairs))  # by cluster name
    reasons: tuple[tuple[str, ShareReason], ...] = field(default=(), metadata=wire(dump=dict, load=_reasons))
    shortfall: int = 0  # replicas of the total that no cluster can take now
    problems: tuple[str, ...] = ()  # why the app was refused (bad input): nothing is decided for it then

    def counts(self) -> dict[str, int]:
        return dict(self.replicas)

    def explain(self) -> str:
        """One line: the counts, and the shortfall with every cluster that could not help and why."""
        if self.problems:
            return f"{self.app}: refused: {'; '.join(self.problems)}"
        counts = ", ".join(f"{cluster}={count}" for cluster, count in self.replicas)
        if not self.shortfall:
            return f"{self.app}: {counts}"
        why = ", ".join(f"{cluster} {reason}" for cluster, reason in self.reasons)
        return f"{self.app}: {counts}; {self.shortfall} short ({why or 'no member takes more'})"


def distribute(
    app: FederatedApp,
    health: Mapping[str, ClusterHealth],
    zones: Mapping[str, ZoneStatus],
    capacity: Mapping[str, int] | None = None,
) -> Distribution:
    """The app's replicas per member cluster (module docstring). `health` has one entry per member cluster of
    the federation (an app naming another cluster is refused, as `check_app` says); `zones` the zone verdicts
    (absent: healthy); `capacity` the replicas of this app each cluster has room for (absent: no limit)."""
    return _distribute(app, _view(health, zones), capacity or {})


def distribute_all(
    apps: Iterable[FederatedApp],
    health: Mapping[str, ClusterHealth],
    zones: Mapping[str, ZoneStatus],
    capacity: Mapping[str, Mapping[str, int]] | None = None,
) -> tuple[Distribution, ...]:
    """`distribute` for many apps over the same clusters (`capacity` by app key), reading each cluster once."""
    view = _view(health, zones)
    capacity = capacity or {}
    return tuple(_distribute(app, view, capacity.get(app.key, {})) for app in apps)


# per member cluster: why it is out, or (2 x ready nodes in available zones, all nodes)
_View = dict[str, ShareReason | tuple[int, int]]


def _view(health: Mapping[str, ClusterHealth], zones: Mapping[str, ZoneStatus]) -> _View:
    view: _View = {}
    for cluster, known in health.items():
        ready, total = known.available(zones)
        if known.control_plane is ControlPlaneStatus.DOWN:
            view[cluster] = ShareReason.CONTROL_PLANE_DOWN
        elif ready == 0:
            view[cluster] = ShareReason.NO_AVAILABLE_NODES
        else:
            view[cluster] = (2 * ready, total)
    return view


def _distribute(app: FederatedApp, view: _View, capacity: Mapping[str, int]) -> Distribution:
    members = app.members(view)
    problems = member_problems(app, members, view)
    if problems:
        return Distribution(app.key, (), problems=problems)
    counts: dict[str, int] = {}
    reasons: dict[str, ShareReason] = {}
    # per cluster that takes replicas beyond its minimum: (numerator, denominator) of its priority's weight
    # (2 x weight x ready, all nodes), and its ceiling
    terms: dict[str, tuple[int, int, int | None]] = {}
    ceilings: dict[str, int] = {}
    for cluster, placement in members.items():
        seen = view[cluster]
        if isinstance(seen, ShareReason):
            counts[cluster], reasons[cluster] = 0, seen
            continue
        ready2, total = seen
        ceiling = placement.ceiling(capacity.get(cluster))
        counts[cluster] = placement.min if ceiling is None else min(placement.min, ceiling)
        reasons[cluster] = ShareReason.ZONE_IMPAIRED if ready2 < 2 * total else ShareReason.WEIGHTED
        if placement.weight <= 0:
            reasons[cluster] = ShareReason.WEIGHT_ZERO
            continue
        if ceiling is not None:
            ceilings[cluster] = ceiling
        if ceiling is None or counts[cluster] < ceiling:
            terms[cluster] = (placement.weight * ready2, total, ceiling)
    remaining = app.replicas - sum(counts.values())
    if remaining > 0 and terms:
        remaining = _hand_out(remaining, terms, counts)
    for cluster, ceiling in ceilings.items():
        if counts[cluster] >= ceiling:
            reasons[cluster] = ShareReason.AT_MAX if ceiling == members[cluster].max else ShareReason.AT_CAPACITY
    return Distribution(
        app.key,
        tuple(counts.items()),
        tuple((c, r) for c, r in reasons.items() if r is not ShareReason.WEIGHTED),
        shortfall=remaining,
    )


def _hand_out(seats: int, terms: Mapping[str, tuple[int, int, int | None]], counts: dict[str, int]) -> int:
    """Give `seats` replicas, one at a time, to the best (priority, then name) next replica of any cluster in
    `terms`, within its ceiling; return how many no cluster could take.

    Handing them out one by one costs a heap operation per replica; the same choice is reached faster by first
    giving every candidate whose priority is above a threshold `floor` chosen so that fewer than `seats` are
    above it: all of them are among the best `seats` whatever the order within, and the heap finishes the rest.
    """
    if 2 * seats > len(terms):
        floor = sum(n / d for n, d, _ in terms.values()) / (2 * seats - len(terms))
        above = [(c, _above(term, floor, counts[c])) for c, term in terms.items()]
        given = sum(extra for _, extra in above)
        if given <= seats:  # the bound's arithmetic is in floats: checked rather than trusted
            for cluster, extra in above:
                counts[cluster] += extra
            seats -= given
    heap = [(-_priority(term, counts[c]), c) for c, term in terms.items() if term[2] is None or counts[c] < term[2]]
    heapq.heapify(heap)
    while seats > 0 and heap:
        _, cluster = heapq.heappop(heap)
        counts[cluster] += 1
        seats -= 1
        term = terms[cluster]
        if term[2] is None or counts[cluster] < term[2]:
            heapq.heappush(heap, (-_priority(term, counts[cluster]), cluster))
    return seats


def _above(term: tuple[int, int, int | None], floor: float, start: int) -> int:
    """How many of the cluster's next replicas from `start` (within its ceiling) have a priority above `floor`:
    estimated, then settled with `_priority` itself so that the heap and this count never disagree."""
    numerator, denominator, ceiling = term
    end = max(start, math.ceil((numerator / (denominator * floor) - 1) / 2))
    if ceiling is not None:
        end = min(end, ceiling)
    # the same expression as `_priority`, inlined: this runs for every cluster of every app
    while end > start and numerator / (denominator * (2 * end - 1)) <= floor:
        end -= 1
    while (ceiling is None or end < ceiling) and numerator / (denominator * (2 * end + 1)) > floor:
        end += 1
    return end - start


def _priority(term: tuple[int, int, int | None], replicas: int) -> float:
    """weight x ready / total / (replicas + 1/2), as one correctly rounded division of two exact integers, so
    that equal priorities compare equal (and fall to the name) however they were reached."""
    numerator, denominator, _ = term
    return numerator / (denominator * (2 * replicas + 1))
