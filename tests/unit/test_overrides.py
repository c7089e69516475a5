"""A person's word on a zone (SetZone): how the detector takes it, and what a request must be to be heard."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ferry.domain.detection import Handoff, TransitionReason, ZoneState
from ferry.domain.errors import InputError
from ferry.domain.overrides import SetZoneRequest, ZoneSetting, override_signal, set_zone_report
from ferry.domain.signals import Signal, SignalKind, Source
from tests.unit.test_detection_zones import (
    IMP,
    RECOVERING_AT_20,
    TO_RECOVERING,
    H,
    K,
    R,
    Step,
    at,
    moves,
    run,
    sig,
    tick,
)

A, ZONES = "us-east-1a", ("us-east-1a", "us-east-1b", "us-east-1c")


def person(state: ZoneSetting, minute: float, *, until: float | None = None, who: str = "alice") -> Signal:
    request = SetZoneRequest(
        zone=A,
        state=state,
        reason="maintenance",
        requested_by=who,
        run_id=f"set-{state.value}-{minute}",
        until=at(until) if until is not None else None,
    )
    return override_signal(request, now=at(minute), zones=ZONES)


HEALTHY, IMPAIRED = ZoneSetting.HEALTHY, ZoneSetting.IMPAIRED
STUCK = [sig(K.HEALTH_ISSUE, 0), sig(K.NODES_READY, 20)]  # Health's "closed" never comes: IMPAIRED for good
AUTHORITY = (H, IMP, TransitionReason.AUTHORITY)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param([*STUCK, tick(120)], [AUTHORITY], id="a-lost-closing-keeps-the-zone-impaired"),
        pytest.param(
            [*STUCK, person(HEALTHY, 30), tick(39.9)],
            [AUTHORITY, (IMP, R, TransitionReason.RECOVERY_SIGNALLED)],
            id="marked-healthy-recovers-and-waits-the-hold-down",
        ),
        pytest.param(
            [*STUCK, person(HEALTHY, 30), tick(40)],
            [AUTHORITY, (IMP, R, TransitionReason.RECOVERY_SIGNALLED), (R, H, TransitionReason.RECOVERED)],
            id="then-fails-back",
        ),
        pytest.param(
            [*STUCK, person(HEALTHY, 30), (sig(K.HEALTH_ISSUE, 0), 31), tick(40)],
            [AUTHORITY, (IMP, R, TransitionReason.RECOVERY_SIGNALLED), (R, H, TransitionReason.RECOVERED)],
            id="the-old-issue-replayed-stays-closed",
        ),
        pytest.param(
            [*STUCK, person(HEALTHY, 30), sig(K.HEALTH_ISSUE, 31, evidence={"eventArn": "arn:new"})],
            [AUTHORITY, (IMP, R, TransitionReason.RECOVERY_SIGNALLED), (R, IMP, TransitionReason.RELAPSED)],
            id="a-new-issue-after-the-word-counts",
        ),
        pytest.param(
            [sig(K.HEALTH_ISSUE, 0), sig(K.NODES_NOT_READY, 29), person(HEALTHY, 30), sig(K.NODES_NOT_READY, 31)],
            [AUTHORITY, (IMP, R, TransitionReason.RECOVERY_SIGNALLED), (R, IMP, TransitionReason.RELAPSED)],
            id="evidence-still-counts-a-zone-whose-nodes-are-down-relapses",
        ),
        pytest.param([person(HEALTHY, 0)], [], id="a-healthy-zone-marked-healthy-changes-nothing"),
        pytest.param([person(IMPAIRED, 0)], [AUTHORITY], id="held-impaired-impairs-at-once"),
        pytest.param(
            [person(IMPAIRED, 0, until=30), sig(K.NODES_READY, 5), tick(29.9)],
            [AUTHORITY],
            id="no-recovery-before-until-however-healthy",
        ),
        pytest.param(
            [person(IMPAIRED, 0, until=30), tick(30), tick(39.9)],
            [AUTHORITY, (IMP, R, TransitionReason.RECOVERY_SIGNALLED)],
            id="the-hold-lapses-at-until-then-the-hold-down",
        ),
        pytest.param(
            [person(IMPAIRED, 0, until=30), tick(30), tick(40)],
            [AUTHORITY, (IMP, R, TransitionReason.RECOVERY_SIGNALLED), (R, H, TransitionReason.RECOVERED)],
            id="no-failback-before-until-plus-the-hold-down",
        ),
        pytest.param([person(IMPAIRED, 0), tick(600)], [AUTHORITY], id="a-hold-without-until-holds-until-lifted"),
        pytest.param(
            [person(IMPAIRED, 0), person(HEALTHY, 5)],
            [AUTHORITY, (IMP, R, TransitionReason.RECOVERY_SIGNALLED)],
            id="a-hold-is-lifted-by-marking-healthy",
        ),
        pytest.param(
            [*RECOVERING_AT_20, person(IMPAIRED, 25, until=60), tick(59)],
            [*TO_RECOVERING, (R, IMP, TransitionReason.RELAPSED)],
            id="held-impaired-in-the-hold-down-relapses",
        ),
    ],
)
def test_the_detector_takes_a_persons_word_as_an_authority(steps: list[Step], expected: list) -> None:
    _, transitions = run(steps)

    assert moves(transitions) == expected


def test_the_authority_carries_the_persons_name_and_the_failback_hands_off() -> None:
    state, transitions = run([*STUCK, person(HEALTHY, 30, who="bob@example.com"), tick(40)])

    (closed,) = state.authorities
    assert not closed.open and closed.ref.source is Source.OPERATOR
    assert closed.ref.source_id == "bob@example.com/set-healthy-30"
    assert transitions[-1].handoff is Handoff.FAILBACK_ZONE
    assert ZoneState.from_dict(state.to_dict()) == state


def test_a_hold_survives_the_round_trip_with_its_end() -> None:
    state, _ = run([person(IMPAIRED, 0, until=30)])

    (hold,) = state.authorities
    assert hold.open and hold.until == at(30) and hold.key == "operator-hold:alice/set-impaired-0"
    assert ZoneState.from_dict(state.to_dict()) == state


@pytest.mark.parametrize(
    ("zone", "setting", "until", "fields"),
    [
        pytest.param("us-east-1z", HEALTHY, None, ["zone"], id="unknown-zone"),
        pytest.param(A, IMPAIRED, -1, ["until"], id="until-in-the-past"),
        pytest.param(A, IMPAIRED, 0, ["until"], id="until-now"),
        pytest.param(A, HEALTHY, 10, ["until"], id="until-with-healthy"),
        pytest.param("us-east-1z", IMPAIRED, -5, ["zone", "until"], id="every-field-at-once"),
    ],
)
def test_a_request_ferry_cannot_accept_is_rejected_naming_each_field(
    zone: str, setting: ZoneSetting, until: float | None, fields: list[str]
) -> None:
    request = SetZoneRequest(
        zone=zone,
        state=setting,
        reason="r",
        requested_by="alice",
        run_id="run-1",
        until=at(until) if until is not None else None,
    )
    with pytest.raises(InputError) as error:
        override_signal(request, now=at(0), zones=ZONES)

    assert [p.split(":")[0] for p in error.value.problems] == fields


def test_an_accepted_request_is_an_operator_signal_observed_now() -> None:
    signal = person(IMPAIRED, 0, until=60)

    assert (signal.kind, signal.source, signal.zone, signal.region) == (
        SignalKind.ZONE_HELD_IMPAIRED,
        Source.OPERATOR,
        A,
        "us-east-1",
    )
    assert signal.observed_at == at(0)
    assert signal.evidence["until"] == (at(0) + timedelta(minutes=60)).isoformat()
    assert signal.evidence["requestedBy"] == "alice"


def test_the_report_says_who_what_and_what_came_of_it() -> None:
    request = SetZoneRequest(A, HEALTHY, "closing lost", "alice", "run-1")

    report = set_zone_report(request, "impaired", "recovering", (("impaired", "recovering", "recovery-signalled"),))

    assert report.summary == (f"{A} set healthy by alice (closing lost): impaired -> recovering (recovery-signalled)")
    assert set_zone_report(request, "healthy", "healthy", ()).summary.endswith("no change of status (healthy)")
