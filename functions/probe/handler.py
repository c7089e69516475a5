"""Lambda entry point of `probe`: every minute (EventBridge schedule), read every registered cluster and
decide on what was seen (see ferry.services.probe)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.observability import logger, metrics, tracer
from ferry.services.probe import Prober
from ferry.services.settings import ProbeSettings


@cache
def prober() -> Prober:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return Prober.from_settings(ProbeSettings.from_env(os.environ))


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return prober().run()
