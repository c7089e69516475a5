"""Where an event's zone comes from, when an issue is over, and what each kind of ARC shift means.

AWS Health documents no zone field: these tests take the documented shape (events/health-*.json) and vary
what AWS does vary (entities, resources, the description, statusCode, endTime), checking the zone Ferry
finds, the evidence that says where it came from, and the skip when there is no single zone. ARC shifts
are checked for who shifted and whether Ferry follows the resource.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ferry.domain.signals import SignalKind, Skip, SkipReason
from ferry.domain.translators import Drills, Unplaced, translate
from ferry.domain.translators.zones import ZoneRef, zones_in_text
from tests.conftest import load_event

INSTANCE = "i-0b5e3c1d2a4f60718"
OTHER = "i-0c7d1e2f3a4b5c6d7"
VOLUME = "vol-0a1b2c3d4e5f60718"
NLB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/ferry-prod-api/50dc6c495c0c9188"
NEUTRAL = "[Investigating] We are investigating connectivity issues in the US-EAST-1 Region."


def health(
    *,
    entities: list[str] | None = None,
    resources: list[str] | None = None,
    description: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """The documented open issue with its entities, resources, description or detail fields replaced."""
    event = copy.deepcopy(load_event("health-ec2-issue-open"))
    if entities is not None:
        event["detail"]["affectedEntities"] = [{"entityValue": value} for value in entities]
    if resources is not None:
        event["resources"] = resources
    if description is not None:
        event["detail"]["eventDescription"][0]["latestDescription"] = description
    for key, value in detail.items():
        if value is None:
            event["detail"].pop(key, None)
        else:
            event["detail"][key] = value
    return event


def outcome(event: dict[str, Any], placed: dict[str, str] | None = None) -> Any:
    result = translate(event)
    return result.place(placed or {}) if isinstance(result, Unplaced) else result


def zones_found(event: dict[str, Any], placed: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
    result = outcome(event, placed)
    assert isinstance(result, tuple), f"expected signals, got {result}"
    return [(s.kind, s.zone, s.zone_id, s.evidence["zoneFrom"]) for s in result]


# ------------------------------------------------------------------------------------------ where the zone is

ISSUE = SignalKind.HEALTH_ISSUE


@pytest.mark.parametrize(
    ("event", "placed", "expected"),
    [
        pytest.param(
            health(availabilityZone="us-east-1c"),
            {INSTANCE: "us-east-1b"},
            [(ISSUE, "us-east-1c", None, "availabilityZone")],
            id="availability-zone-field-first",
        ),
        pytest.param(
            health(entities=["use1-az4", INSTANCE]),
            {INSTANCE: "us-east-1b"},
            [(ISSUE, None, "use1-az4", "affectedEntities")],
            id="zone-id-entity-before-instances",
        ),
        pytest.param(
            health(entities=["us-east-1c"]),
            {},
            [(ISSUE, "us-east-1c", None, "affectedEntities")],
            id="zone-name-entity",
        ),
        pytest.param(
            health(),
            {INSTANCE: "us-east-1b"},
            [(ISSUE, "us-east-1b", None, "affectedResources")],
            id="placed-instance-before-description",
        ),
        pytest.param(
            health(entities=[], resources=[f"arn:aws:ec2:us-east-1:123456789012:instance/{INSTANCE}"]),
            {INSTANCE: "us-east-1a"},
            [(ISSUE, "us-east-1a", None, "affectedResources")],
            id="instance-arn-in-resources-only",
        ),
        pytest.param(
            health(entities=[f"arn:aws:ec2:us-east-1:123456789012:volume/{VOLUME}"], resources=[]),
            {VOLUME: "us-east-1c"},
            [(ISSUE, "us-east-1c", None, "affectedResources")],
            id="volume-arn-entity",
        ),
        pytest.param(
            health(entities=[INSTANCE, OTHER], resources=[]),
            {INSTANCE: "us-east-1a", OTHER: "us-east-1a"},
            [(ISSUE, "us-east-1a", None, "affectedResources")],
            id="all-resources-in-one-zone",
        ),
        pytest.param(
            health(),
            {},
            [(ISSUE, None, "use1-az2", "description")],
            id="unplaced-instance-falls-back-on-the-description",
        ),
        pytest.param(
            health(entities=[INSTANCE, OTHER]),
            {INSTANCE: "us-east-1a", OTHER: "us-east-1c"},
            [(ISSUE, None, "use1-az2", "description")],
            id="resources-over-two-zones-description-names-one",
        ),
        pytest.param(
            health(entities=[], resources=[], description="Impact in us-east-1a and in (use1-az4)."),
            {},
            [(ISSUE, "us-east-1a", None, "description"), (ISSUE, None, "use1-az4", "description")],
            id="description-naming-two-zones-yields-two-signals",
        ),
    ],
)
def test_the_zone_is_found_where_aws_writes_it(
    event: dict[str, Any], placed: dict[str, str], expected: list[tuple[Any, ...]]
) -> None:
    assert zones_found(event, placed) == expected


@pytest.mark.parametrize(
    ("event", "placed", "reason", "words"),
    [
        pytest.param(
            health(entities=[INSTANCE, OTHER], description=NEUTRAL),
            {INSTANCE: "us-east-1a", OTHER: "us-east-1c"},
            SkipReason.REGIONAL,
            "span 2 zones (us-east-1a, us-east-1c) and it names none",
            id="resources-over-two-zones-none-named-is-regional",
        ),
        pytest.param(
            health(description=NEUTRAL),
            {},
            SkipReason.NOT_ZONAL,
            "none of its 1 resources could be placed",
            id="nothing-placed-nothing-named",
        ),
        pytest.param(
            health(entities=[], resources=[], description=NEUTRAL),
            {},
            SkipReason.NOT_ZONAL,
            "names no zone and no instance or volume",
            id="no-resources-nothing-named",
        ),
    ],
)
def test_an_issue_without_a_single_zone_is_skipped_with_its_reason(
    event: dict[str, Any], placed: dict[str, str], reason: SkipReason, words: str
) -> None:
    result = outcome(event, placed)
    assert isinstance(result, Skip)
    assert result.reason is reason
    assert words in result.detail


RESOLVED = "[RESOLVED] Between 8:52 AM and 10:41 AM PST we experienced connectivity issues. The issue is resolved."


@pytest.mark.parametrize(
    ("event", "placed"),
    [
        pytest.param(health(description=RESOLVED), {}, id="its-instances-gone-its-text-naming-none"),
        pytest.param(health(statusCode="closed", description=NEUTRAL), {}, id="closed-by-status"),
        pytest.param(
            health(entities=[INSTANCE, OTHER], description=RESOLVED),
            {INSTANCE: "us-east-1a", OTHER: "us-east-1c"},
            id="its-resources-over-two-zones",
        ),
        pytest.param(health(entities=[], resources=[], description=RESOLVED), {}, id="no-resources-at-all"),
    ],
)
def test_a_resolution_without_a_zone_is_kept_to_close_its_issue_by_event_arn(
    event: dict[str, Any], placed: dict[str, str]
) -> None:
    (signal,) = outcome(event, placed)

    assert (signal.kind, signal.zone, signal.zone_id) == (SignalKind.HEALTH_RESOLVED, None, None)
    assert signal.evidence["zoneFrom"] == "eventArn"
    assert signal.evidence["eventArn"] == event["detail"]["eventArn"]


def test_an_issue_about_instances_asks_for_exactly_their_zones() -> None:
    event = health(entities=[INSTANCE, f"arn:aws:ec2:us-east-1:123456789012:volume/{VOLUME}", "cr-0abc"])
    result = translate(event)
    assert isinstance(result, Unplaced)
    assert result.resources == (INSTANCE, VOLUME)


@pytest.mark.parametrize(
    ("text", "zones"),
    [
        pytest.param("in a single Availability Zone (use1-az4) in the", (ZoneRef(id="use1-az4"),), id="id-in-brackets"),
        pytest.param("instances in us-east-1b.", (ZoneRef(name="us-east-1b"),), id="name-before-a-full-stop"),
        pytest.param("in the US-EAST-1 Region", (), id="region-is-not-a-zone"),
        pytest.param("see node-use1-az4 or use1-az4x or us-east-1b-foo or _use1-az4", (), id="not-whole-words"),
        pytest.param(
            "usw2-lax1-az1 and us-west-2-lax-1a",
            (ZoneRef(id="usw2-lax1-az1"), ZoneRef(name="us-west-2-lax-1a")),
            id="local-zones",
        ),
        pytest.param("use1-az4, then use1-az4 again", (ZoneRef(id="use1-az4"),), id="each-zone-once"),
    ],
)
def test_zones_in_a_description_are_whole_words(text: str, zones: tuple[ZoneRef, ...]) -> None:
    assert zones_in_text(text) == zones


# ------------------------------------------------------------------------------------------- when it is over

RESOLVED = SignalKind.HEALTH_RESOLVED


@pytest.mark.parametrize(
    ("event", "kind", "resolved_by"),
    [
        pytest.param(health(statusCode="closed"), RESOLVED, "statusCode", id="status-closed"),
        pytest.param(
            health(description="[RESOLVED] The issue in use1-az2 has been resolved."),
            RESOLVED,
            "description",
            id="resolved-tag-while-status-open",
        ),
        pytest.param(
            health(description="Between 9 and 11 AM ... [Resolved] ... (use1-az2)"),
            RESOLVED,
            "description",
            id="resolved-tag-anywhere-any-case",
        ),
        pytest.param(
            health(description="Update (use1-az2). Current severity level: Operating normally"),
            RESOLVED,
            "description",
            id="operating-normally",
        ),
        pytest.param(
            health(endTime="Wed, 25 Nov 2026 09:00:00 GMT"), RESOLVED, "endTime", id="end-time-before-the-event"
        ),
        pytest.param(health(endTime="2026-11-25T09:04:12Z"), RESOLVED, "endTime", id="iso-end-time-at-the-event"),
        pytest.param(health(endTime="Wed, 25 Nov 2026 18:00:00 GMT"), ISSUE, None, id="end-time-still-ahead"),
        pytest.param(
            health(description="Current severity level: Degraded (use1-az2). Operating normally soon."),
            ISSUE,
            None,
            id="operating-normally-not-as-the-severity",
        ),
    ],
)
def test_an_issue_is_over_when_aws_says_so(event: dict[str, Any], kind: SignalKind, resolved_by: str | None) -> None:
    [signal] = outcome(event, {INSTANCE: "us-east-1b"})
    assert (signal.kind, signal.zone, signal.evidence.get("resolvedBy")) == (kind, "us-east-1b", resolved_by)


def test_an_issue_over_by_its_description_needs_no_status() -> None:
    [signal] = outcome(health(statusCode=None, description="[RESOLVED] done"), {INSTANCE: "us-east-1b"})
    assert (signal.kind, "statusCode" in signal.evidence) == (RESOLVED, False)


# ----------------------------------------------------------------------------------- classify, then require


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param(
            {"id": "x", "source": "aws.s3", "detail-type": "Object Created"},
            SkipReason.UNKNOWN_EVENT,
            id="unknown-source-without-time-region-or-detail",
        ),
        pytest.param(
            {"id": "x", "source": "aws.ec2", "detail-type": "EC2 Instance Scheduled Change", "detail": []},
            SkipReason.UNKNOWN_EVENT,
            id="unknown-detail-type-with-a-list-detail",
        ),
        pytest.param(
            health(eventTypeCategory="accountNotification", statusCode=None, eventArn=None, eventTypeCode=None),
            SkipReason.IGNORED_STATE,
            id="account-notification-without-status-arn-or-code",
        ),
        pytest.param(
            health(service="LAMBDA", eventArn=None, statusCode=None),
            SkipReason.NOT_RELEVANT_SERVICE,
            id="other-service-without-arn-or-status",
        ),
        pytest.param(
            health(eventTypeCategory="investigation", statusCode=None),
            SkipReason.IGNORED_STATE,
            id="investigation",
        ),
    ],
)
def test_an_event_ferry_does_not_act_on_is_a_skip_whatever_it_lacks(event: dict[str, Any], reason: SkipReason) -> None:
    result = translate(event)
    assert isinstance(result, Skip)
    assert result.reason is reason


def test_a_scheduled_change_without_a_status_is_still_a_warning() -> None:
    event = copy.deepcopy(load_event("health-scheduled-change"))
    del event["detail"]["statusCode"]
    result = translate(event)
    assert isinstance(result, tuple)
    assert {s.kind for s in result} == {SignalKind.HEALTH_SCHEDULED_CHANGE}


# ------------------------------------------------------------------------------------------------------ ARC


def shift(detail_type: str, resources: list[str]) -> dict[str, Any]:
    event = copy.deepcopy(load_event("arc-zonal-shift-started"))
    event["detail-type"] = detail_type
    event["resources"] = resources
    return event


@pytest.mark.parametrize(
    ("event", "followed", "drills", "kind"),
    [
        pytest.param(
            load_event("arc-autoshift-started"),
            frozenset(),
            Drills.RECORD,
            SignalKind.ZONAL_SHIFT_STARTED,
            id="autoshift",
        ),
        pytest.param(
            shift("Manual Shift Started", [NLB]),
            frozenset({NLB}),
            Drills.RECORD,
            SignalKind.ZONAL_SHIFT_STARTED,
            id="followed-manual",
        ),
        pytest.param(
            shift("Manual Shift Canceled", [NLB]),
            frozenset({NLB}),
            Drills.RECORD,
            SignalKind.ZONAL_SHIFT_ENDED,
            id="followed-manual-end",
        ),
        pytest.param(
            shift("Manual Shift Started", [NLB]),
            frozenset(),
            Drills.RECORD,
            SignalKind.UNFOLLOWED_SHIFT_STARTED,
            id="unfollowed-manual",
        ),
        pytest.param(
            shift(
                "Manual Shift Started", ["arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1"]
            ),
            frozenset({NLB}),
            Drills.RECORD,
            SignalKind.UNFOLLOWED_SHIFT_STARTED,
            id="someone-elses-load-balancer",
        ),
        pytest.param(
            shift("Manual Shift Canceled", []),
            frozenset({NLB}),
            Drills.RECORD,
            SignalKind.UNFOLLOWED_SHIFT_ENDED,
            id="manual-without-resources",
        ),
        pytest.param(
            load_event("arc-practice-run-started"),
            frozenset({NLB}),
            Drills.RECORD,
            SignalKind.DRILL_STARTED,
            id="practice-run-of-a-followed-resource",
        ),
        pytest.param(
            load_event("arc-fis-experiment-started"),
            frozenset(),
            Drills.RECORD,
            SignalKind.DRILL_STARTED,
            id="fis-experiment",
        ),
        pytest.param(
            load_event("arc-practice-run-started"),
            frozenset(),
            Drills.ACT,
            SignalKind.ZONAL_SHIFT_STARTED,
            id="practice-run-with-drills-act",
        ),
        pytest.param(
            load_event("arc-fis-experiment-started"),
            frozenset(),
            Drills.ACT,
            SignalKind.ZONAL_SHIFT_STARTED,
            id="fis-with-drills-act",
        ),
        pytest.param(
            shift("Practice Run Succeeded", [NLB]),
            frozenset(),
            Drills.ACT,
            SignalKind.ZONAL_SHIFT_ENDED,
            id="practice-run-end-with-drills-act",
        ),
    ],
)
def test_who_shifted_decides_what_a_shift_means(
    event: dict[str, Any], followed: frozenset[str], drills: Drills, kind: SignalKind
) -> None:
    [signal] = translate(event, followed=followed, drills=drills)  # type: ignore[misc]
    assert signal.kind is kind
    assert signal.zone_id is not None
