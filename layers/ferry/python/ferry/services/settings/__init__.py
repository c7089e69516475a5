"""Each function's configuration: one validated model, read once at cold start, failing fast.

A bad deploy (a missing table name, a TTL of zero) should fail on the first invocation with a message that
names the setting and its allowed range, not halfway through an evacuation.

One module per function's model (`ingest`, `probe`, `rehoming`; `reactions` for what every function feeding
the detector shares), the validation helpers here: a function imports its own model and what that model
needs, never another function's (ingest's cold start does not pay for the re-homing limits and policies).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum

from ferry.domain.errors import ConfigError
from ferry.domain.modes import Mode


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
