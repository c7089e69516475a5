"""One zone's verdict: HEALTHY -> SUSPECT -> IMPAIRED -> RECOVERING -> HEALTHY (pure).

The state keeps facts, not counters, and every fact is merged by "the newest word wins" or a capped union
ordered by time. That makes the detector indifferent to the order and the repetition of its input: a signal
replayed, or delivered late, leaves the state as if it had arrived once and on time. The status is then a
function of those facts and the clock, evaluated until it no longer changes.

Facts about a zone:

- authorities: an AWS Health issue (keyed by its event ARN) or an ARC zonal shift (keyed by trigger and
  resources), open or closed. An open one impairs the zone at once. An opening that arrives older than the
  window decides nothing (STALE: an event from two years ago, delivered today, impairs nothing); once
  applied it holds until it is closed, however long that takes. A closing is never stale: a late
  resolution still resolves; a late, older issue never reopens a newer resolution. Drills (an ARC practice
  run, a FIS experiment) and a manual shift of a resource Ferry does not follow are not authorities: the
  translators give them kinds of their own, which this detector does not read.
- a person's override (SetZone, `ferry.domain.overrides`): ZONE_HELD_IMPAIRED is an authority like the
  others, keyed by the person and the run, that holds until a ZONE_MARKED_HEALTHY or until its `until`, when
  it lapses as if closed at that time (good news: the zone recovers through the normal hold-down, so there
  is no failback before `until`). ZONE_MARKED_HEALTHY closes every authority open before it, in the
  person's name: the way out for a zone whose Health "closed" event never came. It closes authorities only:
  evidence (the nodes witness, a quorum) still counts, so a zone a person calls healthy while its nodes are
  down relapses at once.
- a person's request (EVACUATION_REQUESTED): impairs the zone at once unless it predates the zone's last
  recovery. It holds nothing afterwards: once probes report the zone fine for the hold-down, Ferry fails
  back. A zone to be kept out for maintenance is shifted away with ARC, which holds until the shift ends.
- observations by three independent witnesses, each the newest word about one subject within the window:
  nodes (a probe's NODES_NOT_READY/NODES_READY per cluster), the fleet (INSTANCE_DOWN, ASG_TERMINATING,
  SPOT_INTERRUPTION against INSTANCE_UP per instance; EC2 and Auto Scaling report the same instances, so
  they are one voice), and alarms (ALARM_FIRING against ALARM_CLEARED per Ferry alarm).
- the newest bad and good news: bad is an authority opening, a request, a bad observation; good is an
  authority closing that was open, or NODES_READY.

Transitions:

- HEALTHY/SUSPECT -> IMPAIRED: an open authority, a pending request, or `quorum` witnesses with a bad
  observation in the window (unless static stability holds the zone: see `regions`).
- HEALTHY -> SUSPECT: one witness; SUSPECT -> HEALTHY: its evidence aged out or was withdrawn.
- IMPAIRED -> RECOVERING: no authority open, and good news newer than the last bad news and than the
  verdict itself. Silence is not health: an IMPAIRED zone no one speaks about stays IMPAIRED.
- RECOVERING -> IMPAIRED (relapse): zone-level evidence newer than the good news that started the recovery:
  an open authority, a person's request, the nodes witness (a cluster's nodes of the zone mostly not ready),
  or a quorum of witnesses with bad observations in the window, one of them from the hold-down. The
  evacuation already under way continues; no second one starts, and the hold-down starts again with the
  next good news. Single-instance news (one instance stopped, one Spot interruption, one alarm) is recorded
  but is not zone-level: in a busy fleet an instance stops somewhere every few minutes, and letting each one
  restart the hold-down would keep a recovered zone from ever failing back.
- RECOVERING -> HEALTHY (RECOVERED): `hold_down` of quiet (in that sense); failback starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from ferry.domain.detection.facts import (
    IgnoreReason,
    SignalRef,
    detector_clock,
    effective_time,
    is_future,
    is_stale,
    newer,
)
from ferry.domain.detection.policy import DetectionPolicy
from ferry.domain.detection.transitions import (
    Handoff,
    SubjectKind,
    Transition,
    TransitionReason,
    ZoneStatus,
    execution_name,
    is_execution_name,
    transition,
)
from ferry.domain.serialization import JsonModel, wire
from ferry.domain.signals import Signal, SignalKind

OBSERVATIONS_PER_WITNESS = 16  # enough to show the audit what happened; keeps the item small
AUTHORITY_MEMORY_WINDOWS = 288  # closed authorities are kept 288 windows (a day at 5 min) to refuse replays
EVIDENCE_NODES = "nodes"  # ferry.domain.probing: how many nodes of the cluster are in the zone
EVIDENCE_UNHEALTHY = "unhealthy"  # ferry.domain.probing: how many of them are NotReady or have a stale lease
EVIDENCE_EVENT_ARN = "eventArn"  # AWS Health
EVIDENCE_ALARM = "alarmName"  # CloudWatch
EVIDENCE_EXECUTION = "execution_name"  # EVACUATION_REQUESTED: the run the person already started
EVIDENCE_UNTIL = "until"  # ZONE_HELD_IMPAIRED: when the hold lapses (ISO-8601), absent when it holds until lifted


class Witness(StrEnum):
    NODES = "nodes"
    FLEET = "fleet"
    ALARMS = "alarms"


_AUTHORITY_OPEN = {
    SignalKind.HEALTH_ISSUE: True,
    SignalKind.ZONAL_SHIFT_STARTED: True,
    SignalKind.ZONE_HELD_IMPAIRED: True,
}
_AUTHORITY = {
    **_AUTHORITY_OPEN,
    SignalKind.HEALTH_RESOLVED: False,
    SignalKind.ZONAL_SHIFT_ENDED: False,
}
_OBSERVED: dict[SignalKind, tuple[Witness, bool]] = {
    SignalKind.INSTANCE_DOWN: (Witness.FLEET, True),
    SignalKind.ASG_TERMINATING: (Witness.FLEET, True),
    SignalKind.SPOT_INTERRUPTION: (Witness.FLEET, True),
    SignalKind.INSTANCE_UP: (Witness.FLEET, False),
    SignalKind.ALARM_FIRING: (Witness.ALARMS, True),
    SignalKind.ALARM_CLEARED: (Witness.ALARMS, False),
    SignalKind.NODES_NOT_READY: (Witness.NODES, True),
    SignalKind.NODES_READY: (Witness.NODES, False),
}
ZONE_KINDS = frozenset({*_AUTHORITY, *_OBSERVED, SignalKind.EVACUATION_REQUESTED, SignalKind.ZONE_MARKED_HEALTHY})
_OPENINGS = frozenset({*_AUTHORITY_OPEN, SignalKind.EVACUATION_REQUESTED})


@dataclass(frozen=True, slots=True)
class Authority(JsonModel):
    """An authoritative condition on the zone, open or closed, as of its newest signal; `until`: when a
    person's hold lapses on its own."""

    key: str
    open: bool
    ref: SignalRef
    until: datetime | None = field(default=None, metadata=wire(omit_empty=True))

    @property
    def order(self) -> tuple[datetime, int, str, str]:
        # At the same instant a resolution outranks an opening: acting needs the stronger case.
        return (self.ref.observed_at, 0 if self.open else 1, self.ref.kind.value, self.ref.source_id)


