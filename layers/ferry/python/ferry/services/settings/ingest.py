"""Settings of the `ingest` function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ferry.domain.conventions import OWNED_ALARM_PREFIX
from ferry.domain.translators import Drills
from ferry.services.settings import int_in_range, one_of
from ferry.services.settings.reactions import ReactionSettings


class _Flag(StrEnum):
    TRUE = "true"
    FALSE = "false"


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
