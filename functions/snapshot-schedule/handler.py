"""Lambda entry point of `snapshot-schedule` (EventBridge schedule, every 5 minutes): snapshot the EBS
volumes of pets whose `ferry.io/max-rpo` would otherwise be exceeded, prune the schedule's own snapshots
beyond retention (see ferry.services.snapshotting). Returns what was taken, pruned and at risk."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ferry.observability import logger, metrics, tracer
from ferry.services.clocks import system_clock
from ferry.services.settings.rehoming import RehomeSettings
from ferry.services.snapshotting import SnapshotSchedule

# The time this function runs on (its services get it from here). A runtime that simulates time, such as the
# sandbox's, sets its own before the first invocation.
clock = system_clock


@cache
def schedule() -> SnapshotSchedule:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return SnapshotSchedule.from_settings(RehomeSettings.from_env(os.environ), clock=clock)


@logger.inject_lambda_context(correlation_id_path="id", clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return schedule().run()