@dataclass(frozen=True, slots=True)
class Observation(JsonModel):
    """A witness's newest word about one subject: a cluster's nodes, an instance, an alarm."""

    witness: Witness
    subject: str
    bad: bool
    ref: SignalRef

    @property
    def order(self) -> tuple[datetime, int, str, str]:
        return (self.ref.observed_at, 0 if self.bad else 1, self.ref.kind.value, self.ref.source_id)


@dataclass(frozen=True, slots=True)
class ZoneState(JsonModel):
    """What Ferry believes about one zone, and the facts that belief rests on.

    `since` is when the status was entered; `impaired_since` when the current episode began (it names the
    evacuation and the failback); `recovering_from` the time of the good news that started the hold-down;
    `recovered_at` when the last episode ended; `held` that static stability keeps the zone from IMPAIRED.
    Its JSON (`to_dict`: ISO timestamps, no floats, snake_case keys) is the form stored in DynamoDB.
    """

    zone: str
    status: ZoneStatus = ZoneStatus.HEALTHY
    since: datetime | None = None
    updated_at: datetime | None = None
    held: bool = False
    impaired_since: datetime | None = None
    evacuation: str | None = None
    recovering_from: datetime | None = None
    recovered_at: datetime | None = None
    last_bad: SignalRef | None = None
    last_good: SignalRef | None = None
    request: SignalRef | None = None
    request_execution: str | None = None
    authorities: tuple[Authority, ...] = ()
    observations: tuple[Observation, ...] = ()


