"""Each function's configuration: one validated model, read once at cold start, failing fast.

A bad deploy (a missing table name, a TTL of zero) should fail on the first invocation with a message that
names the setting and its allowed range, not halfway through an evacuation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ferry.errors import ConfigError


class Mode(StrEnum):
    """`observe` (the default of a fresh deployment) plans, measures and notifies but changes nothing."""

    OBSERVE = "observe"
    ACT = "act"


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


def mode(env: Mapping[str, str]) -> Mode:
    raw = env.get("FERRY_MODE", Mode.OBSERVE.value).strip() or Mode.OBSERVE.value
    try:
        return Mode(raw)
    except ValueError:
        allowed = ", ".join(m.value for m in Mode)
        raise ConfigError("FERRY_MODE", f"expected one of {allowed}, got {raw!r}") from None


@dataclass(frozen=True, slots=True)
class IngestSettings:
    """Settings of the `ingest` function."""

    table_name: str
    signal_ttl_days: int = 7
    owned_alarm_prefix: str = "ferry-"
    rejected_ttl_days: int = 14  # as long as the dead-letter queue keeps a message
    mode: Mode = Mode.OBSERVE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IngestSettings:
        return cls(
            table_name=require(env, "FERRY_TABLE"),
            signal_ttl_days=int_in_range(env, "FERRY_SIGNAL_TTL_DAYS", 7, 1, 90),
            owned_alarm_prefix=env.get("FERRY_OWNED_ALARM_PREFIX", "ferry-").strip() or "ferry-",
            rejected_ttl_days=int_in_range(env, "FERRY_REJECTED_TTL_DAYS", 14, 1, 14),
            mode=mode(env),
        )
