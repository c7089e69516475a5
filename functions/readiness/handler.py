"""Lambda entry point of `readiness`, the one Task of ferry-Readiness: "what if zone X failed now" for every
watched zone (or those named), from one reading of every registered cluster (or those named), changing nothing
(see ferry.services.readiness). The input plus `runId` in, the readiness report out."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.observability import logger, metrics, tracer
from ferry.services.clocks import system_clock
from ferry.services.readiness import Readiness
from ferry.services.settings.rehoming import RehomeSettings

# The time this function runs on (its services get it from here). A runtime that simulates time, such as the
# sandbox's, sets its own before the first invocation.
clock = system_clock


@cache
def readiness() -> Readiness:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return Readiness.from_settings(RehomeSettings.from_env(os.environ), clock=clock)


@logger.inject_lambda_context(correlation_id_path="runId", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return readiness().assess(event)