# ---------------------------------------------------------------------------------------------- public API


def stale_on_arrival(signal: Signal, clock: datetime, window: timedelta) -> bool:
    """Whether a signal is too old to decide anything: an observation, or an authority's opening (or a
    person's request), observed a whole window or more before `clock`. Closings are never stale."""
    if signal.kind not in _OBSERVED and signal.kind not in _OPENINGS:
        return False
    return is_stale(effective_time(signal, clock), clock, window)


def closes_open_issue(state: ZoneState, signal: Signal) -> bool:
    """Whether `signal` is a zone-less AWS Health resolution of an issue open in this zone.

    The zone states are the index: each Health issue is an authority keyed by its event ARN, so a resolution
    whose zone could not be found (its instances gone, its text naming none) still closes its issue, in
    whichever zones it was opened.
    """
    if signal.zone is not None or signal.kind is not SignalKind.HEALTH_RESOLVED:
        return False
    if not signal.evidence.get(EVIDENCE_EVENT_ARN):
        return False
    key = _authority_key(signal)
    return any(a.key == key and a.open for a in state.authorities)


def step_zone(
    state: ZoneState, signal: Signal, now: datetime, policy: DetectionPolicy
) -> tuple[ZoneState, tuple[Transition, ...]]:
    """One signal for one zone, without static stability (the region applies it: `regions.step_region`)."""
    return detect_zone(state, (signal,), now, policy)


def detect_zone(
    state: ZoneState,
    signals: Iterable[Signal],
    now: datetime,
    policy: DetectionPolicy,
    *,
    may_impair: bool = True,
) -> tuple[ZoneState, tuple[Transition, ...]]:
    """Signals (any order; those for other zones are ignored) and the passing of time, for one zone.

    `may_impair=False` is static stability's lever: the zone may not newly become IMPAIRED; it is held
    SUSPECT with a STATIC_STABILITY transition instead.
    """
    clock = detector_clock(now, state.updated_at)
    return settle_zone(merge_zone(state, signals, clock, policy), state, clock, policy, may_impair=may_impair)


def screen_zone_signal(
    signal: Signal,
    zones: Iterable[str],
    clock: datetime,
    policy: DetectionPolicy,
    *,
    region: str | None = None,
) -> IgnoreReason | None:
    """Why the zone detector would leave `signal` out, or None if it counts.

    `region`, when given, must match: a zone of another region is an unknown zone.
    """
    if signal.zone is None:
        return IgnoreReason.NO_ZONE
    if (region is not None and signal.region != region) or signal.zone not in zones:
        return IgnoreReason.UNKNOWN_ZONE
    if signal.kind not in ZONE_KINDS:
        return IgnoreReason.NOT_RELEVANT
    if is_future(signal, clock, policy.future_skew):
        return IgnoreReason.FUTURE
    if stale_on_arrival(signal, clock, policy.window):
        return IgnoreReason.STALE
    if signal.kind is SignalKind.NODES_NOT_READY and _nodes_bad(signal, policy) is None:
        return IgnoreReason.MALFORMED_EVIDENCE
    return None


