"""Probe: runs on its schedule, reads only what it must, and its findings reach operators.

The probe is the fast voice of detection (issue 4): if its schedule is wrong it is silent, if it cannot read
cluster credentials it sees nothing, and if static stability holds Ferry still nobody may know unless an
alarm says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cdk.constants import PROBE
from cdk.settings import Settings, SettingsError
from tests.infrastructure.synthesis import Synthesized, synthesize

pytestmark = pytest.mark.xdist_group("cdk-synth")

CLUSTER_SECRETS = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/*"


def _role_statements(synthesized: Synthesized, role: Any) -> list[dict[str, Any]]:
    role_ref = {"Ref": synthesized.logical_id(role)}
    return [
        statement
        for policy in synthesized.of_type("AWS::IAM::Policy").values()
        if role_ref in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _schedule(synthesized: Synthesized) -> dict[str, Any]:
    return dict(synthesized.resources[synthesized.logical_id(synthesized.stack.probing.rule)]["Properties"])


def test_probe_is_sized_for_a_round_of_every_cluster_and_talks_kubernetes(synthesized: Synthesized) -> None:
    probe = synthesized.resources[synthesized.logical_id(synthesized.stack.probe.function)]["Properties"]
    assert (probe["FunctionName"], probe["MemorySize"], probe["Timeout"]) == ("ferry-probe", 512, 60)
    assert {"Ref": synthesized.logical_id(synthesized.stack.layers.kubernetes)} in probe["Layers"]


def test_probe_runs_every_minute_by_default(synthesized: Synthesized) -> None:
    rule = _schedule(synthesized)
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.probe.function), "Arn"]}


def test_a_failed_round_is_not_retried_the_next_round_is(synthesized: Synthesized) -> None:
    probe_id = synthesized.logical_id(synthesized.stack.probe.function)
    (config,) = [
        c["Properties"]
        for c in synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": probe_id}
    ]
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 60)
    (target,) = _schedule(synthesized)["Targets"]
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 60


def test_only_the_schedule_may_invoke_the_probe(synthesized: Synthesized) -> None:
    probe_id = synthesized.logical_id(synthesized.stack.probe.function)
    permissions = [
        p["Properties"]
        for p in synthesized.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [probe_id, "Arn"]}
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [probe_id, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.probing.rule), "Arn"]},
        }
    ]


def test_probe_interval_context_sets_the_rate(tmp_path: Path) -> None:
    every_five = synthesize(tmp_path, probeIntervalMinutes="5")
    rule = every_five.resources[every_five.logical_id(every_five.stack.probing.rule)]["Properties"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    (target,) = rule["Targets"]
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 300, "a round is stale after one period"


@pytest.mark.parametrize(
    "minutes",
    [pytest.param(0, id="zero"), pytest.param(61, id="over-an-hour"), pytest.param(-1, id="negative")],
)
def test_probe_interval_out_of_range_stops_the_synth_naming_the_setting(minutes: int) -> None:
    with pytest.raises(SettingsError, match="'probeIntervalMinutes' must be a whole number of minutes from 1 to 60"):
        Settings(probe_interval_minutes=minutes).validate()


def test_probe_reads_cluster_credentials_and_no_other_secret(synthesized: Synthesized) -> None:
    statements = _role_statements(synthesized, synthesized.stack.probe.role)
    secrets = [s for s in statements if str(s["Action"]).startswith("secretsmanager:")]
    assert secrets == [{"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": CLUSTER_SECRETS}]


def test_functions_that_do_not_talk_to_clusters_read_no_secret(synthesized: Synthesized) -> None:
    for function in synthesized.stack.functions:
        if function.spec.kubernetes:
            continue
        statements = _role_statements(synthesized, function.role)
        assert not [s for s in statements if "secretsmanager" in str(s["Action"])], function.spec.name


def test_probe_reads_instance_states_in_this_region_only(synthesized: Synthesized) -> None:
    statements = _role_statements(synthesized, synthesized.stack.probe.role)
    ec2 = [s for s in statements if any(str(a).startswith("ec2:") for a in s["Action"])]
    assert ec2 == [
        {
            "Action": sorted(PROBE.unscoped_reads),
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
            "Effect": "Allow",
            "Resource": "*",
        }
    ]
    assert set(PROBE.unscoped_reads) == {"ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"}


def test_static_stability_alarm_adds_up_every_subject(synthesized: Synthesized) -> None:
    """An alarm cannot SEARCH; a Metrics Insights query can be alarmed on and sums every `subject`."""
    (alarm,) = [
        a["Properties"]
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == "ferry-static-stability"
    ]
    assert alarm["Metrics"] == [
        {
            "Expression": 'SELECT SUM(StaticStabilityHold) FROM "Ferry"',
            "Id": "expr_1",
            "Label": "Static-stability holds",
            "Period": 60,
            "ReturnData": True,
        }
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        "GreaterThanThreshold",
        0,
        1,
    )
    assert alarm["TreatMissingData"] == "notBreaching", "no hold, no data: that is the healthy case"
    topic = {"Ref": synthesized.logical_id(synthesized.stack.notifications.topic)}
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]


def test_probe_failures_page_like_every_function(synthesized: Synthesized) -> None:
    names = {a["Properties"]["AlarmName"] for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()}
    assert {"ferry-probe-errors", "ferry-probe-throttles"} <= names
