"""The detector's settings, validated once: a bad value fails the deploy, not the first outage.

Every bound below exists because a value outside it breaks a safety property: a hold-down shorter than the
window would let a recovered zone be re-impaired by the same evidence that impaired it; `max_impaired_zones`
equal to the number of zones would let Ferry evacuate a whole region into nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ferry.domain.errors import ConfigError

WITNESSES = 3  # nodes (probe), fleet (EC2 + Auto Scaling + Spot), Ferry's alarms: see zones.Witness


@dataclass(frozen=True, slots=True)
class DetectionPolicy:
    """How much evidence makes a verdict, and how long a verdict holds.

    - `window` (default 5 min, from 60 s to 1 h): how long an observation counts towards a quorum; older
      observations are stale, ignored on arrival and pruned from the state.
    - `quorum` (default 2, from 1 to 3): how many independent witnesses must report a zone impaired within
      the window. The witnesses are the nodes (probe), the fleet (EC2, Auto Scaling, Spot: one voice, since
      they report the same instances) and Ferry's own alarms. One witness alone makes the zone SUSPECT.
    - `hold_down` (default 10 min, from `window` to 24 h): how long a RECOVERING zone must stay quiet before
      it is HEALTHY again and failback starts.
    - `max_impaired_zones` (default 1, from 1 to one less than the number of zones): how many zones may be
      evacuated (IMPAIRED or RECOVERING) at once; beyond it, and whenever every zone would be impaired, Ferry
      holds (static stability) and raises its own alarm instead.
    - `zones` (default none; at least 2 when given, distinct): the zones of the watched region. A zone that
      never reported is still a zone of the region; deciding a region requires this list.
    - `future_skew` (default 2 min, from 0 to `window`): how far in the future a signal may be stamped and
      still be believed (clamped to now); beyond it the signal is ignored.
    - `nodes_not_ready_fraction` (default 0.5, from 0 to below 1): a probe's NODES_NOT_READY counts only when
      more than this fraction of the zone's nodes (of that cluster) are NotReady or have stale leases.
    - `probe_quorum` (default 3, from 1 to 10): consecutive probe rounds with the API unreachable that make a
      control plane DOWN (three one-minute rounds: a blip or one lost probe does not fail a cluster over).
    - `recovery_rounds` (default 2, from 1 to 10): consecutive healthy rounds that bring a DOWN control plane
      back, or clear a control-plane member that failed its `/readyz` (the hysteresis against flapping).
    """

    window: timedelta = timedelta(minutes=5)
    quorum: int = 2
    hold_down: timedelta = timedelta(minutes=10)
    max_impaired_zones: int = 1
    zones: tuple[str, ...] = ()
    future_skew: timedelta = timedelta(minutes=2)
    nodes_not_ready_fraction: float = 0.5
    probe_quorum: int = 3
    recovery_rounds: int = 2

    def __post_init__(self) -> None:
        _duration("window", self.window, timedelta(seconds=60), timedelta(hours=1))
        _whole("quorum", self.quorum, 1, WITNESSES)
        _duration("hold_down", self.hold_down, self.window, timedelta(hours=24), low_name="window")
        _zones(self.zones)
        most = len(self.zones) - 1 if self.zones else 10
        _whole("max_impaired_zones", self.max_impaired_zones, 1, most)
        _duration("future_skew", self.future_skew, timedelta(0), self.window, high_name="window")
        _fraction("nodes_not_ready_fraction", self.nodes_not_ready_fraction)
        _whole("probe_quorum", self.probe_quorum, 1, 10)
        _whole("recovery_rounds", self.recovery_rounds, 1, 10)


def _whole(setting: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(setting, f"expected a whole number from {low} to {high}, got {value!r}")


def _duration(
    setting: str, value: object, low: timedelta, high: timedelta, *, low_name: str = "", high_name: str = ""
) -> None:
    low_text = f"{low.total_seconds():g} s" + (f" ({low_name})" if low_name else "")
    high_text = f"{high.total_seconds():g} s" + (f" ({high_name})" if high_name else "")
    if not isinstance(value, timedelta):
        raise ConfigError(setting, f"expected a duration from {low_text} to {high_text}, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(
            setting, f"expected a duration from {low_text} to {high_text}, got {value.total_seconds():g} s"
        )


def _fraction(setting: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(setting, f"expected a fraction from 0 to below 1, got {value!r}")


def _zones(zones: object) -> None:
    if not isinstance(zones, tuple) or not all(isinstance(z, str) and z for z in zones):
        raise ConfigError("zones", f"expected a tuple of zone names (us-east-1a), got {zones!r}")
    if len(set(zones)) != len(zones):
        raise ConfigError("zones", f"expected distinct zone names, got {list(zones)}")
    if len(zones) == 1:
        raise ConfigError("zones", f"expected at least 2 zones (with one there is nowhere to evacuate to), got {zones}")
