"""Lambda entry point of `runbook-shift`, every Task of ShiftReplicas and FailoverCluster: the Task's payload names
the step (`plan`, `scale-up`, `available`, `scale-down`, `report`) and carries the state it works on (see
ferry.services.shifting). Federated replicas move make before break: up where they go, available, then down."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.observability import logger, metrics, tracer
from ferry.services.clocks import system_clock
from ferry.services.settings.shifting import ShiftSettings
from ferry.services.shifting import ShiftSteps

# The time this function runs on (its services get it from here). A runtime that simulates time, such as the
# sandbox's, sets its own before the first invocation.
clock = system_clock


@cache
def steps() -> ShiftSteps:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return ShiftSteps.from_settings(ShiftSettings.from_env(os.environ), clock=clock)


@logger.inject_lambda_context(correlation_id_path="state.runId", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return steps().run(event)
