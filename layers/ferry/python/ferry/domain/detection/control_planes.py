"""One cluster's control plane: UP -> DEGRADED -> DOWN -> UP (pure).

A control plane is DOWN when its API is gone: `probe_quorum` consecutive probe rounds found it unreachable,
or every registered control-plane instance is stopped or terminated. DOWN hands off FailoverCluster. It is
DEGRADED when one member is unhealthy (its `/readyz` failed, or its instance stopped) while the API still
answers: that member is named and ReplaceControlPlaneMember is handed off, once per member and episode.

Hysteresis, so that a flapping probe does not fail a cluster over and back every minute:

- DOWN needs `probe_quorum` (3) consecutive unreachable rounds; one failed round changes nothing.
- Leaving DOWN needs `recovery_rounds` (2) consecutive healthy rounds, and not every registered member down.
- A member is unhealthy from its first failed `/readyz` until `recovery_rounds` consecutive passes.

"Consecutive" is by observed time, not arrival: rounds are kept ordered and a late round falls into its
place. Members come from the cluster's registration (the roster, set by the caller with `with_roster`) and
from the probe's member signals; an EC2 signal counts only for a known member or one whose evidence says
`role=control-plane`. Only the roster decides "every member down": a member list learned from a few signals
could be partial, and a partial list would fail a healthy cluster over. Learned members that say nothing for
a window are forgotten; the roster's are kept, with their last EC2 word, until the registration drops them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ferry.domain.detection.facts import (
    IgnoreReason,
    SignalRef,
    detector_clock,
    effective_time,
    is_future,
    is_stale,
)
from ferry.domain.detection.policy import DetectionPolicy
from ferry.domain.detection.transitions import (
    ControlPlaneStatus,
    Handoff,
    SubjectKind,
    Transition,
    TransitionReason,
    execution_name,
    transition,
)
from ferry.domain.serialization import JsonModel
from ferry.domain.signals import Signal, SignalKind

EVIDENCE_ROLE = "role"  # on an EC2 signal: "control-plane" marks an instance of the control plane
CONTROL_PLANE_ROLE = "control-plane"

_API = {SignalKind.API_HEALTHY: True, SignalKind.API_UNREACHABLE: False}
_READYZ = {SignalKind.CONTROL_PLANE_MEMBER_HEALTHY: True, SignalKind.CONTROL_PLANE_MEMBER_UNHEALTHY: False}
_EC2 = {SignalKind.INSTANCE_UP: True, SignalKind.INSTANCE_DOWN: False}
CONTROL_PLANE_KINDS = frozenset({*_API, *_READYZ, *_EC2})


@dataclass(frozen=True, slots=True)
class Reading(JsonModel):
    """One probe round's answer (or one EC2 word): ok or not."""

    ok: bool
    ref: SignalRef


@dataclass(frozen=True, slots=True)
class Member(JsonModel):
    """A control-plane instance: its recent `/readyz` rounds, its newest EC2 word, its replacement if any."""

    instance: str
    rostered: bool = False
    readyz: tuple[Reading, ...] = ()
    ec2: Reading | None = None
    unhealthy_since: datetime | None = None
    replacement: str | None = None

    @property
    def unhealthy(self) -> bool:
        return any(not r.ok for r in self.readyz) or (self.ec2 is not None and not self.ec2.ok)

    @property
    def last_word(self) -> datetime | None:
        times = [r.ref.observed_at for r in self.readyz] + ([self.ec2.ref.observed_at] if self.ec2 else [])
        return max(times, default=None)


@dataclass(frozen=True, slots=True)
class ControlPlaneState(JsonModel):
    """What Ferry believes about one cluster's control plane; `failover` names the run while DOWN."""

    cluster: str
    status: ControlPlaneStatus = ControlPlaneStatus.UP
    since: datetime | None = None
    updated_at: datetime | None = None
    api: tuple[Reading, ...] = ()
    members: tuple[Member, ...] = ()
    down_since: datetime | None = None
    failover: str | None = None

    def member(self, instance: str) -> Member | None:
        return next((m for m in self.members if m.instance == instance), None)


# ---------------------------------------------------------------------------------------------- public API


def with_roster(state: ControlPlaneState, instances: Iterable[str]) -> ControlPlaneState:
    """The registration's control-plane instances: added if new, un-rostered if the registration dropped them."""
    roster = set(instances)
    members = {m.instance: dataclasses.replace(m, rostered=m.instance in roster) for m in state.members}
    for instance in roster - members.keys():
        members[instance] = Member(instance, rostered=True)
    new = dataclasses.replace(state, members=tuple(members[i] for i in sorted(members)))
    return state if new == state else new


