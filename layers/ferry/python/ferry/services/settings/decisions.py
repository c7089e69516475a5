"""Settings of supervised mode's two functions (`runbook-await`, `decide`): how long a run waits, then what."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from ferry.domain.conventions import DECISION_TIMEOUT_RANGE, DEFAULT_DECISION_TIMEOUT_SECONDS
from ferry.domain.decisions import OnTimeout
from ferry.services.settings import one_of, require, seconds


@dataclass(frozen=True, slots=True)
class DecisionSettings:
    """`timeout` must be the await Task's TimeoutSeconds (cdk/supervision.py writes both from one setting):
    the recorded deadline is what Decide checks, the Task's timeout is what ends the wait."""

    table_name: str
    topic_arn: str
    timeout: timedelta
    on_timeout: OnTimeout
    decide_arn: str  # ferry-Decide's ARN, for the notification's CLI line

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DecisionSettings:
        low, high = DECISION_TIMEOUT_RANGE
        return cls(
            table_name=require(env, "FERRY_TABLE"),
            topic_arn=require(env, "FERRY_TOPIC_ARN"),
            timeout=seconds(env, "FERRY_DECISION_TIMEOUT_SECONDS", DEFAULT_DECISION_TIMEOUT_SECONDS, low, high),
            on_timeout=one_of(env, "FERRY_ON_DECISION_TIMEOUT", OnTimeout, OnTimeout.ABORT),
            decide_arn=env.get("FERRY_SM_DECIDE", "") or "<the ARN of ferry-Decide>",
        )
