"""Translators under fire: whatever arrives, the outcome is Signals, a Skip, or an EventParseError.

Anything else (a KeyError, a TypeError, a ValueError from a Signal) would crash the ingest function on a
message instead of skipping it or dead-lettering it with a reason. Inputs are the samples in events/ with
keys deleted, replaced or retyped at random depths, samples with a random `detail`, and random JSON; an
`Unplaced` translation is finished with random zones for its resources (some unknown, some in several
zones), under every `drills` setting and with or without the samples' load balancer followed.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferry.domain.errors import EventParseError
from ferry.domain.signals import Signal, Skip, SkipReason
from ferry.domain.translators import Drills, Unplaced, translate
from tests.conftest import EVENTS, load_event

SAMPLES = {
    path.stem: load_event(path.name) for path in sorted(EVENTS.glob("*.json")) if path.stem != "sqs-batch-ingest"
}

# Strings that steer mutations into the branches a translator takes, rather than only its error paths.
INTERESTING = [
    "",
    "us-east-1a",
    "use1-az2",
    "us-west-2-lax-1a",
    "i-0b5e3c1d2a4f60718",
    "arn:aws:ec2:us-east-1b:instance/i-0b5e3c1d2a4f60718",
    "2026-11-25T09:00:00Z",
    "2026-11-25T09:00:00",
    "9999-12-31T23:59:59-05:00",
    "open",
    "closed",
    "upcoming",
    "issue",
    "scheduledChange",
    "EC2",
    "EBS",
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "ferry-x",
    "stopped",
    "running",
    "terminate",
    "autoscaling:EC2_INSTANCE_LAUNCHING",
    "autoscaling:EC2_INSTANCE_TERMINATING",
    "AvailabilityZone",
    "ALARM(a) OR ALARM(b)",
    "accountNotification",
    "[RESOLVED] it is over",
    "Current severity level: Operating normally",
    "issues in a single Availability Zone (use1-az4) today",
    "Wed, 25 Nov 2026 11:40:00 GMT",
    "Mon, 31 Feb 2026 11:40:00 GMT",
    "vol-0a1b2c3d4e5f60718",
    "arn:aws:ec2:us-east-1:123456789012:volume/vol-0a1b2c3d4e5f60718",
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/ferry-prod-api/50dc6c495c0c9188",
    *sorted({sample["detail-type"] for sample in SAMPLES.values()}),
    *sorted({sample["source"] for sample in SAMPLES.values()}),
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(INTERESTING)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(INTERESTING), children, max_size=4)
    ),
    max_leaves=12,
)

Location = tuple[Any, Any]  # (container, key or index) of one value inside an event


def locations(value: Any) -> list[Location]:
    """Every (container, key) pair in a JSON value, at every depth."""
    found: list[Location] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((value, key))
            found.extend(locations(child))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((value, index))
            found.extend(locations(child))
    return found


def retyped(value: Any) -> Any:
    """The same content in the wrong JSON type: the commonest real malformation."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    return 0


@st.composite
def mutated_samples(draw: st.DrawFn) -> Any:
    event = copy.deepcopy(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        found = locations(event)
        if not found:
            break
        container, key = draw(st.sampled_from(found))
        operation = draw(st.sampled_from(["delete", "replace", "retype"]))
        if operation == "delete":
            del container[key]
        elif operation == "replace":
            container[key] = draw(json_values)
        else:
            container[key] = retyped(container[key])
    return event


@st.composite
def samples_with_random_detail(draw: st.DrawFn) -> Any:
    event = copy.deepcopy(SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))])
    event["detail"] = draw(st.dictionaries(st.sampled_from(INTERESTING) | st.text(max_size=8), json_values))
    return event


FOLLOWED = frozenset({INTERESTING[-1]})
ZONES = st.sampled_from(["us-east-1a", "us-east-1b", "us-east-1c"])


@st.composite
def lookups(draw: st.DrawFn) -> dict[str, Any]:
    """What the ingest service knows: placed resources (drawn per resource when asked) and its settings."""
    return {
        "placements": draw(st.dictionaries(st.sampled_from(INTERESTING) | st.text(max_size=8), ZONES, max_size=3)),
        "spread": draw(st.booleans()),  # resources asked about land in several zones, not one
        "followed": draw(st.sampled_from([frozenset(), FOLLOWED])),
        "drills": draw(st.sampled_from(list(Drills))),
    }


def assert_only_allowed_outcomes(event: Any, known: dict[str, Any] | None = None) -> None:
    known = known or {"placements": {}, "spread": False, "followed": frozenset(), "drills": Drills.RECORD}
    try:
        result = translate(event, followed=known["followed"], drills=known["drills"])
        if isinstance(result, Unplaced):
            assert result.resources, "an Unplaced translation must name what to place"
            zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
            placed = {r: zones[i % 3] if known["spread"] else "us-east-1b" for i, r in enumerate(result.resources)}
            result = result.place({**placed, **known["placements"]})
    except EventParseError as error:
        assert error.field, "an EventParseError must name the field"
        assert error.problem
        return
    if isinstance(result, Skip):
        assert isinstance(result.reason, SkipReason)
        return
    assert isinstance(result, tuple)
    assert result, "a translation with no signals must be a Skip"
    assert all(isinstance(signal, Signal) for signal in result)
    assert len({signal.source_id for signal in result}) == len(result)
    for signal in result:
        assert signal.observed_at.utcoffset() is not None
        assert all(isinstance(key, str) and isinstance(value, str) for key, value in signal.evidence.items())


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(mutated_samples(), lookups())
def test_mutated_samples_translate_or_fail_cleanly(event: Any, known: dict[str, Any]) -> None:
    assert_only_allowed_outcomes(event, known)


@FAST
@given(samples_with_random_detail(), lookups())
def test_samples_with_a_random_detail_translate_or_fail_cleanly(event: Any, known: dict[str, Any]) -> None:
    assert_only_allowed_outcomes(event, known)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_random_json_translates_or_fails_cleanly(event: Any) -> None:
    assert_only_allowed_outcomes(event)
