"""Each function's configuration: one validated model, read once at cold start, failing fast.

A bad deploy (a missing table name, a TTL of zero) should fail on the first invocation with a message that
names the setting and its allowed range, not halfway through an evacuation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from ferry.domain.conventions import OWNED_ALARM_PREFIX
from ferry.domain.detection import DetectionPolicy
from ferry.domain.errors import ConfigError
from ferry.domain.modes import Mode
from ferry.domain.rehoming.policies import RehomeLimits
from ferry.domain.translators import Drills


class _Flag(StrEnum):
    TRUE = "true"
    FALSE = "false"


def require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(name, "required, but not set")
    return value


def int_in_range(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"expected a whole number from {low} to {high}, got {value}")
    return value


def one_of[E: StrEnum](env: Mapping[str, str], name: str, enum: type[E], default: E) -> E:
    raw = env.get(name, default.value).strip() or default.value
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ConfigError(name, f"expected one of {allowed}, got {raw!r}") from None


def mode(env: Mapping[str, str]) -> Mode:
    return one_of(env, "FERRY_MODE", Mode, Mode.OBSERVE)


def seconds(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> timedelta:
    return timedelta(seconds=int_in_range(env, name, default, low, high))


@dataclass(frozen=True, slots=True)
class ReactionSettings:
    """What every function that feeds the detector needs: where states live, how to decide, whom to tell.

    The detection bounds are re-checked by `DetectionPolicy` itself, which names the setting in its error.
    """

    table_name: str
    topic_arn: str
    mode: Mode
    window: timedelta
    quorum: int
    hold_down: timedelta
    max_impaired_zones: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReactionSettings:
        return cls(
            table_name=require(env, "FERRY_TABLE"),
            topic_arn=require(env, "FERRY_TOPIC_ARN"),
            mode=mode(env),
            window=seconds(env, "FERRY_WINDOW_SECONDS", 300, 60, 3600),
            quorum=int_in_range(env, "FERRY_QUORUM", 2, 1, 3),
            hold_down=seconds(env, "FERRY_HOLD_DOWN_SECONDS", 600, 60, 86400),
            max_impaired_zones=int_in_range(env, "FERRY_MAX_IMPAIRED_ZONES", 1, 1, 10),
        )

    def policy(self, zones: tuple[str, ...]) -> DetectionPolicy:
        """The detector's policy over the watched zones (the zones of the registered clusters)."""
        return DetectionPolicy(
            window=self.window,
            quorum=self.quorum,
            hold_down=self.hold_down,
            max_impaired_zones=min(self.max_impaired_zones, max(1, len(zones) - 1)),
            zones=zones,
        )


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Settings of the `ingest` function."""

    reactions: ReactionSettings
    signal_ttl_days: int = 7
    owned_alarm_prefix: str = OWNED_ALARM_PREFIX
    rejected_ttl_days: int = 14  # as long as the dead-letter queue keeps a message
    drills: Drills = Drills.RECORD  # FERRY_DRILLS: `act` handles practice runs and FIS experiments as real
    drain_on_rebalance: bool = False  # FERRY_DRAIN_ON_REBALANCE=true: a rebalance recommendation drains, not cordons

    @property
    def table_name(self) -> str:
        return self.reactions.table_name

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IngestSettings:
        return cls(
            reactions=ReactionSettings.from_env(env),
            signal_ttl_days=int_in_range(env, "FERRY_SIGNAL_TTL_DAYS", 7, 1, 90),
            owned_alarm_prefix=env.get("FERRY_OWNED_ALARM_PREFIX", OWNED_ALARM_PREFIX).strip() or OWNED_ALARM_PREFIX,
            rejected_ttl_days=int_in_range(env, "FERRY_REJECTED_TTL_DAYS", 14, 1, 14),
            drills=one_of(env, "FERRY_DRILLS", Drills, Drills.RECORD),
            drain_on_rebalance=one_of(env, "FERRY_DRAIN_ON_REBALANCE", _Flag, _Flag.FALSE) is _Flag.TRUE,
        )


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """Settings of the `probe` function."""

    reactions: ReactionSettings
    lease_grace: timedelta = timedelta(seconds=40)
    unhealthy_fraction: float = 0.5
    timeout_seconds: int = 5
    parallelism: int = 8
    signal_ttl_days: int = 7

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProbeSettings:
        return cls(
            reactions=ReactionSettings.from_env(env),
            lease_grace=seconds(env, "FERRY_LEASE_GRACE_SECONDS", 40, 10, 600),
            timeout_seconds=int_in_range(env, "FERRY_PROBE_TIMEOUT_SECONDS", 5, 1, 30),
            parallelism=int_in_range(env, "FERRY_PROBE_PARALLELISM", 8, 1, 32),
            signal_ttl_days=int_in_range(env, "FERRY_SIGNAL_TTL_DAYS", 7, 1, 90),
        )


@dataclass(frozen=True, slots=True)
class RehomeSettings:
    """Settings of the re-homing steps (`runbook-*`) and the snapshot schedule.

    `lock_lease` must outlast one step's invocation (the function's timeout): a pet's lock held by an
    invocation that died is taken over only after it.
    """

    table_name: str
    topic_arn: str
    mode: Mode
    limits: RehomeLimits
    kube_timeout_seconds: int = 10
    lock_lease: timedelta = timedelta(seconds=180)
    journal_ttl_days: int = 30
    snapshot_period: timedelta = timedelta(minutes=5)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RehomeSettings:
        return cls(
            table_name=require(env, "FERRY_TABLE"),
            topic_arn=require(env, "FERRY_TOPIC_ARN"),
            mode=mode(env),
            limits=RehomeLimits(
                max_fences_per_run=int_in_range(env, "FERRY_MAX_FENCES_PER_RUN", 50, 1, 500),
                max_evictions_per_run=int_in_range(env, "FERRY_MAX_EVICTIONS_PER_RUN", 5, 0, 100),
                max_concurrency=int_in_range(env, "FERRY_REHOME_CONCURRENCY", 10, 1, 50),
                fence_wait=seconds(env, "FERRY_FENCE_WAIT_SECONDS", 60, 0, 600),
                snapshot_retention=int_in_range(env, "FERRY_SNAPSHOT_RETENTION", 7, 1, 100),
            ),
            kube_timeout_seconds=int_in_range(env, "FERRY_KUBE_TIMEOUT_SECONDS", 10, 1, 60),
            lock_lease=seconds(env, "FERRY_STEP_LOCK_SECONDS", 180, 30, 900),
            journal_ttl_days=int_in_range(env, "FERRY_JOURNAL_TTL_DAYS", 30, 1, 365),
            snapshot_period=seconds(env, "FERRY_SNAPSHOT_PERIOD_SECONDS", 300, 60, 86400),
        )
