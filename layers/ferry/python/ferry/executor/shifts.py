"""Carrying out a shift of federated replicas: the app's lock, the counts before the shift, each scale call.

`ShiftExecutor.act_or_plan` is the one place a shift reads the deployment's mode and the run's dry run: taking
an app's lock, recording its counts and every scale call go through it, so in a dry run or observe mode nothing
is locked, written or scaled, and each call is reported `planned`.

- **One shift per app at a time.** A run takes the app's lock (`shift/<namespace>/<name>`) when it plans, as its
  own (the owner is the run id, so each of its steps renews the lease), and lets it go after its scale-downs. A
  run that finds the lock held by another run leaves the app alone and says so; a run that died loses the lock
  when its lease ends.
- **The counts before the shift** are recorded twice: in the journal (`SHIFT#<app>`, the first shift's counts
  kept) and on each member's Deployment it scales (`ferry.io/replicas-before-shift`, written once, before the
  first scale call), so failback knows what to restore from either side.
- **Scale calls** are absolute (the member's replicas set to N through the scale subresource), retried in the
  step on 409/429/5xx with bounded backoff, and each leaves an audit record.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from ferry.adapters.journal import Journal
from ferry.adapters.kube_writes import KubeWriter
from ferry.adapters.reporting import AuditLog
from ferry.domain.errors import Conflict, TransientError
from ferry.domain.federation.shifting import BEFORE_SHIFT_ANNOTATION, AppShift, Scale, Scaled, ScaleStatus, before_shift
from ferry.domain.modes import Mode
from ferry.executor import may_act
from ferry.executor.plans import RetryPolicy
from ferry.observability import logger

T = TypeVar("T")
WHO = "ferry-shifting"
SCALE_RETRIES = RetryPolicy()  # 409/429/5xx: four tries, 0.2 s doubling to 2 s between them


def lock_name(app: str) -> str:
    return f"shift/{app}"


class ShiftExecutor:
    def __init__(
        self,
        mode: Mode,
        *,
        journal: Journal,
        audit: AuditLog,
        clock: Callable[[], datetime],
        lease: timedelta = timedelta(minutes=30),
        retry: RetryPolicy = SCALE_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._mode = mode
        self._journal = journal
        self._audit = audit
        self._clock = clock
        self._lease = lease
        self._retry = retry
        self._sleep = sleep

    def act_or_plan(self, dry_run: bool, act: Callable[[], T], planned: Callable[[], T]) -> T:
        """`act()` if the world may change (act mode, and no dry run asked for), else `planned()`."""
        return act() if may_act(self._mode, dry_run=dry_run) else planned()

    def acts(self, dry_run: bool) -> bool:
        """Whether this run changes anything: what its plan reports as its `dryRun`."""
        return self.act_or_plan(dry_run, lambda: True, lambda: False)

    # --- the app's lock and its counts -----------------------------------------------------------------------

    def claim(self, run_id: str, shift: AppShift, *, dry_run: bool, record: bool = True) -> bool:
        """Take (or renew) the app's lock for this run and (`record`) its counts before the shift; False if another
        run holds it. In a dry run nothing is taken or written."""

        def claim() -> bool:
            if not self._journal.acquire(lock_name(shift.app), run_id, self._clock(), self._lease):
                return False
            if record and shift.changes:
                self._journal.record_origin(shift.app, shift.before(), run_id, self._clock())
            return True

        return self.act_or_plan(dry_run, claim, lambda: True)

    def release(self, run_id: str, app: str, *, dry_run: bool) -> None:
        self.act_or_plan(dry_run, lambda: self._journal.release(lock_name(app), run_id), lambda: None)

    def origin(self, app: str) -> Mapping[str, int] | None:
        """The counts before the app's first shift, if a shift recorded them (a read: dry runs read too)."""
        return self._journal.origin(app)

    def restored(self, app: str, *, dry_run: bool) -> None:
        """Failback brought the app back to its counts before the shift: their record goes."""
        self.act_or_plan(dry_run, lambda: self._journal.forget_origin(app), lambda: None)

    # --- scale calls -------------------------------------------------------------------------------------------

    def scale(self, kube: KubeWriter, run_id: str, shift: AppShift, scale: Scale, *, dry_run: bool, why: str) -> Scaled:
        """Set the member's replicas to `scale.to`, recording its count before the shift on its Deployment first.
        Raises what the API raised once the in-step retries are spent (the caller says what that means)."""
        planned = Scaled(scale.cluster, scale.before, scale.to, ScaleStatus.PLANNED)
        return self.act_or_plan(dry_run, lambda: self._scale(kube, run_id, shift, scale, why), lambda: planned)

    def _scale(self, kube: KubeWriter, run_id: str, shift: AppShift, scale: Scale, why: str) -> Scaled:
        if scale.to == scale.before:  # failback's check of replicas that ran on: nothing to call, only to wait for
            return Scaled(scale.cluster, scale.before, scale.to, ScaleStatus.DONE)

        def call() -> None:
            current = kube.deployment_object(shift.namespace, shift.name)
            if current is not None and before_shift(current) is None:
                kube.annotate_deployment(shift.namespace, shift.name, {BEFORE_SHIFT_ANNOTATION: str(scale.before)})
            kube.scale_deployment(shift.namespace, shift.name, scale.to)

        self._with_retries(call, f"{scale.cluster}/{shift.app}")
        at = self._clock()
        self._audit.record(
            f"{run_id}/scale/{scale.cluster}/{shift.app}/{scale.to}",
            at,
            {
                "what": f"scale {shift.app} in {scale.cluster}: {scale.before} -> {scale.to}",
                "who": WHO,
                "why": why,
                "run": run_id,
                "outcome": ScaleStatus.DONE.value,
            },
        )
        logger.info("scaled", extra={"run": run_id, "app": shift.app, "cluster": scale.cluster, "to": scale.to})
        return Scaled(scale.cluster, scale.before, scale.to, ScaleStatus.DONE)

    def _with_retries(self, call: Callable[[], None], what: str) -> None:
        for attempt in range(1, self._retry.attempts + 1):
            try:
                call()
                return
            except (Conflict, TransientError) as error:
                if attempt == self._retry.attempts:
                    raise
                logger.info("scale retried", extra={"what": what, "attempt": attempt, "error": str(error)})
                self._sleep(self._retry.delay(attempt, error))
