"""The one place Ferry's logger, metrics and tracer are made, so every function logs and measures alike.

The tracer is created on first use (module `__getattr__`): importing the X-Ray SDK costs ~120 ms, which
the `ingest` function's 300 ms cold-start budget cannot afford. Ingest relies on Lambda's active tracing
alone; functions whose work is dominated by API calls import `tracer` and get subsegments.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

NAMESPACE = "Ferry"

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)

_tracer: Tracer | None = None


def __getattr__(name: str) -> Any:
    global _tracer  # noqa: PLW0603 - one tracer per process, created on first use
    if name == "tracer":
        if _tracer is None:
            from aws_lambda_powertools import Tracer

            _tracer = Tracer()
        return _tracer
    raise AttributeError(name)


def emit_counts(metric: str, dimension: str, counts: Counter[str]) -> None:
    """One EMF metric per dimension value (signals per kind, skips per reason, actions per zone).

    Dimension values are open-ended, so each gets its own EMF blob rather than a shared dimension set.
    """
    for value, count in sorted(counts.items()):
        with single_metric(name=metric, unit=MetricUnit.Count, value=count, namespace=NAMESPACE) as m:
            m.add_dimension(name=dimension, value=value)
