"""What the detector keeps of a signal, and why it sets some signals aside (pure).

The detector never stores a whole Signal: a `SignalRef` (id, kind, source, effective time) is enough to order
facts, to recognise a replay and to tell the audit which signals made a verdict. Keeping only references keeps
each state item a few kilobytes, far below DynamoDB's 400 KB item limit.

Times: the detector has one clock per call, `max(now, the state's last update)`, so a caller whose clock lags
never moves a state backwards. A signal's *effective* time is its `observed_at`, clamped to that clock: a
source whose clock runs a little ahead (up to `DetectionPolicy.future_skew`) is believed but cannot stamp a
fact in the future, where it would outrank every later fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from ferry.domain.serialization import JsonModel
from ferry.domain.signals import Signal, SignalKind, Source


class IgnoreReason(StrEnum):
    """Why a detector left a signal out. Each is a metric dimension for the caller: nothing vanishes silently."""

    NO_ZONE = "no-zone"  # a zone-less signal (its zone is resolved upstream, or it has none)
    UNKNOWN_ZONE = "unknown-zone"  # a zone (or region) that is not one of the zones watched
    NO_CLUSTER = "no-cluster"  # a control-plane kind without a cluster
    OTHER_CLUSTER = "other-cluster"  # a signal about another cluster than this state's
    NOT_RELEVANT = "not-relevant"  # a kind that says nothing to this detector (a tick, a rebalance hint)
    FUTURE = "future"  # observed further in the future than the allowed clock skew
    STALE = "stale"  # an observation older than the window: it can no longer count
    MALFORMED_EVIDENCE = "malformed-evidence"  # evidence the rule needs is missing or not a count
    NOT_A_MEMBER = "not-a-member"  # an EC2 signal about an instance that is not a control-plane member


@dataclass(frozen=True, slots=True)
class SignalRef(JsonModel):
    """A signal as the detector remembers it; `observed_at` is the effective (clamped) time."""

    source_id: str
    kind: SignalKind
    source: Source
    observed_at: datetime

    @classmethod
    def of(cls, signal: Signal, clock: datetime) -> SignalRef:
        return cls(signal.source_id, signal.kind, signal.source, effective_time(signal, clock))

    @property
    def identity(self) -> tuple[str, SignalKind]:
        """What makes two deliveries one signal: a replay has the same source_id and kind."""
        return (self.source_id, self.kind)

    @property
    def order(self) -> tuple[datetime, str, str]:
        """A total order for facts: time first, then a deterministic tie-break."""
        return (self.observed_at, self.kind.value, self.source_id)


def detector_clock(now: datetime, *updated: datetime | None) -> datetime:
    """The clock of one call: `now`, or the latest update already recorded if `now` lags behind it."""
    return max([now, *(u for u in updated if u is not None)])


def effective_time(signal: Signal, clock: datetime) -> datetime:
    return min(signal.observed_at, clock)


def is_future(signal: Signal, clock: datetime, skew: timedelta) -> bool:
    return signal.observed_at > clock + skew


def is_stale(at: datetime, clock: datetime, window: timedelta) -> bool:
    """The window is half-open, (clock - window, clock]: a fact exactly one window old has aged out."""
    return at <= clock - window


def newer(current: SignalRef | None, candidate: SignalRef) -> SignalRef:
    return candidate if current is None or candidate.order > current.order else current
