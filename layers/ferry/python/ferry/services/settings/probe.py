"""Settings of the `probe` function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from ferry.services.settings import int_in_range, seconds
from ferry.services.settings.reactions import ReactionSettings


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