# ------------------------------------------------------------------------------------------------ merging


def merge_zone(state: ZoneState, signals: Iterable[Signal], clock: datetime, policy: DetectionPolicy) -> ZoneState:
    """Fold the signals' facts into the state; order and repetition do not matter."""
    for signal in sorted(signals, key=lambda s: (s.observed_at, s.kind.value, s.source_id)):
        if screen_zone_signal(signal, (state.zone,), clock, policy) is None:
            state = _merge_one(state, signal, clock, policy)
    return state


def _merge_one(state: ZoneState, signal: Signal, clock: datetime, policy: DetectionPolicy) -> ZoneState:
    ref = SignalRef.of(signal, clock)
    if signal.kind in _AUTHORITY:
        until = (
            _timestamp(signal.evidence.get(EVIDENCE_UNTIL)) if signal.kind is SignalKind.ZONE_HELD_IMPAIRED else None
        )
        return _merge_authority(state, Authority(_authority_key(signal), _AUTHORITY[signal.kind], ref, until))
    if signal.kind is SignalKind.ZONE_MARKED_HEALTHY:
        return _merge_all_clear(state, ref)
    if signal.kind is SignalKind.EVACUATION_REQUESTED:
        return _merge_request(state, signal, ref)
    witness, bad = _OBSERVED[signal.kind]
    if signal.kind is SignalKind.NODES_NOT_READY:
        bad = bool(_nodes_bad(signal, policy))
    return _merge_observation(state, Observation(witness, _subject(signal, witness), bad, ref), signal.kind)


def _merge_authority(state: ZoneState, authority: Authority) -> ZoneState:
    current = next((a for a in state.authorities if a.key == authority.key), None)
    if current is not None and (current.ref.identity == authority.ref.identity or current.order >= authority.order):
        return state  # a replay, or older than what is known: superseded
    others = tuple(a for a in state.authorities if a.key != authority.key)
    changes: dict[str, Any] = {"authorities": tuple(sorted((*others, authority), key=lambda a: a.key))}
    if authority.open:
        changes["last_bad"] = newer(state.last_bad, authority.ref)
    elif current is not None and current.open:
        changes["last_good"] = newer(state.last_good, authority.ref)
    return dataclasses.replace(state, **changes)


def _merge_all_clear(state: ZoneState, ref: SignalRef) -> ZoneState:
    """A person says the zone is healthy: every authority open before they said it is closed in their name.

    The closed authority keeps the person's reference, so a replay of the opening (older) stays superseded,
    while an authority opened after the all-clear still counts.
    """
    if state.last_good is not None and state.last_good.identity == ref.identity:
        return state  # a replay
    closed = tuple(
        dataclasses.replace(a, open=False, ref=ref, until=None) if a.open and a.ref.order < ref.order else a
        for a in state.authorities
    )
    return dataclasses.replace(state, authorities=closed, last_good=newer(state.last_good, ref))


def _merge_request(state: ZoneState, signal: Signal, ref: SignalRef) -> ZoneState:
    if state.request is not None and (state.request.identity == ref.identity or state.request.order >= ref.order):
        return state
    execution = signal.evidence.get(EVIDENCE_EXECUTION)
    return dataclasses.replace(
        state,
        request=ref,
        request_execution=execution if execution and is_execution_name(execution) else None,
        last_bad=newer(state.last_bad, ref),
    )


