"""From Signals to actions, the one path both `ingest` and `probe` take.

Signals are decided against the stored zone and control-plane states (`ferry.adapters.states`, conditional
writes); each committed transition becomes a reaction (`ferry.reactions`), written to the outbox first and
then carried out by the executor. A reaction the executor could not finish stays in the outbox, and the next
probe round carries it out (`redo_pending`), so no hand-off is lost between a committed transition and a
started run. The watched zones are those of the registered clusters: a zone no cluster uses is not Ferry's
to judge, and "every zone failed at once" means every zone Ferry watches.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ferry.adapters.aws import LazyClient
from ferry.adapters.outbox import Outbox
from ferry.adapters.registry import Registry
from ferry.adapters.reporting import AuditLog, Notifier
from ferry.adapters.states import StateTable, apply_signals
from ferry.adapters.stepfunctions import RunbookStarter
from ferry.detection import DetectionPolicy
from ferry.errors import FerryError
from ferry.executor.reactions import Done, Executor
from ferry.observability import logger
from ferry.reactions import Reaction, react
from ferry.settings import ReactionSettings
from ferry.signals import Signal

ZONES_TTL = timedelta(seconds=60)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Verdicts:
    def __init__(
        self,
        settings: ReactionSettings,
        *,
        states: StateTable,
        registry: Registry,
        executor: Executor,
        outbox: Outbox,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._settings = settings
        self._states = states
        self._registry = registry
        self._executor = executor
        self._outbox = outbox
        self._clock = clock
        self._zones: tuple[tuple[str, ...], datetime] | None = None

    @classmethod
    def from_settings(cls, settings: ReactionSettings, dynamodb: Any, env: Mapping[str, str] = os.environ) -> Verdicts:
        table = settings.table_name
        executor = Executor(
            settings.mode,
            starter=RunbookStarter.from_env(LazyClient("stepfunctions"), env),
            audit=AuditLog(dynamodb, table),
            notifier=Notifier(LazyClient("sns"), settings.topic_arn),
        )
        return cls(
            settings,
            states=StateTable(dynamodb, table),
            registry=Registry(dynamodb, table),
            executor=executor,
            outbox=Outbox(dynamodb, table),
        )

    def policy(self) -> DetectionPolicy | None:
        """The policy over the registered clusters' zones; None while fewer than two zones are watched."""
        now = self._clock()
        if self._zones is None or now - self._zones[1] > ZONES_TTL:
            zones = tuple(sorted({z for c in self._registry.clusters() for z in c.zones}))
            self._zones = (zones, now)
        zones = self._zones[0]
        return self._settings.policy(zones) if len(zones) >= 2 else None

    def decide(self, signals: Iterable[Signal]) -> tuple[Done, ...]:
        """Apply the signals; carry out a reaction for each transition committed by this call."""
        policy = self.policy()
        if policy is None:
            logger.info("no registered clusters over two zones or more: nothing to decide")
            return ()
        now = self._clock()
        transitions = apply_signals(self._states, tuple(signals), now, policy)
        reactions = [react(t) for t in transitions]
        for reaction in reactions:
            self._outbox.put(reaction.action_id, reaction.to_dict(), now=now)
        done = []
        for reaction in reactions:
            # One reaction failing (SNS down, Step Functions throttling) must not stop the others, nor fail
            # the invocation: it stays in the outbox and the next probe round carries it out.
            try:
                done.append(self._carry_out(reaction))
            except FerryError as error:
                logger.error("reaction left pending", extra={"action_id": reaction.action_id, "error": str(error)})
        return tuple(done)

    def redo_pending(self, *, older_than: timedelta = timedelta(seconds=60)) -> tuple[Done, ...]:
        """Carry out the reactions a failed invocation left in the outbox; keep those that fail again."""
        done = []
        for action_id, payload in self._outbox.pending(created_before=self._clock() - older_than):
            logger.warning("carrying out a reaction left pending", extra={"action_id": action_id})
            try:
                done.append(self._carry_out(Reaction.from_dict(payload)))
            except FerryError as error:
                logger.error("pending reaction failed again", extra={"action_id": action_id, "error": str(error)})
        return tuple(done)

    def _carry_out(self, reaction: Reaction) -> Done:
        done = self._executor.carry_out(reaction)
        self._outbox.remove(reaction.action_id)
        return done
