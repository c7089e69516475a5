"""Lambda entry point of `zone-override`, the one Task of ferry-SetZone: a person's word on a zone (healthy, or
held impaired until a time), checked, audited with who and why, and decided like any signal (see
ferry.services.overrides). The input plus `runId` in, SetZoneReport out."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.observability import logger, metrics, tracer
from ferry.services.clocks import system_clock
from ferry.services.overrides import ZoneOverrides
from ferry.services.settings.reactions import ReactionSettings

# The time this function runs on (its services get it from here). A runtime that simulates time, such as the
# sandbox's, sets its own before the first invocation.
clock = system_clock


@cache
def overrides() -> ZoneOverrides:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return ZoneOverrides.from_settings(ReactionSettings.from_env(os.environ), clock=clock)


@logger.inject_lambda_context(correlation_id_path="runId", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return overrides().set_zone(event).to_dict()
