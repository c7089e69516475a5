"""Lambda entry point of `decide`, the one Task of ferry-Decide: a person approves or rejects a supervised run
that waits, checked (waiting, once, before its deadline), audited with who and why, then sent as the run's
task token (see ferry.services.decisions). `{runId, decision, by, reason}` in, the decision out."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.observability import logger, metrics, tracer
from ferry.services.clocks import system_clock
from ferry.services.decisions import Decisions
from ferry.services.settings.decisions import DecisionSettings

# The time this function runs on (its services get it from here). A runtime that simulates time, such as the
# sandbox's, sets its own before the first invocation.
clock = system_clock


@cache
def decisions() -> Decisions:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return Decisions.from_settings(DecisionSettings.from_env(os.environ), clock=clock)


@logger.inject_lambda_context(correlation_id_path="runId", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return decisions().decide(event)
