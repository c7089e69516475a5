"""Monitoring: Ferry's own failures page operators, and the dashboard shows the flow of events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk.constants import FUNCTIONS
from tests.infrastructure.synthesis import Synthesized

pytestmark = pytest.mark.xdist_group("cdk-synth")


def _alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        a["Properties"]["AlarmName"]: a["Properties"] for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
    }


def _notifies_topic(synthesized: Synthesized, alarm: dict[str, Any]) -> bool:
    topic = {"Ref": synthesized.logical_id(synthesized.stack.notifications.topic)}
    return bool(alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic])


def test_every_alarm_is_ferrys_own(synthesized: Synthesized) -> None:
    assert all(name.startswith("ferry-") for name in _alarms(synthesized))


def test_a_dead_letter_pages_at_once(synthesized: Synthesized) -> None:
    alarm = _alarms(synthesized)["ferry-ingest-dead-letters"]
    dead_letters = synthesized.logical_id(synthesized.stack.ingestion.dead_letter_queue)
    assert alarm["Namespace"] == "AWS/SQS"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letters, "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        "GreaterThanThreshold",
        0,
        1,
    )
    assert _notifies_topic(synthesized, alarm)


FUNCTION_ALARMS = [
    pytest.param(spec, metric, id=f"{spec.name}-{metric.lower()}")
    for spec in FUNCTIONS
    for metric in ("Errors", "Throttles")
    if metric == "Throttles" or spec.alarm_on_errors
]


@pytest.mark.parametrize(("spec", "metric"), FUNCTION_ALARMS)
def test_each_function_alarms_on_errors_and_throttles(synthesized: Synthesized, spec: Any, metric: str) -> None:
    alarm = _alarms(synthesized)[f"ferry-{spec.name}-{metric.lower()}"]
    (function,) = [f for f in synthesized.stack.functions if f.spec == spec]
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["MetricName"] == metric
    assert alarm["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": synthesized.logical_id(function.function)}}
    ]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["TreatMissingData"]) == ("Sum", 0, "notBreaching")
    assert _notifies_topic(synthesized, alarm)


def test_dashboard_shows_ingest_queues_and_ferry_metrics(synthesized: Synthesized) -> None:
    (dashboard,) = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "Ferry-us-east-1"
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = "".join(part if isinstance(part, str) else "TOKEN" for part in parts)  # tokens sit inside strings
    widgets = json.loads(body)["widgets"]
    rows = [row for widget in widgets for row in widget["properties"]["metrics"]]
    metrics = [json.dumps(row) for row in rows]
    for expected in (
        '"AWS/Lambda", "Invocations"',
        '"AWS/Lambda", "Errors"',
        '"AWS/Lambda", "Duration"',
        '"AWS/SQS", "ApproximateAgeOfOldestMessage"',
        '"AWS/SQS", "ApproximateNumberOfMessagesVisible"',
    ):
        assert any(expected in m for m in metrics), expected
    searches = {row[0]["expression"] for row in rows if isinstance(row[0], dict)}
    assert searches == {
        """SEARCH('Namespace="Ferry" MetricName="SignalsTranslated"', 'Sum', 300)""",
        """SEARCH('Namespace="Ferry" MetricName="EventsSkipped"', 'Sum', 300)""",
        """SEARCH('Namespace="Ferry" MetricName="StaticStabilityHold"', 'Sum', 300)""",
        # What the probe sees: a failed probe in the period shows as 0, the worst zone as its maximum.
        """SEARCH('Namespace="Ferry" MetricName="ApiHealthy"', 'Minimum', 300)""",
        """SEARCH('Namespace="Ferry" MetricName="NodesNotReady"', 'Maximum', 300)""",
        """SEARCH('Namespace="Ferry" MetricName="LeaseAgeMax"', 'Maximum', 300)""",
        # The readiness row: the worst answer of each day, per zone and per finding kind.
        """SEARCH('Namespace="Ferry" MetricName="ReadinessGrade"', 'Maximum', 86400)""",
        """SEARCH('Namespace="Ferry" MetricName="ReadinessFindings"', 'Maximum', 86400)""",
    }


def test_runbook_steps_do_not_page_on_the_errors_the_state_machine_retries(synthesized: Synthesized) -> None:
    """StepPending and Throttled are raised on purpose; the runbook's failed runs page instead."""
    alarms = _alarms(synthesized)
    for spec in FUNCTIONS:
        if spec.name.startswith("runbook-"):
            assert not spec.alarm_on_errors
            assert f"ferry-{spec.name}-errors" not in alarms
    for name in ("EvacuateZone", "RehomePet", "FenceNode", "DrainNode"):
        alarm = alarms[f"ferry-{name}-failed"]
        metrics = {m["Id"]: m for m in alarm["Metrics"]}
        assert metrics["expr_1"]["Expression"] == "FILL(failed, 0) + FILL(timedOut, 0)"
        assert {metrics[i]["MetricStat"]["Metric"]["MetricName"] for i in ("failed", "timedOut")} == {
            "ExecutionsFailed",
            "ExecutionsTimedOut",
        }
        assert _notifies_topic(synthesized, alarm)
