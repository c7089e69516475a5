"""Settings of the re-homing steps (`runbook-*`) and the snapshot schedule: the re-homing limits live here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from ferry.domain.modes import Mode
from ferry.domain.rehoming.policies import RehomeLimits
from ferry.services.settings import int_in_range, mode, require, seconds


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
