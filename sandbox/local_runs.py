"""Running a re-homing runbook outside Step Functions: the demo, the end-to-end tests and the benchmark.

It does what the state machines do, in-process: plan, then fence every node (at most 5 at once, like the
fence Map), then re-home every pet (at most `max_concurrency` at once, like the re-home Map), then report.
Every hand-over goes through the step models' JSON (`to_dict`/`from_dict`), as it would between Lambda
tasks, and each step is retried as the state machines retry it: `StepPending` up to 20 times, other
transient errors up to 6 times, with exponential backoff. A pet whose step keeps failing gets a `failed`
report and the others go on; a plan that is rejected goes straight to the report, which says why.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ferry.domain.errors import FerryError, StepPending, TransientError
from ferry.domain.rehoming.models import (
    NodeJob,
    NodeReport,
    PetJob,
    PetReport,
    PetStatus,
    PlanOutput,
    ReportInput,
    RunReport,
    StepError,
)
from ferry.domain.runbooks import Runbook
from ferry.services.rehoming import RehomingSteps

FENCE_CONCURRENCY = 5


@dataclass(frozen=True, slots=True)
class Retries:
    """The state machines' retry policy (docs/REHOMING.md); the sandbox shortens the intervals."""

    interval: float = 2.0
    rate: float = 2.0
    max_interval: float = 60.0
    transient_attempts: int = 6
    pending_attempts: int = 20

    def delay(self, retry: int) -> float:
        return float(min(self.max_interval, self.interval * self.rate ** (retry - 1)))


@dataclass(frozen=True, slots=True)
class LocalRun:
    report: RunReport
    plan: PlanOutput | None
    elapsed_seconds: float
    waited_seconds: float  # spent between retries (volumes creating, pods starting): not Ferry's own time


def _through_json[T](value: Any, parse: Callable[[Any], T]) -> T:
    return parse(json.loads(json.dumps(value.to_dict())))


class _Waits:
    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self._lock = threading.Lock()
        self.total = 0.0

    def __call__(self, seconds: float) -> None:
        started = time.monotonic()
        self._sleep(seconds)
        with self._lock:
            self.total += time.monotonic() - started


def _retrying[T](call: Callable[[], T], retries: Retries, sleep: Callable[[float], None]) -> T:
    pending = transient = 0
    while True:
        try:
            return call()
        except StepPending:
            pending += 1
            if pending >= retries.pending_attempts:
                raise
            sleep(retries.delay(pending))
        except TransientError:
            transient += 1
            if transient >= retries.transient_attempts:
                raise
            sleep(retries.delay(transient))


def run_runbook(
    steps: RehomingSteps,
    runbook: Runbook,
    payload: Mapping[str, Any],
    *,
    run_id: str,
    max_concurrency: int = 10,
    retries: Retries = Retries(),
    sleep: Callable[[float], None] = time.sleep,
) -> LocalRun:
    started = time.monotonic()
    waits = _Waits(sleep)
    try:
        planned = steps.plan({**payload, "runId": run_id, "runbook": runbook.value})
    except FerryError as error:
        request = ReportInput(run_id, runbook, payload, error=StepError(type(error).__name__, str(error)))
        return LocalRun(steps.report(request), None, time.monotonic() - started, waits.total)
    plan = _through_json(planned, PlanOutput.from_dict)

    def fence(job: NodeJob) -> NodeReport:
        job = _through_json(job, NodeJob.from_dict)
        try:
            return _through_json(_retrying(lambda: steps.fence(job), retries, waits), NodeReport.from_dict)
        except Exception as error:  # the fence Map's catch (States.ALL): this node is reported, the others go on
            reason = f"{type(error).__name__}: {error}"
            return NodeReport(job.cluster, job.node, job.instance_id, False, None, None, False, reason)

    def rehome(job: PetJob) -> PetReport:
        job = _through_json(job, PetJob.from_dict)
        try:
            return _through_json(_retrying(lambda: steps.rehome(job), retries, waits), PetReport.from_dict)
        except Exception as error:  # the re-home Map's catch (States.ALL): this pet stops, the others go on
            reason = f"{type(error).__name__}: {error}"
            return PetReport(
                job.cluster, job.namespace, job.pod, job.policy, PetStatus.FAILED, job.from_zone, reason=reason
            )

    with ThreadPoolExecutor(max_workers=FENCE_CONCURRENCY) as pool:
        nodes = tuple(pool.map(fence, plan.nodes))
    concurrency = int(payload.get("maxConcurrency") or max_concurrency)  # the input's, as the re-home Map reads it
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        pets = tuple(pool.map(rehome, plan.pets))
    request = _through_json(ReportInput(run_id, runbook, payload, plan, nodes, pets), ReportInput.from_dict)
    report = _through_json(steps.report(request), RunReport.from_dict)
    return LocalRun(report, plan, time.monotonic() - started, waits.total)
