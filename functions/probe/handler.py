"""Lambda entry point of `probe`: every minute (EventBridge schedule), read every registered cluster and
decide on what was seen (see ferry.services.probe)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.observability import logger, metrics, tracer
from ferry.services.clocks import system_clock
from ferry.services.probe import Prober
from ferry.services.settings.probe import ProbeSettings

# The time this function runs on (its services get it from here). A runtime that simulates time, such as the
# sandbox's, sets its own before the first invocation.
clock = system_clock


@cache
def prober() -> Prober:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return Prober.from_settings(ProbeSettings.from_env(os.environ), clock=clock)


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return prober().run()
