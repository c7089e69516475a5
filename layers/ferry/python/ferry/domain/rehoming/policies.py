"""How a StatefulSet asks to be re-homed, and how far one run may go (pure).

Owners choose per StatefulSet with annotations (`ferry.io/rehome`: snapshot, fresh or stay; `ferry.io/max-rpo`:
how much data loss is acceptable, e.g. `15m`). A value Ferry does not understand is not guessed at: the pet
is skipped with a reason naming the annotation. `RehomeLimits` bounds the blast radius of one run (fences,
evictions, parallel pets) and validates its ranges, so a bad setting fails the deploy, not an evacuation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from ferry.domain.errors import ConfigError

REHOME_ANNOTATION = "ferry.io/rehome"
MAX_RPO_ANNOTATION = "ferry.io/max-rpo"

_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


class RehomePolicy(StrEnum):
    SNAPSHOT = "snapshot"  # restore the newest snapshot into a new volume in a healthy zone
    FRESH = "fresh"  # the application re-replicates: a new empty volume from the claim template
    STAY = "stay"  # free the identity only; the pet returns when its zone does


def rehome_policy(annotations: Mapping[str, str]) -> RehomePolicy | None:
    """The StatefulSet's policy; STAY when unset; None when the value is not one Ferry knows."""
    raw = annotations.get(REHOME_ANNOTATION)
    if raw is None or not raw.strip():
        return RehomePolicy.STAY
    try:
        return RehomePolicy(raw.strip().lower())
    except ValueError:
        return None


def parse_duration(text: str | None) -> timedelta | None:
    """`15m`, `1h`, `90s`, `1h30m` -> timedelta; anything else (or zero) -> None."""
    match = _DURATION.match((text or "").strip())
    if not match or not any(match.groupdict().values()):
        return None
    parts = {unit: int(value or 0) for unit, value in match.groupdict().items()}
    duration = timedelta(hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    return duration if duration > timedelta(0) else None


def max_rpo(annotations: Mapping[str, str]) -> timedelta | None:
    return parse_duration(annotations.get(MAX_RPO_ANNOTATION))


def _whole(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(name, f"expected a whole number from {low} to {high}, got {value}")


@dataclass(frozen=True, slots=True)
class RehomeLimits:
    """The blast radius of one run, and how long Ferry waits for EC2.

    - `max_fences_per_run` (default 50, 1-500): nodes one run may fence (stop and free); beyond it nodes and
      their pets are skipped with a reason and left for the next run.
    - `max_evictions_per_run` (default 5, 0-100): pets on live nodes one run may evict (PDBs still apply).
    - `max_concurrency` (default 10, 1-50): pets re-homed at once outside Step Functions.
    - `fence_wait` (default 60 s, 0-600 s): how long one fence waits for EC2 to say stopped.
    - `snapshot_retention` (default 7, 1-100): scheduled snapshots kept per volume.
    """

    max_fences_per_run: int = 50
    max_evictions_per_run: int = 5
    max_concurrency: int = 10
    fence_wait: timedelta = timedelta(seconds=60)
    snapshot_retention: int = 7

    def __post_init__(self) -> None:
        _whole("FERRY_MAX_FENCES_PER_RUN", self.max_fences_per_run, 1, 500)
        _whole("FERRY_MAX_EVICTIONS_PER_RUN", self.max_evictions_per_run, 0, 100)
        _whole("FERRY_REHOME_CONCURRENCY", self.max_concurrency, 1, 50)
        _whole("FERRY_FENCE_WAIT_SECONDS", int(self.fence_wait.total_seconds()), 0, 600)
        _whole("FERRY_SNAPSHOT_RETENTION", self.snapshot_retention, 1, 100)
