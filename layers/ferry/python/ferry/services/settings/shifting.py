"""Settings of the shift step (`runbook-shift`): ShiftReplicas and FailoverCluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from ferry.domain.errors import ConfigError
from ferry.domain.modes import Mode
from ferry.services.settings import int_in_range, mode, require, seconds


@dataclass(frozen=True, slots=True)
class ShiftSettings:
    """`available_within`: how long a run waits for the survivors' new replicas to be available before it gives up
    its scale-downs (make before break: the failed side keeps what it has). `lock_lease`: how long an app's lock
    outlives a run that died; it must outlast a whole run's wait, or a second run could take the app mid-shift."""

    table_name: str
    topic_arn: str
    mode: Mode
    kube_timeout_seconds: int = 5
    available_within: timedelta = timedelta(minutes=5)
    lock_lease: timedelta = timedelta(minutes=30)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ShiftSettings:
        settings = cls(
            table_name=require(env, "FERRY_TABLE"),
            topic_arn=require(env, "FERRY_TOPIC_ARN"),
            mode=mode(env),
            kube_timeout_seconds=int_in_range(env, "FERRY_KUBE_TIMEOUT_SECONDS", 5, 1, 60),
            available_within=seconds(env, "FERRY_SHIFT_AVAILABLE_SECONDS", 300, 30, 1800),
            lock_lease=seconds(env, "FERRY_SHIFT_LOCK_SECONDS", 1800, 300, 7200),
        )
        if settings.lock_lease <= 2 * settings.available_within:
            raise ConfigError(
                "FERRY_SHIFT_LOCK_SECONDS",
                f"expected more than twice FERRY_SHIFT_AVAILABLE_SECONDS "
                f"({int(settings.available_within.total_seconds())}), got {int(settings.lock_lease.total_seconds())}",
            )
        return settings
