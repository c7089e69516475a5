"""From Signals to actions, the one path both `ingest` and `probe` take.

Signals are decided against the stored zone and control-plane states (`apply_signals`); each committed
transition becomes a reaction (`ferry.domain.reactions`), written to the outbox first and then carried out by
the executor. A reaction the executor could not finish stays in the outbox, and the next probe round
carries it out (`redo_pending`), so no hand-off is lost between a committed transition and a started run.
The watched zones are those of the registered clusters: a zone no cluster uses is not Ferry's to judge,
and "every zone failed at once" means every zone Ferry watches.

Many ingest and probe invocations decide at once, and two of them may see signals about the same failure.
Each reads the states with their versions, decides with the pure detector, and writes back only if no one
wrote in between (`ferry.adapters.states` raises Conflict otherwise). A lost race is decided again from a
fresh read (the winner has committed by then), so no transition is lost (the loser recomputes on top of the
winner's facts) and none is doubled (the winner's transition is already in the state the loser reads).
After `attempts` lost races the call raises Conflict, which the caller retries like any transient failure.

The reaction path (`ferry.domain.reactions`, the reactions executor, Step Functions, the audit log, SNS) is
imported and built when a reaction is first carried out, not at cold start: most ingest batches commit no
transition, warn of no node and hold no drill, and ingest's cold start is held within 10% of its floor
(bench/ingest.py; each of those modules' frozen dataclasses costs it about 0.4% of that floor to build).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Protocol

from ferry.adapters.aws import LazyClient
from ferry.adapters.outbox import Outbox
from ferry.adapters.registry import Registry
from ferry.adapters.states import StateTable
from ferry.domain.detection import (
    ControlPlaneState,
    DetectionPolicy,
    Handoff,
    Transition,
    ZoneStatus,
    detect_control_plane,
    detect_region,
    with_roster,
)
from ferry.domain.detection.batches import ControlPlaneBatch, RegionBatch, split_batch, watched_zones
from ferry.domain.errors import Conflict, FerryError
from ferry.domain.signals import Signal
from ferry.observability import logger
from ferry.services.clocks import Clock
from ferry.services.settings.reactions import ReactionSettings

if TYPE_CHECKING:  # the reaction path is imported when a reaction is first carried out (see the module's end)
    from ferry.domain.decisions import Pause
    from ferry.domain.reactions import Notice, Reaction, RunbookRequest
    from ferry.executor.reactions import Done, Executor

ZONES_TTL = timedelta(seconds=60)
RETRY_EVERY = timedelta(minutes=5)  # how often an unfinished evacuation (a fence not confirmed) runs again
ATTEMPTS = 5  # lost races to concurrent writers before a batch gives up (Conflict)


class PauseRecords(Protocol):
    """Supervised runs' pauses (ferry.adapters.decisions.Pauses): what a person decided on a run. Like the
    claims, handed in by the probe only."""

    def get(self, run_id: str) -> Pause | None: ...


class Claims(Protocol):
    """Named claims with a lease (ferry.adapters.journal.Journal's locks). Only the probe retries evacuations:
    it hands its journal in, and ingest, which never retries, does not load the journal at its cold start."""

    def acquire(self, name: str, owner: str, now: datetime, lease: timedelta) -> bool: ...


def _region_of(zone: str) -> str:
    """us-east-1a -> us-east-1 (a zone name is its region's name and a letter)."""
    return zone[:-1]


def apply_signals(
    states: StateTable, signals: Iterable[Signal], now: datetime, policy: DetectionPolicy, *, attempts: int = ATTEMPTS
) -> tuple[Transition, ...]:
    """Decide a batch against the stored states, per watched region its zones together, then per registered
    cluster its control plane; return the transitions this call committed, zones first, each to be handed
    off once."""
    batches = split_batch(signals, policy)
    transitions: list[Transition] = []
    for region in batches.regions:
        decide = partial(_decide_region, states, region, now, policy)
        transitions += _retried(f"zones of {region.region}", attempts, decide)
    for plane in batches.control_planes:
        decide = partial(_decide_control_plane, states, plane, now, policy)
        transitions += _retried(f"control plane of {plane.cluster}", attempts, decide)
    return tuple(transitions)


def _retried(what: str, attempts: int, decide: Callable[[], tuple[Transition, ...]]) -> tuple[Transition, ...]:
    for _ in range(attempts):
        try:
            return decide()
        except Conflict:
            continue  # another writer committed first: decide again on top of its facts
    raise Conflict(f"{what}: lost {attempts} races to concurrent writers; retry the batch")


def _decide_region(
    states: StateTable, batch: RegionBatch, now: datetime, policy: DetectionPolicy
) -> tuple[Transition, ...]:
    before = states.read_region(batch.region, batch.zones)
    after, transitions = detect_region(before.state, batch.signals, now, policy)
    if after != before.state:
        states.write_region(before, after)
    return transitions


def _decide_control_plane(
    states: StateTable, batch: ControlPlaneBatch, now: datetime, policy: DetectionPolicy
) -> tuple[Transition, ...]:
    before = states.read_control_plane(batch.cluster)
    if before.registration is None:
        return ()  # not a cluster Ferry protects: no state, no failover
    roster = before.registration.control_plane_instances  # the members the detector trusts to say "all down"
    after, transitions = detect_control_plane(
        with_roster(before.state or ControlPlaneState(batch.cluster), roster), batch.signals, now, policy
    )
    if after != before.state:
        states.write_control_plane(before, after)
    return transitions


class Verdicts:
    def __init__(
        self,
        settings: ReactionSettings,
        *,
        states: StateTable,
        registry: Registry,
        executor: Callable[[], Executor],
        outbox: Outbox,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._states = states
        self._registry = registry
        self._executor = executor  # built on first use (cached by the caller)
        self._outbox = outbox
        self._clock = clock
        self._zones: tuple[tuple[str, ...], datetime] | None = None

    @classmethod
    def from_settings(
        cls, settings: ReactionSettings, dynamodb: Any, *, clock: Clock, env: Mapping[str, str] = os.environ
    ) -> Verdicts:
        table = settings.table_name

        @cache
        def executor() -> Executor:
            from ferry.adapters.reporting import AuditLog, Notifier
            from ferry.adapters.stepfunctions import RunbookStarter
            from ferry.executor.reactions import Executor

            return Executor(
                settings.mode,
                starter=RunbookStarter.from_env(LazyClient("stepfunctions"), env),
                audit=AuditLog(dynamodb, table),
                notifier=Notifier(LazyClient("sns"), settings.topic_arn),
                clock=clock,
            )

        return cls(
            settings,
            states=StateTable(dynamodb, table),
            registry=Registry(dynamodb, table),
            executor=executor,
            outbox=Outbox(dynamodb, table),
            clock=clock,
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
        return tuple(done for _, done in self.react_to(signals) if done is not None)

    def react_to(self, signals: Iterable[Signal]) -> tuple[tuple[Transition, Done | None], ...]:
        """`decide`, saying which transition each reaction is for (None: left pending in the outbox)."""
        policy = self.policy()
        if policy is None:
            logger.info("no registered clusters over two zones or more: nothing to decide")
            return ()
        now = self._clock()
        transitions = apply_signals(self._states, tuple(signals), now, policy)
        if not transitions:
            return ()
        from ferry.domain.reactions import react

        reactions = [react(t) for t in transitions]
        for reaction in reactions:
            self._outbox.put(reaction.action_id, reaction.to_dict(), now=now)
        done: list[tuple[Transition, Done | None]] = []
        for reaction in reactions:
            # One reaction failing (SNS down, Step Functions throttling) must not stop the others, nor fail
            # the invocation: it stays in the outbox and the next probe round carries it out.
            try:
                done.append((reaction.transition, self._carry_out(reaction)))
            except FerryError as error:
                logger.error("reaction left pending", extra={"action_id": reaction.action_id, "error": str(error)})
                done.append((reaction.transition, None))
        return tuple(done)

    def retry_unfinished(self, zones: Iterable[str], *, claims: Claims, pauses: PauseRecords) -> tuple[Done, ...]:
        """Start the evacuation of a still-IMPAIRED zone again where a node's fence is not yet confirmed.

        A node whose fence EC2 would not confirm is quarantined and its pets are left in place (nothing is
        forced without a fence). Every `RETRY_EVERY` the same plan runs again under a new name: its journal
        skips what is done, and it fences and moves what it can now. Step Functions refuses a second start of
        the same name, so many probe rounds in one period start one retry; the claims are held in `claims`
        (the probe's journal). What a person decided on the evacuation (supervised mode, its record in
        `pauses`) holds for its retries: `ferry.domain.decisions.retry_terms` says whether one starts and
        carries the approval.
        """
        wanted = sorted(set(zones))
        policy = self.policy() if wanted else None
        if policy is None:
            return ()
        from ferry.domain.decisions import retry_terms
        from ferry.domain.reactions import RunbookRequest

        now = self._clock()
        window = int(now.timestamp() // RETRY_EVERY.total_seconds())
        done = []
        by_region: dict[str, list[str]] = {}
        for zone in wanted:
            by_region.setdefault(_region_of(zone), []).append(zone)
        for region, names in sorted(by_region.items()):
            states = self._states.read_region(region, watched_zones(region, policy)).state
            for zone in names:
                state = states.zone(zone)
                if state is None or state.status is not ZoneStatus.IMPAIRED or not state.evacuation:
                    continue
                try:
                    terms = retry_terms(pauses.get(state.evacuation))
                except FerryError as error:  # the decision unread: no retry this round, the next one reads again
                    logger.error("evacuation retry not started", extra={"zone": zone, "error": str(error)})
                    continue
                if not terms.start:
                    logger.info("evacuation not retried", extra={"zone": zone, "why": terms.why})
                    continue
                reason = "retry: a node's fence was not confirmed; its pets are still in place" + (
                    f" ({terms.why})" if terms.approved_by else ""
                )
                request = RunbookRequest(
                    runbook=Handoff.EVACUATE_ZONE,
                    name=f"{state.evacuation}-retry-{window}"[:80],
                    input={
                        "zone": zone,
                        "reason": reason[:500],
                        "dryRun": False,
                        "requestedBy": "ferry-probe",
                        **terms.input,
                    },
                )
                # AWS answers a same-input start of a running execution with that execution, not a refusal:
                # a claim per name keeps the probe rounds of one period from each telling operators again.
                if not claims.acquire(f"retry:{request.name}", str(uuid.uuid4()), now, RETRY_EVERY):
                    continue
                try:
                    done.append(self._executor().start_run(request, who="ferry-probe", why=request.input["reason"]))
                except FerryError as error:
                    logger.error("evacuation retry not started", extra={"zone": zone, "error": str(error)})
        return tuple(done)

    def redo_pending(self, *, older_than: timedelta = timedelta(seconds=60)) -> tuple[Done, ...]:
        """Carry out the reactions a failed invocation left in the outbox; keep those that fail again."""
        from ferry.domain.reactions import Reaction

        done = []
        for action_id, payload in self._outbox.pending(created_before=self._clock() - older_than):
            logger.warning("carrying out a reaction left pending", extra={"action_id": action_id})
            try:
                done.append(self._carry_out(Reaction.from_dict(payload)))
            except FerryError as error:
                logger.error("pending reaction failed again", extra={"action_id": action_id, "error": str(error)})
        return tuple(done)

    def drain(self, request: RunbookRequest, *, why: str) -> Done:
        """A node warning's DrainNode (ferry.domain.reactions.drain_request): started in act mode, told always."""
        return self._executor().drain(request, why=why)

    def tell(self, notice: Notice) -> Done:
        """A notice that starts nothing (a drill): told once, whatever the mode."""
        return self._executor().tell(notice)

    def _carry_out(self, reaction: Reaction) -> Done:
        done = self._executor().carry_out(reaction)
        self._outbox.remove(reaction.action_id)
        return done
