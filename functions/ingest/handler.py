"""Lambda entry point of `ingest`: SQS batches of EventBridge events become Signals (see ferry.services.ingestion).

No X-Ray SDK here on purpose: its import costs ~120 ms of the 300 ms cold-start budget; the function runs
with Lambda's active tracing instead (ferry.observability explains).
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from ferry.observability import logger, metrics
from ferry.services.clocks import system_clock
from ferry.services.ingestion import Ingestor
from ferry.services.settings.ingest import IngestSettings

if TYPE_CHECKING:  # a type only: Lambda passes its own context object (Powertools imports it so too)
    from aws_lambda_powertools.utilities.typing import LambdaContext

processor = BatchProcessor(event_type=EventType.SQS)


# The time this function runs on (its services get it from here). A runtime that simulates time, such as the
# sandbox's, sets its own before the first invocation.
clock = system_clock


@cache
def ingestor() -> Ingestor:
    """Built on the first invocation (cold start), not on import: settings are validated there."""
    return Ingestor.from_settings(IngestSettings.from_env(os.environ), clock=clock)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return ingestor().process_batch(event, context, processor)
