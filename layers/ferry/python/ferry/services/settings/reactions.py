"""Settings of every function that feeds the detector (`ingest`, `probe`): states, policy, notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from ferry.domain.detection import DetectionPolicy
from ferry.domain.modes import Mode
from ferry.services.settings import int_in_range, mode, require, seconds


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