def _merge_observation(state: ZoneState, observation: Observation, kind: SignalKind) -> ZoneState:
    key = (observation.witness, observation.subject)
    current = next((o for o in state.observations if (o.witness, o.subject) == key), None)
    if current is not None and (current.ref.identity == observation.ref.identity or current.order >= observation.order):
        return state
    kept = [o for o in state.observations if (o.witness, o.subject) != key]
    same_witness = sorted(
        (o for o in [*kept, observation] if o.witness is observation.witness), key=lambda o: o.order, reverse=True
    )[:OBSERVATIONS_PER_WITNESS]
    if observation not in same_witness:
        return state  # older than every word the witness already has on record
    observations = tuple(
        sorted(
            [*(o for o in kept if o.witness is not observation.witness), *same_witness],
            key=lambda o: (o.witness.value, o.subject),
        )
    )
    changes: dict[str, Any] = {"observations": observations}
    if observation.bad:
        changes["last_bad"] = newer(state.last_bad, observation.ref)
    elif kind is SignalKind.NODES_READY:
        changes["last_good"] = newer(state.last_good, observation.ref)
    return dataclasses.replace(state, **changes)


def _authority_key(signal: Signal) -> str:
    if signal.kind in (SignalKind.HEALTH_ISSUE, SignalKind.HEALTH_RESOLVED):
        return "health:" + (signal.evidence.get(EVIDENCE_EVENT_ARN) or signal.source_id)
    if signal.kind is SignalKind.ZONE_HELD_IMPAIRED:
        return "operator-hold:" + signal.source_id  # the person and their run: each hold is its own
    # ARC shifts are per resource: a shift of one load balancer ending does not end another's.
    return f"zonal-shift:{signal.evidence.get('trigger', '')}:{signal.evidence.get('resources', '')}"


def _subject(signal: Signal, witness: Witness) -> str:
    if witness is Witness.NODES:
        return signal.cluster or "-"
    if witness is Witness.ALARMS:
        return signal.evidence.get(EVIDENCE_ALARM) or signal.source_id
    return signal.instance or signal.source_id


def _nodes_bad(signal: Signal, policy: DetectionPolicy) -> bool | None:
    """More than the policy's fraction of the zone's nodes unhealthy; None when the counts are unusable."""
    nodes = _count(signal.evidence.get(EVIDENCE_NODES))
    unhealthy = _count(signal.evidence.get(EVIDENCE_UNHEALTHY))
    if nodes is None or unhealthy is None or nodes == 0 or unhealthy > nodes:
        return None
    return unhealthy > nodes * policy.nodes_not_ready_fraction