def step_control_plane(
    state: ControlPlaneState, signal: Signal, now: datetime, policy: DetectionPolicy
) -> tuple[ControlPlaneState, tuple[Transition, ...]]:
    return detect_control_plane(state, (signal,), now, policy)


def detect_control_plane(
    state: ControlPlaneState, signals: Iterable[Signal], now: datetime, policy: DetectionPolicy
) -> tuple[ControlPlaneState, tuple[Transition, ...]]:
    """Signals (any order; other clusters' are ignored) and the passing of time, for one control plane."""
    clock = detector_clock(now, state.updated_at)
    merged = state
    for signal in sorted(signals, key=lambda s: (s.observed_at, s.kind.value, s.source_id)):
        if screen_control_plane_signal(merged, signal, clock, policy) is None:
            merged = _merge_one(merged, signal, clock, policy)
    settled, transitions = _settle(_prune(merged, clock, policy), clock, policy)
    if settled == state:
        return state, ()
    return dataclasses.replace(settled, updated_at=clock), transitions


def screen_control_plane_signal(
    state: ControlPlaneState, signal: Signal, clock: datetime, policy: DetectionPolicy
) -> IgnoreReason | None:
    """Why the control-plane detector would leave `signal` out, or None if it counts."""
    if signal.kind not in CONTROL_PLANE_KINDS:
        return IgnoreReason.NOT_RELEVANT
    if signal.cluster is None:
        return IgnoreReason.NO_CLUSTER
    if signal.cluster != state.cluster:
        return IgnoreReason.OTHER_CLUSTER
    if is_future(signal, clock, policy.future_skew):
        return IgnoreReason.FUTURE
    if is_stale(effective_time(signal, clock), clock, policy.window):
        return IgnoreReason.STALE
    if signal.kind in _READYZ and not signal.instance:
        return IgnoreReason.MALFORMED_EVIDENCE
    if signal.kind in _EC2:
        if not signal.instance:
            return IgnoreReason.MALFORMED_EVIDENCE
        if state.member(signal.instance) is None and signal.evidence.get(EVIDENCE_ROLE) != CONTROL_PLANE_ROLE:
            return IgnoreReason.NOT_A_MEMBER
    return None


# ------------------------------------------------------------------------------------------------ merging


def _merge_one(state: ControlPlaneState, signal: Signal, clock: datetime, policy: DetectionPolicy) -> ControlPlaneState:
    ref = SignalRef.of(signal, clock)
    if signal.kind in _API:
        keep = max(policy.probe_quorum, policy.recovery_rounds)
        return dataclasses.replace(state, api=_insert(state.api, Reading(_API[signal.kind], ref), keep))
    instance = signal.instance or ""
    member = state.member(instance) or Member(instance)
    if signal.kind in _READYZ:
        member = dataclasses.replace(
            member, readyz=_insert(member.readyz, Reading(_READYZ[signal.kind], ref), policy.recovery_rounds)
        )
    elif member.ec2 is None or (ref.identity != member.ec2.ref.identity and ref.order > member.ec2.ref.order):
        member = dataclasses.replace(member, ec2=Reading(_EC2[signal.kind], ref))
    others = [m for m in state.members if m.instance != instance]
    return dataclasses.replace(state, members=tuple(sorted([*others, member], key=lambda m: m.instance)))


def _insert(readings: tuple[Reading, ...], reading: Reading, keep: int) -> tuple[Reading, ...]:
    """The newest `keep` readings in time order; a replayed round (same id and kind) is already there."""
    if any(r.ref.identity == reading.ref.identity for r in readings):
        return readings
    return tuple(sorted([*readings, reading], key=lambda r: r.ref.order)[-keep:])


def _prune(state: ControlPlaneState, clock: datetime, policy: DetectionPolicy) -> ControlPlaneState:
    def fresh(readings: tuple[Reading, ...]) -> tuple[Reading, ...]:
        if all(not is_stale(r.ref.observed_at, clock, policy.window) for r in readings):
            return readings  # the common case: rebuild nothing
        return tuple(r for r in readings if not is_stale(r.ref.observed_at, clock, policy.window))

    members = []
    for member in state.members:
        if not member.rostered:
            last = member.last_word
            if last is None or is_stale(last, clock, policy.window):
                continue  # a learned member that fell silent: replaced, or no longer a member
        readyz = fresh(member.readyz)
        members.append(member if readyz is member.readyz else dataclasses.replace(member, readyz=readyz))
    api = fresh(state.api)
    if (
        api is state.api
        and all(m is o for m, o in zip(members, state.members, strict=False))
        and len(members) == len(state.members)
    ):
        return state
    return dataclasses.replace(state, api=api, members=tuple(members))


