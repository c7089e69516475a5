"""Translators: every sample in events/ becomes exactly the Signals (or Skip) an operator would expect.

Grouped by behaviour: samples that yield signals (asserted field by field), samples and variants that are
skipped, malformed events that fail naming the field, the SQS batch the ingest function receives, and the
bookkeeping that keeps events/ and its README in step with these tests.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from ferry.domain.errors import EventParseError
from ferry.domain.signals import NODE_WARNINGS, Signal, SignalKind, Skip, SkipReason, Source
from ferry.domain.translators import Unplaced, translate
from tests.conftest import EVENTS, load_event

ACCOUNT = "123456789012"
DELETE = object()  # marks a key to remove in `changed`

Path = tuple[str | int, ...]


def changed(name: str, *changes: tuple[Path, Any]) -> dict[str, Any]:
    """A sample with some values replaced (or removed, with DELETE) at the given paths."""
    event = copy.deepcopy(load_event(name))
    for path, value in changes:
        parent: Any = event
        for key in path[:-1]:
            parent = parent[key]
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return event


def fields(signal: Signal) -> dict[str, Any]:
    values = {field.name: getattr(signal, field.name) for field in dataclasses.fields(signal)}
    values["evidence"] = dict(signal.evidence)
    return values


def expect(
    kind: SignalKind,
    source: Source,
    source_id: str,
    time: str,
    evidence: dict[str, str],
    *,
    zone: str | None = None,
    zone_id: str | None = None,
    cluster: str | None = None,
    instance: str | None = None,
    region: str = "us-east-1",
) -> dict[str, Any]:
    return {
        "kind": kind,
        "source": source,
        "source_id": source_id,
        "observed_at": datetime.fromisoformat(time).replace(tzinfo=UTC),
        "region": region,
        "zone": zone,
        "zone_id": zone_id,
        "cluster": cluster,
        "instance": instance,
        "evidence": evidence,
    }


def translated(event: object, placed: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """`translate`, finishing an `Unplaced` translation with `placed` (resource id -> zone) as ingest would."""
    result = translate(event, **kwargs)
    return result.place(placed or {}) if isinstance(result, Unplaced) else result


def translated_fields(event: object, placed: dict[str, str] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    result = translated(event, placed, **kwargs)
    assert isinstance(result, tuple), f"expected signals, got {result}"
    return [fields(signal) for signal in result]


# --------------------------------------------------------------------------------------------- expected signals

ISSUE_ARN = (
    "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/"
    "AWS_EC2_OPERATIONAL_ISSUE_7f35c8ae-af1f-54e6-a526-d0179ed6d68f"
)
RETIREMENT_ARN = (
    "arn:aws:health:us-east-1::event/EC2/AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED/"
    "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED_90353408594353983"
)
NLB_ARN = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/net/ferry-prod-api/50dc6c495c0c9188"
OBSERVER_NOTES = (
    "AWS has started an autoshift for an impaired Availability Zone. This notification is separate from autoshift "
    "notifications for resources, if any, that you have configured for zonal autoshift. For details, see the "
    "Developer Guide."
)


def health_evidence(code: str, category: str, status: str, arn: str, start: str, **extra: str) -> dict[str, str]:
    return {
        "detail-type": "AWS Health Event",
        "account": ACCOUNT,
        "service": "EC2",
        "eventTypeCode": code,
        "eventTypeCategory": category,
        "statusCode": status,
        "eventArn": arn,
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "startTime": start,
        **extra,
    }


def issue_evidence(status: str, description: str, zone_from: str, **extra: str) -> dict[str, str]:
    return health_evidence(
        "AWS_EC2_OPERATIONAL_ISSUE",
        "issue",
        status,
        ISSUE_ARN,
        "Wed, 25 Nov 2026 08:52:00 GMT",
        description=description,
        zoneFrom=zone_from,
        **extra,
    )


def ec2_evidence(detail_type: str, **extra: str) -> dict[str, str]:
    return {"detail-type": detail_type, "account": ACCOUNT, **extra}


def lifecycle_evidence(
    detail_type: str, group: str, hook: str, token: str, transition: str, **extra: str
) -> dict[str, str]:
    return {
        "detail-type": detail_type,
        "account": ACCOUNT,
        "AutoScalingGroupName": group,
        "LifecycleHookName": hook,
        "LifecycleActionToken": token,
        "LifecycleTransition": transition,
        **extra,
    }


def alarm_evidence(
    name: str, alarm_type: str, state: str, previous: str, reason: str, **summary: str
) -> dict[str, str]:
    return {
        "detail-type": "CloudWatch Alarm State Change",
        "account": ACCOUNT,
        "alarmName": name,
        "alarmType": alarm_type,
        "state": state,
        "previousState": previous,
        "reason": reason,
        **summary,
    }


def arc_evidence(detail_type: str, trigger: str, **extra: str) -> dict[str, str]:
    return {"detail-type": detail_type, "account": ACCOUNT, "trigger": trigger, "awayFrom": "use1-az2", **extra}


OPEN_DESCRIPTION = (
    "[Investigating] We are investigating connectivity issues affecting instances in a single Availability Zone "
    "(use1-az2) in the US-EAST-1 Region."
)
RESOLVED_DESCRIPTION = (
    "[RESOLVED] Between 8:52 AM and 11:40 AM PST we experienced connectivity issues affecting instances in a "
    "single Availability Zone (use1-az2) in the US-EAST-1 Region. The issue has been resolved."
)
NORMAL_DESCRIPTION = (
    "[Monitoring] Connectivity to instances in the affected Availability Zone (use1-az2) has recovered and we "
    "continue to monitor. Current severity level: Operating normally"
)
PUBLIC_DESCRIPTION = (
    "[Investigating] We are investigating increased network connectivity errors to instances in a single "
    "Availability Zone (use1-az2) in the US-EAST-1 Region. Other Availability Zones are not affected."
)
EBS_DESCRIPTION = (
    "[Investigating] We are investigating degraded performance for some EBS volumes. Your volumes listed below "
    "may experience increased I/O latency."
)
EBS_ARN = (
    "arn:aws:health:us-east-1::event/EBS/AWS_EBS_OPERATIONAL_ISSUE/"
    "AWS_EBS_OPERATIONAL_ISSUE_5b7d9f1a-3c5e-4a7b-9d1f-b3d5f7a9c1e3"
)
PUBLIC_ARN = (
    "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/"
    "AWS_EC2_OPERATIONAL_ISSUE_3c1f7a9e-2b4d-5e6f-8a0b-c1d2e3f4a5b6"
)
ISSUE_INSTANCE = "i-0b5e3c1d2a4f60718"
EBS_VOLUMES = ("vol-0a1b2c3d4e5f60718", "vol-0f1e2d3c4b5a69788")

# What Ferry's placements (or EC2) know of the samples' resources: the ingest service's answer to `Unplaced`.
PLACED = {ISSUE_INSTANCE: "us-east-1b", **dict.fromkeys(EBS_VOLUMES, "us-east-1b")}
# The load balancer of the samples' cluster, which its registration lists: its manual shifts are authorities.
FOLLOWED = frozenset({NLB_ARN})

SIGNAL_SAMPLES = [
    pytest.param(
        "health-ec2-issue-open",
        [
            expect(
                SignalKind.HEALTH_ISSUE,
                Source.AWS_HEALTH,
                "5a9d1f3e-7c2b-4e86-9f10-3b6c8d2e4a71",
                "2026-11-25T09:04:12",
                issue_evidence("open", OPEN_DESCRIPTION, "affectedResources"),
                zone="us-east-1b",
            )
        ],
        id="health-ec2-issue-open-zone-b-from-its-instance",
    ),
    pytest.param(
        "health-ec2-issue-resolved",
        [
            expect(
                SignalKind.HEALTH_RESOLVED,
                Source.AWS_HEALTH,
                "c3e8b2a7-1f4d-4a9c-8e65-72d0f1b9a3c4",
                "2026-11-25T11:47:30",
                issue_evidence(
                    "closed",
                    RESOLVED_DESCRIPTION,
                    "affectedResources",
                    endTime="Wed, 25 Nov 2026 11:40:00 GMT",
                    resolvedBy="statusCode",
                ),
                zone="us-east-1b",
            )
        ],
        id="health-ec2-issue-resolved-zone-b",
    ),
    pytest.param(
        "health-ec2-issue-operating-normally",
        [
            expect(
                SignalKind.HEALTH_RESOLVED,
                Source.AWS_HEALTH,
                "a6c8e0b2-4d7f-4a1c-b3e5-9f1b3d5a7c9e",
                "2026-11-25T11:38:05",
                issue_evidence("open", NORMAL_DESCRIPTION, "affectedResources", resolvedBy="description"),
                zone="us-east-1b",
            )
        ],
        id="health-operating-normally-resolves-though-status-open",
    ),
    pytest.param(
        "health-ec2-issue-described-zone",
        [
            expect(
                SignalKind.HEALTH_ISSUE,
                Source.AWS_HEALTH,
                "0f2d4b6a-8c1e-4f3a-9b5d-7e9f1a3c5b7d",
                "2026-11-25T09:06:40",
                {
                    **issue_evidence("open", PUBLIC_DESCRIPTION, "description"),
                    "eventArn": PUBLIC_ARN,
                    "eventScopeCode": "PUBLIC",
                },
                zone_id="use1-az2",
            )
        ],
        id="health-public-issue-zone-id-from-its-description",
    ),
    pytest.param(
        "health-ebs-volume-issue",
        [
            expect(
                SignalKind.HEALTH_ISSUE,
                Source.AWS_HEALTH,
                "d1f3b5a7-9c2e-4b6d-8f0a-2c4e6b8d0f1a",
                "2026-11-25T09:07:55",
                health_evidence(
                    "AWS_EBS_OPERATIONAL_ISSUE",
                    "issue",
                    "open",
                    EBS_ARN,
                    "Wed, 25 Nov 2026 08:55:00 GMT",
                    service="EBS",
                    description=EBS_DESCRIPTION,
                    zoneFrom="affectedResources",
                ),
                zone="us-east-1b",
            )
        ],
        id="health-ebs-issue-zone-from-its-volumes",
    ),
    pytest.param(
        "health-scheduled-change",
        [
            expect(
                SignalKind.HEALTH_SCHEDULED_CHANGE,
                Source.AWS_HEALTH,
                f"2f6e9a1b-4c8d-4e7f-b0a3-95c1d7e3f2a8#{instance}",
                "2026-11-20T14:22:41",
                health_evidence(
                    "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
                    "scheduledChange",
                    "open",
                    RETIREMENT_ARN,
                    "Thu, 03 Dec 2026 13:00:00 GMT",
                    deadline="2026-12-03T13:00:00+00:00",
                ),
                instance=instance,
            )
            for instance in ("i-0c7d1e2f3a4b5c6d7", "i-0a9b8c7d6e5f40312")
        ],
        id="health-retirement-one-signal-per-instance",
    ),
    pytest.param(
        "ec2-state-change-stopped",
        [
            expect(
                SignalKind.INSTANCE_DOWN,
                Source.EC2,
                "e1c7a5b3-2d9f-4f6e-8a14-6b3c9d0e2f57",
                "2026-11-25T09:02:47",
                ec2_evidence("EC2 Instance State-change Notification", state="stopped"),
                instance="i-0b5e3c1d2a4f60718",
            )
        ],
        id="ec2-stopped-is-instance-down",
    ),
    pytest.param(
        "ec2-state-change-terminated",
        [
            expect(
                SignalKind.INSTANCE_DOWN,
                Source.EC2,
                "9d4b2f8a-6c1e-4a7d-b3f5-0e8c2a6d4b19",
                "2026-11-25T09:03:15",
                ec2_evidence("EC2 Instance State-change Notification", state="terminated"),
                instance="i-0e6f7a8b9c0d1e2f3",
            )
        ],
        id="ec2-terminated-is-instance-down",
    ),
    pytest.param(
        "ec2-state-change-running",
        [
            expect(
                SignalKind.INSTANCE_UP,
                Source.EC2,
                "4a8c6e2b-0d3f-4b9a-9c71-e5f2a4d6b8c0",
                "2026-11-25T11:52:09",
                ec2_evidence("EC2 Instance State-change Notification", state="running"),
                instance="i-0b5e3c1d2a4f60718",
            )
        ],
        id="ec2-running-is-instance-up",
    ),
    pytest.param(
        "ec2-spot-interruption",
        [
            expect(
                SignalKind.SPOT_INTERRUPTION,
                Source.EC2,
                "1e5527d7-bb36-4607-3370-4164db56a40e",
                "2026-11-25T10:15:00",
                ec2_evidence(
                    "EC2 Spot Instance Interruption Warning",
                    **{"instance-action": "terminate", "deadline": "2026-11-25T10:17:00+00:00"},
                ),
                instance="i-0d2c4e6f8a0b1c3d5",
                zone="us-east-1c",
            )
        ],
        id="ec2-spot-interruption-zone-from-resource-arn",
    ),
    pytest.param(
        "ec2-rebalance-recommendation",
        [
            expect(
                SignalKind.REBALANCE_RECOMMENDATION,
                Source.EC2,
                "6f3a9c1e-5b7d-4e2f-a8c0-d1b3e5f7a9c2",
                "2026-11-25T10:11:42",
                ec2_evidence("EC2 Instance Rebalance Recommendation"),
                instance="i-0d2c4e6f8a0b1c3d5",
            )
        ],
        id="ec2-rebalance-recommendation",
    ),
    pytest.param(
        "autoscaling-launch-lifecycle",
        [
            expect(
                SignalKind.ASG_LAUNCHING,
                Source.AUTOSCALING,
                "3c5e7a9b-1d2f-4e6a-8b0c-f2d4e6a8c0b1",
                "2026-11-25T09:06:31",
                lifecycle_evidence(
                    "EC2 Instance-launch Lifecycle Action",
                    "ferry-prod-workers-us-east-1a",
                    "ferry-join-node",
                    "87654321-4321-4321-4321-21098EXAMPLE",
                    "autoscaling:EC2_INSTANCE_LAUNCHING",
                    Origin="EC2",
                    Destination="AutoScalingGroup",
                    NotificationMetadata='{"cluster":"prod","role":"worker"}',
                ),
                instance="i-0f1e2d3c4b5a69788",
            )
        ],
        id="asg-launch-lifecycle-keeps-hook-and-token",
    ),
    pytest.param(
        "autoscaling-terminate-lifecycle",
        [
            expect(
                SignalKind.ASG_TERMINATING,
                Source.AUTOSCALING,
                "d7f9b1c3-5e2a-4c8d-9f06-a3b5c7d9e1f2",
                "2026-11-25T09:07:58",
                lifecycle_evidence(
                    "EC2 Instance-terminate Lifecycle Action",
                    "ferry-prod-control-plane-us-east-1b",
                    "ferry-drain-and-fence",
                    "19cc4d4a-e450-4d1c-b448-0de67EXAMPLE",
                    "autoscaling:EC2_INSTANCE_TERMINATING",
                    Origin="AutoScalingGroup",
                    Destination="EC2",
                    NotificationMetadata='{"cluster":"prod","role":"control-plane"}',
                ),
                instance="i-0b5e3c1d2a4f60718",
            )
        ],
        id="asg-terminate-lifecycle-keeps-hook-and-token",
    ),
    pytest.param(
        "cloudwatch-alarm-metric",
        [
            expect(
                SignalKind.ALARM_FIRING,
                Source.CLOUDWATCH,
                "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
                "2026-11-25T09:02:05",
                alarm_evidence(
                    "ferry-prod-api-nlb-unhealthy-us-east-1b",
                    "metric",
                    "ALARM",
                    "OK",
                    "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (25/11/26 09:01:00)] was greater than or "
                    "equal to the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",
                    metric="AWS/NetworkELB UnHealthyHostCount",
                ),
                zone="us-east-1b",
            )
        ],
        id="metric-alarm-firing-zone-from-dimension",
    ),
    pytest.param(
        "cloudwatch-alarm-ok",
        [
            expect(
                SignalKind.ALARM_CLEARED,
                Source.CLOUDWATCH,
                "0b7e4d2a-93c6-f18d-2a5b-7c9e1f3d5b80",
                "2026-11-25T11:50:05",
                alarm_evidence(
                    "ferry-prod-api-nlb-unhealthy-us-east-1b",
                    "metric",
                    "OK",
                    "ALARM",
                    "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (25/11/26 11:49:00)] was not greater than "
                    "or equal to the threshold (1.0) (minimum 1 datapoint for ALARM -> OK transition).",
                    metric="AWS/NetworkELB UnHealthyHostCount",
                ),
                zone="us-east-1b",
            )
        ],
        id="metric-alarm-cleared",
    ),
    pytest.param(
        "cloudwatch-alarm-metric-math",
        [
            expect(
                SignalKind.ALARM_FIRING,
                Source.CLOUDWATCH,
                "2dde0eb1-528b-d2d5-9ca6-6d590caf2329",
                "2026-11-25T09:03:48",
                alarm_evidence(
                    "ferry-prod-nodes-not-ready-us-east-1b",
                    "metric-math",
                    "ALARM",
                    "OK",
                    "Threshold Crossed: 1 out of the last 1 datapoints [66.66666666666667 (25/11/26 09:02:00)] was "
                    "greater than the threshold (33.0) (minimum 1 datapoint for OK -> ALARM transition).",
                    expression="100 * m1 / m2",
                ),
                zone="us-east-1b",
                cluster="prod",
            )
        ],
        id="metric-math-alarm-firing-zone-and-cluster",
    ),
    pytest.param(
        "cloudwatch-alarm-composite",
        [
            expect(
                SignalKind.ALARM_FIRING,
                Source.CLOUDWATCH,
                "d3dfc86d-384d-24c8-0345-9f7986db0b80",
                "2026-11-25T09:03:49",
                alarm_evidence(
                    "ferry-prod-zone-us-east-1b-degraded",
                    "composite",
                    "ALARM",
                    "OK",
                    f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:ferry-prod-nodes-not-ready-us-east-1b "
                    "transitioned to ALARM at Wednesday 25 November, 2026 09:03:48 UTC",
                    alarmRule='ALARM("ferry-prod-api-nlb-unhealthy-us-east-1b") AND '
                    'ALARM("ferry-prod-nodes-not-ready-us-east-1b")',
                ),
            )
        ],
        id="composite-alarm-firing-without-dimensions",
    ),
    pytest.param(
        "arc-autoshift-started",
        [
            expect(
                SignalKind.ZONAL_SHIFT_STARTED,
                Source.ZONAL_SHIFT,
                "05d4d2d5-9c76-bfea-72d2-d4614802adb4",
                "2026-11-25T09:05:14",
                arc_evidence("Autoshift In Progress", "autoshift", notes=OBSERVER_NOTES),
                zone_id="use1-az2",
            )
        ],
        id="arc-autoshift-in-progress",
    ),
    pytest.param(
        "arc-autoshift-completed",
        [
            expect(
                SignalKind.ZONAL_SHIFT_ENDED,
                Source.ZONAL_SHIFT,
                "8c1e3a5f-7b9d-2e4c-6a8f-0d2b4e6c8a1f",
                "2026-11-25T11:45:02",
                arc_evidence("Autoshift Completed", "autoshift"),
                zone_id="use1-az2",
            )
        ],
        id="arc-autoshift-completed",
    ),
    pytest.param(
        "arc-zonal-shift-started",
        [
            expect(
                SignalKind.ZONAL_SHIFT_STARTED,
                Source.ZONAL_SHIFT,
                "e2b4d6f8-0a1c-3e5a-7c9e-b1d3f5a7c9e0",
                "2026-11-25T09:08:30",
                arc_evidence("Manual Shift Started", "manual", resources=NLB_ARN, followed=NLB_ARN),
                zone_id="use1-az2",
            )
        ],
        id="arc-manual-shift-started",
    ),
    pytest.param(
        "arc-zonal-shift-ended",
        [
            expect(
                SignalKind.ZONAL_SHIFT_ENDED,
                Source.ZONAL_SHIFT,
                "9f1b3d5a-7c2e-4a6c-8e0a-2c4e6a8c0e2b",
                "2026-11-25T12:30:11",
                arc_evidence("Manual Shift Canceled", "manual", resources=NLB_ARN, followed=NLB_ARN),
                zone_id="use1-az2",
            )
        ],
        id="arc-manual-shift-canceled",
    ),
    pytest.param(
        "arc-practice-run-started",
        [
            expect(
                SignalKind.DRILL_STARTED,
                Source.ZONAL_SHIFT,
                "4b6d8f0a-2c1e-5a7c-9e3b-d5f7a9c1e3b5",
                "2026-11-24T15:00:09",
                {
                    **arc_evidence(
                        "Practice Run Started", "practice-run", resources=NLB_ARN, followed=NLB_ARN, drill="true"
                    ),
                    "awayFrom": "use1-az4",
                },
                zone_id="use1-az4",
            )
        ],
        id="arc-practice-run-is-a-drill",
    ),
    pytest.param(
        "arc-fis-experiment-started",
        [
            expect(
                SignalKind.DRILL_STARTED,
                Source.ZONAL_SHIFT,
                "6e8a0c2e-4a6c-8e0a-2c4e-6a8c0e2a4c6e",
                "2026-11-24T14:30:02",
                {
                    **arc_evidence("FIS Experiment Autoshift In Progress", "fis-experiment", drill="true"),
                    "awayFrom": "use1-az4",
                },
                zone_id="use1-az4",
            )
        ],
        id="arc-fis-experiment-is-a-drill",
    ),
    pytest.param(
        "scheduled-event",
        [
            expect(
                SignalKind.SCHEDULE_TICK,
                Source.SCHEDULER,
                "89d1a02d-5ec7-412e-82f5-13505f849b41",
                "2026-11-25T09:05:00",
                {
                    "detail-type": "Scheduled Event",
                    "account": ACCOUNT,
                    "rule": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/ferry-probe-every-minute",
                },
            )
        ],
        id="schedule-tick",
    ),
]


@pytest.mark.parametrize(("name", "expected"), SIGNAL_SAMPLES)
def test_sample_translates_to_the_expected_signals(name: str, expected: list[dict[str, Any]]) -> None:
    assert translated_fields(load_event(name), PLACED, followed=FOLLOWED) == expected


@pytest.mark.parametrize("name", [param.values[0] for param in SIGNAL_SAMPLES])
def test_replaying_an_event_yields_equal_and_distinct_signals(name: str) -> None:
    first, again = translated(load_event(name), PLACED), translated(load_event(name), PLACED)
    assert first == again
    assert isinstance(first, tuple)
    assert len({signal.source_id for signal in first}) == len(first)


# ------------------------------------------------------------------------------------------------ variants


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        pytest.param("pending", SignalKind.INSTANCE_UP, id="pending-up"),
        pytest.param("running", SignalKind.INSTANCE_UP, id="running-up"),
        pytest.param("stopping", SignalKind.INSTANCE_DOWN, id="stopping-down"),
        pytest.param("stopped", SignalKind.INSTANCE_DOWN, id="stopped-down"),
        pytest.param("shutting-down", SignalKind.INSTANCE_DOWN, id="shutting-down-down"),
        pytest.param("terminated", SignalKind.INSTANCE_DOWN, id="terminated-down"),
    ],
)
def test_every_instance_state_maps_to_up_or_down(state: str, kind: SignalKind) -> None:
    [signal] = translated_fields(changed("ec2-state-change-stopped", (("detail", "state"), state)))
    assert (signal["kind"], signal["evidence"]["state"], signal["zone"]) == (kind, state, None)


def test_health_issue_naming_several_zone_ids_yields_one_signal_per_zone() -> None:
    entities = [{"entityValue": value} for value in ("use1-az2", "use1-az4", "use1-az2", "i-0b5e3c1d2a4f60718")]
    event = changed("health-ec2-issue-open", (("detail", "affectedEntities"), entities))
    signals = translated_fields(event)
    assert [(s["zone"], s["zone_id"], s["source_id"]) for s in signals] == [
        (None, "use1-az2", "5a9d1f3e-7c2b-4e86-9f10-3b6c8d2e4a71#use1-az2"),
        (None, "use1-az4", "5a9d1f3e-7c2b-4e86-9f10-3b6c8d2e4a71#use1-az4"),
    ]
    assert {s["kind"] for s in signals} == {SignalKind.HEALTH_ISSUE}


@pytest.mark.parametrize("service", ["EBS", "ELASTICLOADBALANCING"])
def test_health_issue_of_ebs_and_elb_counts_like_ec2(service: str) -> None:
    [signal] = translated_fields(changed("health-ec2-issue-open", (("detail", "service"), service)), PLACED)
    assert (signal["kind"], signal["zone"], signal["evidence"]["service"]) == (
        SignalKind.HEALTH_ISSUE,
        "us-east-1b",
        service,
    )


def test_health_signal_carries_the_impacted_region_not_the_delivery_region() -> None:
    event = changed(
        "health-ec2-issue-open",
        (("region",), "us-west-2"),  # a backup delivery to another region
        (("detail", "backupEvent"), "true"),
    )
    [signal] = translated_fields(event, PLACED)
    assert signal["region"] == "us-east-1"


def test_health_scheduled_change_in_a_named_zone_places_each_instance_there() -> None:
    event = changed("health-scheduled-change", (("detail", "availabilityZone"), "us-east-1a"))
    assert {(s["instance"], s["zone"]) for s in translated_fields(event)} == {
        ("i-0c7d1e2f3a4b5c6d7", "us-east-1a"),
        ("i-0a9b8c7d6e5f40312", "us-east-1a"),
    }


def test_health_zonal_maintenance_without_instances_yields_one_signal_per_zone() -> None:
    event = changed(
        "health-scheduled-change",
        (("detail", "affectedEntities"), []),
        (("detail", "availabilityZone"), "us-east-1c"),
    )
    [signal] = translated_fields(event)
    assert (signal["kind"], signal["zone"], signal["instance"]) == (
        SignalKind.HEALTH_SCHEDULED_CHANGE,
        "us-east-1c",
        None,
    )


@pytest.mark.parametrize(
    ("name", "deadline"),
    [
        pytest.param("health-scheduled-change", "2026-12-03T13:00:00+00:00", id="retirement-at-its-start-time"),
        pytest.param("ec2-spot-interruption", "2026-11-25T10:17:00+00:00", id="spot-two-minutes-after-warning"),
        pytest.param("ec2-rebalance-recommendation", None, id="rebalance-has-no-deadline"),
        pytest.param("autoscaling-terminate-lifecycle", None, id="terminate-hook-deadline-is-the-hooks"),
    ],
)
def test_node_warnings_name_the_instance_and_the_deadline_aws_gives(name: str, deadline: str | None) -> None:
    signals = translated_fields(load_event(name))
    assert {s["kind"] for s in signals} <= NODE_WARNINGS
    assert all(s["instance"] for s in signals)
    assert {s["evidence"].get("deadline") for s in signals} == {deadline}


def test_spot_interruption_without_a_zone_in_its_arn_leaves_the_zone_to_enrichment() -> None:
    arn = f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0d2c4e6f8a0b1c3d5"
    [signal] = translated_fields(changed("ec2-spot-interruption", (("resources",), [arn])))
    assert (signal["zone"], signal["instance"]) == (None, "i-0d2c4e6f8a0b1c3d5")


def test_lifecycle_notification_metadata_given_as_json_object_is_kept_as_text() -> None:
    event = changed("autoscaling-launch-lifecycle", (("detail", "NotificationMetadata"), {"role": "worker"}))
    [signal] = translated_fields(event)
    assert signal["evidence"]["NotificationMetadata"] == '{"role":"worker"}'


def test_owned_alarm_prefix_is_a_parameter() -> None:
    event = load_event("cloudwatch-alarm-not-owned")
    [signal] = translated_fields(event, owned_alarm_prefix="checkout-")
    assert (signal["kind"], signal["evidence"]["alarmName"]) == (SignalKind.ALARM_FIRING, "checkout-api-cpu-high")
    assert translate(load_event("cloudwatch-alarm-metric"), owned_alarm_prefix="checkout-") == Skip(
        SkipReason.NOT_OWNED, "alarm 'ferry-prod-api-nlb-unhealthy-us-east-1b' does not start with 'checkout-'"
    )


DIMENSIONS = ("detail", "configuration", "metrics", 1, "metricStat", "metric", "dimensions")


@pytest.mark.parametrize(
    ("dimensions", "zone", "zone_id", "cluster"),
    [
        pytest.param({"ClusterName": "prod", "AvailabilityZone": "us-east-1c"}, None, None, "prod", id="zones-differ"),
        pytest.param({"Cluster": "prod", "AvailabilityZoneId": "use1-az4"}, None, None, "prod", id="zones-differ-id"),
        pytest.param(
            {"ClusterName": "staging", "AvailabilityZone": "us-east-1b"}, "us-east-1b", None, None, id="clusters-differ"
        ),
    ],
)
def test_alarm_over_metrics_of_several_zones_or_clusters_names_none(
    dimensions: dict[str, str], zone: str | None, zone_id: str | None, cluster: str | None
) -> None:
    [signal] = translated_fields(changed("cloudwatch-alarm-metric-math", (DIMENSIONS, dimensions)))
    assert (signal["zone"], signal["zone_id"], signal["cluster"]) == (zone, zone_id, cluster)


def test_alarm_on_a_zone_id_dimension_sets_zone_id() -> None:
    path = ("detail", "configuration", "metrics", 0, "metricStat", "metric", "dimensions")
    [signal] = translated_fields(changed("cloudwatch-alarm-metric", (path, {"AvailabilityZoneId": "use1-az1"})))
    assert (signal["zone"], signal["zone_id"]) == (None, "use1-az1")


@pytest.mark.parametrize(
    ("detail_type", "kind", "trigger"),
    [
        pytest.param("FIS Experiment Autoshift In Progress", SignalKind.DRILL_STARTED, "fis-experiment", id="fis-on"),
        pytest.param("FIS Experiment Autoshift Completed", SignalKind.DRILL_ENDED, "fis-experiment", id="fis-done"),
        pytest.param("FIS Experiment Autoshift Canceled", SignalKind.DRILL_ENDED, "fis-experiment", id="fis-canceled"),
        pytest.param("Practice Run Succeeded", SignalKind.DRILL_ENDED, "practice-run", id="practice-run-succeeded"),
        pytest.param("Practice Run Interrupted", SignalKind.DRILL_ENDED, "practice-run", id="practice-interrupted"),
        pytest.param("Practice Run Failed", SignalKind.DRILL_ENDED, "practice-run", id="practice-run-failed"),
        pytest.param("Manual Shift Updated", SignalKind.ZONAL_SHIFT_STARTED, "manual", id="followed-manual-updated"),
        pytest.param("Autoshift In Progress", SignalKind.ZONAL_SHIFT_STARTED, "autoshift", id="autoshift-of-ours"),
    ],
)
def test_other_zonal_shift_events(detail_type: str, kind: SignalKind, trigger: str) -> None:
    event = changed("arc-zonal-shift-started", (("detail-type",), detail_type))
    [signal] = translated_fields(event, followed=FOLLOWED)
    assert (signal["kind"], signal["zone_id"], signal["evidence"]["trigger"]) == (kind, "use1-az2", trigger)


def test_time_with_milliseconds_and_offset_is_read_as_utc() -> None:
    [signal] = translated_fields(changed("scheduled-event", (("time",), "2026-11-25T10:05:00.250+01:00")))
    assert signal["observed_at"] == datetime(2026, 11, 25, 9, 5, 0, 250000, tzinfo=UTC)


# -------------------------------------------------------------------------------------------------- skips


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        pytest.param(load_event("health-non-zonal"), SkipReason.NOT_ZONAL, id="health-issue-without-zone"),
        pytest.param(
            load_event("health-not-relevant-service"), SkipReason.NOT_RELEVANT_SERVICE, id="health-lambda-issue"
        ),
        pytest.param(load_event("cloudwatch-alarm-not-owned"), SkipReason.NOT_OWNED, id="alarm-not-owned"),
        pytest.param(
            load_event("cloudwatch-alarm-insufficient-data"), SkipReason.IGNORED_STATE, id="alarm-insufficient-data"
        ),
        pytest.param(load_event("health-account-notification"), SkipReason.IGNORED_STATE, id="account-notification"),
        pytest.param(
            changed("health-ec2-issue-open", (("detail", "statusCode"), "upcoming")),
            SkipReason.IGNORED_STATE,
            id="health-issue-upcoming",
        ),
        pytest.param(
            changed("health-scheduled-change", (("detail", "statusCode"), "closed")),
            SkipReason.IGNORED_STATE,
            id="health-scheduled-change-closed",
        ),
        pytest.param(
            changed("health-ec2-issue-open", (("detail", "eventTypeCategory"), "accountNotification")),
            SkipReason.IGNORED_STATE,
            id="health-account-notification",
        ),
        pytest.param(
            changed("health-scheduled-change", (("detail", "affectedEntities"), [{"entityValue": "vol-0123"}])),
            SkipReason.NOT_ZONAL,
            id="health-scheduled-change-of-no-instance-or-zone",
        ),
        pytest.param(
            changed("scheduled-event", (("source",), "aws.s3"), (("detail-type",), "Object Created")),
            SkipReason.UNKNOWN_EVENT,
            id="unknown-source",
        ),
        pytest.param(
            changed("ec2-state-change-stopped", (("detail-type",), "EC2 Instance Scheduled Change")),
            SkipReason.UNKNOWN_EVENT,
            id="unknown-detail-type",
        ),
        pytest.param(
            changed("cloudwatch-alarm-not-owned", (("detail", "configuration"), "ignored for strangers")),
            SkipReason.NOT_OWNED,
            id="stranger-alarm-configuration-not-read",
        ),
    ],
)
def test_well_formed_events_ferry_does_not_act_on_are_skipped(event: dict[str, Any], reason: SkipReason) -> None:
    result = translate(event)
    assert isinstance(result, Skip)
    assert result.reason is reason
    assert result.detail


# ------------------------------------------------------------------------------------------------ malformed


@pytest.mark.parametrize(
    ("event", "field", "problem"),
    [
        pytest.param(["not", "an", "event"], "event", "expected an object, got array", id="not-an-object"),
        pytest.param(None, "event", "expected an object, got null", id="null"),
        *(
            pytest.param(changed("scheduled-event", ((key,), DELETE)), key, "missing", id=f"envelope-without-{key}")
            for key in ("id", "source", "detail-type", "time", "region", "detail")
        ),
        pytest.param(changed("scheduled-event", (("id",), 42)), "id", "expected a string, got int", id="id-int"),
        pytest.param(changed("scheduled-event", (("id",), "")), "id", "expected a non-empty string", id="id-empty"),
        pytest.param(changed("scheduled-event", (("detail",), [])), "detail", "expected an object", id="detail-list"),
        pytest.param(changed("scheduled-event", (("resources",), "r")), "resources", "expected an array", id="res"),
        pytest.param(
            changed("scheduled-event", (("resources",), [7])), "resources[0]", "expected a string", id="res-0"
        ),
        pytest.param(changed("scheduled-event", (("time",), "yesterday")), "time", "not an ISO-8601 time", id="bad"),
        pytest.param(
            changed("scheduled-event", (("time",), "2026-11-25T09:05:00")), "time", "without a UTC offset", id="naive"
        ),
        pytest.param(
            changed("scheduled-event", (("time",), "0001-01-01T00:00:00+05:00")), "time", "out of range", id="early"
        ),
        pytest.param(
            changed("ec2-state-change-stopped", (("detail", "instance-id"), DELETE)),
            "detail.instance-id",
            "missing",
            id="ec2-without-instance",
        ),
        pytest.param(
            changed("ec2-state-change-stopped", (("detail", "state"), "rebooting")),
            "detail.state",
            "expected one of pending, running, shutting-down, terminated, stopping, stopped, got 'rebooting'",
            id="ec2-unknown-state",
        ),
        pytest.param(
            changed("ec2-spot-interruption", (("detail", "instance-action"), 1)),
            "detail.instance-action",
            "expected a string, got int",
            id="spot-action-int",
        ),
        pytest.param(
            changed("ec2-rebalance-recommendation", (("detail", "instance-id"), None)),
            "detail.instance-id",
            "expected a string, got null",
            id="rebalance-instance-null",
        ),
        pytest.param(
            changed("health-ec2-issue-open", (("detail", "service"), DELETE)),
            "detail.service",
            "missing",
            id="health-without-service",
        ),
        pytest.param(
            changed("health-ec2-issue-open", (("detail", "availabilityZone"), "the-big-one")),
            "detail.availabilityZone",
            "not an Availability Zone name or id",
            id="health-bad-zone",
        ),
        pytest.param(
            changed("health-ec2-issue-open", (("detail", "eventArn"), DELETE)),
            "detail.eventArn",
            "missing",
            id="health-issue-without-its-arn",
        ),
        pytest.param(
            changed("health-ec2-issue-open", (("detail", "statusCode"), DELETE)),
            "detail.statusCode",
            "missing, and nothing else says whether the issue is over",
            id="health-issue-neither-open-nor-over",
        ),
        pytest.param(
            changed("health-ec2-issue-resolved", (("detail", "statusCode"), "open"), (("detail", "endTime"), "soon")),
            "detail.endTime",
            "not an ISO-8601 time",
            id="health-issue-end-time-not-a-time",
        ),
        pytest.param(
            changed("health-ec2-issue-open", (("detail", "eventDescription", 0), "text")),
            "detail.eventDescription[0]",
            "expected an object, got string",
            id="health-description-not-an-object",
        ),
        pytest.param(
            changed("health-scheduled-change", (("detail", "affectedEntities", 1), "i-0a9b8c7d6e5f40312")),
            "detail.affectedEntities[1]",
            "expected an object, got string",
            id="health-entity-not-object",
        ),
        pytest.param(
            changed("health-scheduled-change", (("detail", "affectedEntities", 0, "entityValue"), DELETE)),
            "detail.affectedEntities[0].entityValue",
            "missing",
            id="health-entity-without-value",
        ),
        pytest.param(
            changed("autoscaling-launch-lifecycle", (("detail", "LifecycleActionToken"), DELETE)),
            "detail.LifecycleActionToken",
            "missing",
            id="asg-without-token",
        ),
        pytest.param(
            changed(
                "autoscaling-launch-lifecycle",
                (("detail", "LifecycleTransition"), "autoscaling:EC2_INSTANCE_TERMINATING"),
            ),
            "detail.LifecycleTransition",
            "expected autoscaling:EC2_INSTANCE_LAUNCHING",
            id="asg-transition-contradicts-detail-type",
        ),
        pytest.param(
            changed("autoscaling-terminate-lifecycle", (("detail", "Origin"), ["AutoScalingGroup"])),
            "detail.Origin",
            "expected a string, got array",
            id="asg-origin-array",
        ),
        pytest.param(
            changed("cloudwatch-alarm-metric", (("detail", "state", "value"), "PANIC")),
            "detail.state.value",
            "expected one of ALARM, OK, INSUFFICIENT_DATA, got 'PANIC'",
            id="alarm-unknown-state",
        ),
        pytest.param(
            changed("cloudwatch-alarm-metric", (("detail", "configuration"), DELETE)),
            "detail.configuration",
            "missing",
            id="alarm-without-configuration",
        ),
        pytest.param(
            changed("cloudwatch-alarm-metric", (("detail", "configuration", "metrics"), [])),
            "detail.configuration.metrics",
            "expected at least one metric or an alarmRule",
            id="alarm-without-metrics",
        ),
        pytest.param(
            changed("cloudwatch-alarm-metric-math", ((*DIMENSIONS, "AvailabilityZone"), "everywhere")),
            "detail.configuration.metrics[1].metricStat.metric.dimensions.AvailabilityZone",
            "not an Availability Zone name or id: 'everywhere'",
            id="alarm-zone-dimension-not-a-zone",
        ),
        pytest.param(
            changed("cloudwatch-alarm-metric-math", ((*DIMENSIONS, "ClusterName"), 3)),
            "detail.configuration.metrics[1].metricStat.metric.dimensions.ClusterName",
            "expected a string, got int",
            id="alarm-dimension-int",
        ),
        pytest.param(
            changed("cloudwatch-alarm-composite", (("detail", "configuration", "alarmRule"), None)),
            "detail.configuration.alarmRule",
            "expected a string, got null",
            id="composite-rule-null",
        ),
        pytest.param(
            changed("arc-autoshift-started", (("detail", "metadata", "awayFrom"), "somewhere")),
            "detail.metadata.awayFrom",
            "not an Availability Zone id: 'somewhere'",
            id="arc-away-from-not-a-zone",
        ),
        pytest.param(
            changed("arc-practice-run-started", (("detail", "metadata"), DELETE)),
            "detail.metadata",
            "missing",
            id="arc-malformed-never-passes-as-skip",
        ),
    ],
)
def test_malformed_events_fail_naming_the_field(event: object, field: str, problem: str) -> None:
    with pytest.raises(EventParseError) as raised:
        translate(event)
    assert raised.value.field == field
    assert problem in raised.value.problem


# ------------------------------------------------------------------------------------------------ SQS batch


def test_sqs_batch_bodies_are_eventbridge_events_that_translate() -> None:
    records = load_event("sqs-batch-ingest")["Records"]
    kinds: list[SignalKind] = []
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        result = translate(json.loads(record["body"]))
        assert isinstance(result, tuple)
        kinds.extend(signal.kind for signal in result)
    assert kinds == [SignalKind.INSTANCE_DOWN, SignalKind.ZONAL_SHIFT_STARTED, SignalKind.ALARM_FIRING]


# ------------------------------------------------------------------------------------------------ bookkeeping

SAMPLE_FILES = sorted(path.stem for path in EVENTS.glob("*.json"))
TESTED_HERE = {param.values[0] for param in SIGNAL_SAMPLES} | {
    "health-non-zonal",
    "health-not-relevant-service",
    "health-account-notification",
    "cloudwatch-alarm-not-owned",
    "cloudwatch-alarm-insufficient-data",
    "sqs-batch-ingest",
}


def test_every_sample_in_events_is_asserted_by_a_test() -> None:
    assert set(SAMPLE_FILES) == TESTED_HERE


def test_events_readme_lists_every_sample() -> None:
    listed = set(re.findall(r"`([\w.-]+)\.json`", (EVENTS / "README.md").read_text()))
    assert set(SAMPLE_FILES) <= listed