def _count(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None


def _timestamp(raw: str | None) -> datetime | None:
    """An ISO-8601 time with its offset; None when absent or unreadable (a hold without an end holds)."""
    try:
        at = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None


# ---------------------------------------------------------------------------------------------- settling


def settle_zone(
    merged: ZoneState,
    before: ZoneState,
    clock: datetime,
    policy: DetectionPolicy,
    *,
    may_impair: bool = True,
) -> tuple[ZoneState, tuple[Transition, ...]]:
    """Prune aged facts and re-evaluate the status until it holds; stamp `updated_at` only on a change."""
    state = _prune(merged, clock, policy)
    if state is before and before.status is not ZoneStatus.RECOVERING and not before.held:
        # No new fact and none aged out: a settled state stays settled (only a hold-down or a held zone
        # depends on the clock alone). Most zones take this path on most signals.
        return before, ()
    transitions: list[Transition] = []
    for _ in range(8):  # a handful of steps at most (HEALTHY -> IMPAIRED -> RECOVERING); bounded all the same
        step = _next(state, clock, policy, may_impair)
        if step is None:
            break
        state, transition = step
        if transition is not None:
            transitions.append(transition)
    if state == before:
        return before, ()
    return dataclasses.replace(state, updated_at=clock), tuple(transitions)


def _prune(state: ZoneState, clock: datetime, policy: DetectionPolicy) -> ZoneState:
    state = _lapse(state, clock)
    # The common case, nothing aged out, is checked first without building anything: it runs for every zone
    # on every signal.
    if all(not is_stale(o.ref.observed_at, clock, policy.window) for o in state.observations) and all(
        a.open or not is_stale(a.ref.observed_at, clock, policy.window * AUTHORITY_MEMORY_WINDOWS)
        for a in state.authorities
    ):
        return state
    observations = tuple(o for o in state.observations if not is_stale(o.ref.observed_at, clock, policy.window))
    memory = policy.window * AUTHORITY_MEMORY_WINDOWS
    authorities = tuple(a for a in state.authorities if a.open or not is_stale(a.ref.observed_at, clock, memory))
    return dataclasses.replace(state, observations=observations, authorities=authorities)


def _lapse(state: ZoneState, clock: datetime) -> ZoneState:
    """A person's hold whose `until` has come closes as if a closing had arrived then: good news at `until`."""
    if not any(a.open and a.until is not None and a.until <= clock for a in state.authorities):
        return state
    authorities, last_good = [], state.last_good
    for authority in state.authorities:
        if authority.open and authority.until is not None and authority.until <= clock:
            lapsed = dataclasses.replace(authority.ref, observed_at=authority.until)
            authorities.append(dataclasses.replace(authority, open=False, ref=lapsed))
            last_good = newer(last_good, lapsed)
        else:
            authorities.append(authority)
    return dataclasses.replace(state, authorities=tuple(authorities), last_good=last_good)


class _Case(NamedTuple):
    """Why a zone would be impaired right now, with the signals that say so. (A private record: a NamedTuple
    costs ingest's cold start a quarter of a frozen dataclass, and nothing compares, hashes or prints it.)"""

    authorities: tuple[SignalRef, ...]
    request: SignalRef | None
    witnesses: frozenset[Witness]
    observations: tuple[SignalRef, ...]

    def impairs(self, quorum: int) -> bool:
        return bool(self.authorities) or self.request is not None or len(self.witnesses) >= quorum

    def reason(self) -> TransitionReason:
        if self.authorities:
            return TransitionReason.AUTHORITY
        return TransitionReason.OPERATOR_REQUEST if self.request else TransitionReason.QUORUM

    def signals(self) -> tuple[SignalRef, ...]:
        refs = [*self.authorities, *([self.request] if self.request else []), *self.observations]
        return tuple(sorted(set(refs), key=lambda r: r.order))


def _case(state: ZoneState) -> _Case:
    bad = [o for o in state.observations if o.bad]
    pending = state.request is not None and (
        state.recovered_at is None or state.request.observed_at > state.recovered_at
    )
    return _Case(
        authorities=tuple(a.ref for a in state.authorities if a.open),
        request=state.request if pending else None,
        witnesses=frozenset(o.witness for o in bad),
        observations=tuple(o.ref for o in bad),
    )


def _next(
    state: ZoneState, clock: datetime, policy: DetectionPolicy, may_impair: bool
) -> tuple[ZoneState, Transition | None] | None:
    if state.status in (ZoneStatus.HEALTHY, ZoneStatus.SUSPECT):
        return _next_when_healthy(state, clock, policy, may_impair)
    if state.status is ZoneStatus.IMPAIRED:
        return _next_when_impaired(state, clock)
    return _next_when_recovering(state, clock, policy)


def _next_when_healthy(
    state: ZoneState, clock: datetime, policy: DetectionPolicy, may_impair: bool
) -> tuple[ZoneState, Transition | None] | None:
    case = _case(state)
    if case.impairs(policy.quorum) and may_impair:
        evacuation = (case.request and state.request_execution) or execution_name("evacuate", state.zone, at=clock)
        new = dataclasses.replace(
            state, status=ZoneStatus.IMPAIRED, since=clock, held=False, impaired_since=clock, evacuation=evacuation
        )
        return new, _transition(
            state, new, clock, case.reason(), case.signals(), handoff=Handoff.EVACUATE_ZONE, name=evacuation
        )
    if case.impairs(policy.quorum):
        if state.held and state.status is ZoneStatus.SUSPECT:
            return None
        new = dataclasses.replace(state, status=ZoneStatus.SUSPECT, since=_since(state, clock), held=True)
        return new, _transition(state, new, clock, TransitionReason.STATIC_STABILITY, case.signals())
    target = ZoneStatus.SUSPECT if case.witnesses else ZoneStatus.HEALTHY
    if state.status is target and not state.held:
        return None
    new = dataclasses.replace(state, status=target, since=_since(state, clock, target), held=False)
    if state.status is target:
        return new, None  # the hold was released quietly: the case for impairment went away
    reason = TransitionReason.EVIDENCE if target is ZoneStatus.SUSPECT else TransitionReason.EVIDENCE_EXPIRED
    return new, _transition(state, new, clock, reason, case.signals())


def _next_when_impaired(state: ZoneState, clock: datetime) -> tuple[ZoneState, Transition | None] | None:
    good, bad = state.last_good, state.last_bad
    if any(a.open for a in state.authorities) or good is None:
        return None
    if (bad is not None and good.order <= bad.order) or (
        state.impaired_since is not None and good.observed_at <= state.impaired_since
    ):
        return None  # the good news is not newer than the bad news, or than the verdict itself
    new = dataclasses.replace(state, status=ZoneStatus.RECOVERING, since=clock, recovering_from=good.observed_at)
    return new, _transition(state, new, clock, TransitionReason.RECOVERY_SIGNALLED, (good,))


def _next_when_recovering(
    state: ZoneState, clock: datetime, policy: DetectionPolicy
) -> tuple[ZoneState, Transition | None] | None:
    relapse = _relapse(state, policy)
    if relapse:
        new = dataclasses.replace(state, status=ZoneStatus.IMPAIRED, since=clock, recovering_from=None)
        return new, _transition(state, new, clock, TransitionReason.RELAPSED, relapse, name=state.evacuation)
    if state.since is not None and clock - state.since < policy.hold_down:
        return None
    failback = execution_name("failback", state.zone, at=state.impaired_since or clock)
    new = dataclasses.replace(
        state,
        status=ZoneStatus.HEALTHY,
        since=clock,
        held=False,
        impaired_since=None,
        evacuation=None,
        recovering_from=None,
        recovered_at=clock,
    )
    return new, _transition(
        state, new, clock, TransitionReason.RECOVERED, (), handoff=Handoff.FAILBACK_ZONE, name=failback
    )


def _relapse(state: ZoneState, policy: DetectionPolicy) -> tuple[SignalRef, ...]:
    """The zone-level evidence that ends a hold-down, oldest first; empty while the zone is quiet.

    Quiet means no zone-level news since the recovery began (`recovering_from`): an authority open (at any
    time: it holds until closed), a person's request, a bad word from the nodes witness, or a quorum of
    witnesses bad in the window with at least one of them speaking during the hold-down. A lone fleet or
    alarm observation is recorded in the state (and may make the zone SUSPECT once HEALTHY) but ends nothing.
    """
    since = state.recovering_from
    authorities = [a.ref for a in state.authorities if a.open]
    if since is None:
        return tuple(sorted(authorities, key=lambda r: r.order))
    request = [state.request] if state.request is not None and state.request.observed_at > since else []
    bad = [o for o in state.observations if o.bad]
    fresh = [o for o in bad if o.ref.observed_at > since]
    nodes = [o.ref for o in fresh if o.witness is Witness.NODES]
    quorum = [o.ref for o in bad] if fresh and len({o.witness for o in bad}) >= policy.quorum else []
    return tuple(sorted({*authorities, *request, *nodes, *quorum}, key=lambda r: r.order))


def _since(state: ZoneState, clock: datetime, target: ZoneStatus = ZoneStatus.SUSPECT) -> datetime | None:
    return state.since if state.status is target else clock


def _transition(
    before: ZoneState,
    after: ZoneState,
    clock: datetime,
    reason: TransitionReason,
    signals: tuple[SignalRef, ...],
    *,
    handoff: Handoff | None = None,
    name: str | None = None,
) -> Transition:
    return transition(
        SubjectKind.ZONE,
        before.zone,
        before.status,
        after.status,
        clock=clock,
        reason=reason,
        signals=signals,
        handoff=handoff,
        name=name,
    )
