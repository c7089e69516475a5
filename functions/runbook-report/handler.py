"""Lambda entry point of `runbook-report`, the last Task of every re-homing runbook and the target of its
Catch: turn the plan and the node and pet reports (or the error) into a readable report, notify and audit
(see ferry.services.rehoming). ReportInput in, RunReport out."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.domain.rehoming.models import ReportInput
from ferry.observability import logger, metrics, tracer
from ferry.services.clocks import system_clock
from ferry.services.rehoming import RehomingSteps
from ferry.services.settings.rehoming import RehomeSettings

# The time this function runs on (its services get it from here). A runtime that simulates time, such as the
# sandbox's, sets its own before the first invocation.
clock = system_clock


@cache
def steps() -> RehomingSteps:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return RehomingSteps.from_settings(RehomeSettings.from_env(os.environ), clock=clock)


@logger.inject_lambda_context(correlation_id_path="runId", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return steps().report(ReportInput.from_dict(event)).to_dict()
