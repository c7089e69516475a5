"""Lambda entry point of `runbook-rehome`, one iteration of the re-home Map: carry out one pet's journaled
plan, skipping finished steps (see ferry.services.rehoming). PetJob in, PetReport out; `StepPending` when the
world is not there yet (a volume creating, a pod starting), for Step Functions to ask again."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.domain.rehoming.models import PetJob
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
    return steps().rehome(PetJob.from_dict(event)).to_dict()