# ---------------------------------------------------------------------------------------------- settling


def _trailing(readings: tuple[Reading, ...], ok: bool) -> tuple[Reading, ...]:
    run: list[Reading] = []
    for reading in reversed(readings):
        if reading.ok is not ok:
            break
        run.append(reading)
    return tuple(reversed(run))


def _down_case(
    state: ControlPlaneState, policy: DetectionPolicy
) -> tuple[TransitionReason, tuple[SignalRef, ...]] | None:
    unreachable = _trailing(state.api, ok=False)
    if len(unreachable) >= policy.probe_quorum:
        return TransitionReason.API_UNREACHABLE, tuple(r.ref for r in unreachable)
    roster = [m for m in state.members if m.rostered]
    if roster and all(m.ec2 is not None and not m.ec2.ok for m in roster):
        return TransitionReason.MEMBERS_DOWN, tuple(m.ec2.ref for m in roster if m.ec2)
    return None


def _settle(
    state: ControlPlaneState, clock: datetime, policy: DetectionPolicy
) -> tuple[ControlPlaneState, tuple[Transition, ...]]:
    down = _down_case(state, policy)
    transitions: list[Transition] = []
    if state.status is not ControlPlaneStatus.DOWN and down is not None:
        reason, refs = down
        failover = execution_name("failover", state.cluster, at=clock)
        new = dataclasses.replace(
            state, status=ControlPlaneStatus.DOWN, since=clock, down_since=clock, failover=failover
        )
        return new, (_transition(state, new, clock, reason, refs, handoff=Handoff.FAILOVER_CLUSTER, name=failover),)
    if state.status is ControlPlaneStatus.DOWN:
        healthy = _trailing(state.api, ok=True)
        if down is not None or len(healthy) < policy.recovery_rounds:
            return state, ()
        left = dataclasses.replace(state, status=_member_status(state), since=clock, down_since=None, failover=None)
        transitions.append(
            _transition(state, left, clock, TransitionReason.API_RECOVERED, tuple(r.ref for r in healthy))
        )
        state = left
    return _settle_members(state, clock, transitions)


def _member_status(state: ControlPlaneState) -> ControlPlaneStatus:
    return ControlPlaneStatus.DEGRADED if any(m.unhealthy for m in state.members) else ControlPlaneStatus.UP


def _settle_members(
    state: ControlPlaneState, clock: datetime, transitions: list[Transition]
) -> tuple[ControlPlaneState, tuple[Transition, ...]]:
    """Outside DOWN: hand off one replacement per newly unhealthy member; clear members that passed again."""
    members = []
    status = state.status
    for member in state.members:
        if member.unhealthy and member.unhealthy_since is None:
            name = execution_name("replace", state.cluster, member.instance, at=clock)
            members.append(dataclasses.replace(member, unhealthy_since=clock, replacement=name))
            transitions.append(_replacement(state.cluster, member, status, clock, name))
            status = ControlPlaneStatus.DEGRADED
        elif not member.unhealthy and member.unhealthy_since is not None:
            members.append(dataclasses.replace(member, unhealthy_since=None, replacement=None))
        else:
            members.append(member)
    new = dataclasses.replace(state, members=tuple(members))
    target = _member_status(new)
    if target is not state.status:
        new = dataclasses.replace(new, status=target, since=clock)
        if target is ControlPlaneStatus.UP:
            transitions.append(_transition(state, new, clock, TransitionReason.MEMBERS_HEALTHY, ()))
    return new, tuple(transitions)


def _replacement(cluster: str, member: Member, status: ControlPlaneStatus, clock: datetime, name: str) -> Transition:
    refs = tuple(r.ref for r in member.readyz if not r.ok)
    if member.ec2 is not None and not member.ec2.ok:
        refs += (member.ec2.ref,)
    return Transition(
        subject_kind=SubjectKind.CONTROL_PLANE,
        subject=cluster,
        from_status=status,
        to_status=ControlPlaneStatus.DEGRADED,
        at=clock,
        reason=TransitionReason.MEMBER_UNHEALTHY,
        signals=refs,
        handoff=Handoff.REPLACE_CONTROL_PLANE_MEMBER,
        execution_name=name,
        member=member.instance,
    )


def _transition(
    before: ControlPlaneState,
    after: ControlPlaneState,
    clock: datetime,
    reason: TransitionReason,
    signals: tuple[SignalRef, ...],
    *,
    handoff: Handoff | None = None,
    name: str | None = None,
) -> Transition:
    return transition(
        SubjectKind.CONTROL_PLANE,
        before.cluster,
        before.status,
        after.status,
        clock=clock,
        reason=reason,
        signals=signals,
        handoff=handoff,
        name=name,
    )
