"""ferry-Readiness (cdk/readiness.py): "what if zone X failed now", one step, by hand and every day.

Read from the synthesized template: the states (the input kept and named, the one step, a bad input failing with
the step's message naming each field), the role (its step and nothing else), the daily rule (the setting's hour,
this state machine only, the scheduled input a valid Readiness input), the step's permissions (read-only EC2,
no write anywhere in a cluster's AWS side), and the dashboard's readiness row.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk.constants import DEFAULT_READINESS_HOUR_UTC, METRIC_READINESS_FINDINGS, METRIC_READINESS_GRADE
from cdk.readiness import SCHEDULED_INPUT
from ferry.services import readiness as service
from ferry.services.inputs import validate_input
from tests.infrastructure.synthesis import Synthesized
from tests.infrastructure.test_cdk_runbooks import EXPECTED_RETRIES, _allowing, _as_list, _policy_documents, _roles_of

pytestmark = pytest.mark.xdist_group("cdk-synth")


def test_readiness_keeps_the_input_runs_its_one_step_and_fails_a_bad_input_naming_the_fields(
    synthesized: Synthesized,
) -> None:
    stack = synthesized.stack
    step = synthesized.logical_id(stack.readiness.function.function)
    definition = synthesized.definition(stack.readiness.state_machine)
    states = definition["States"]

    assert [states["NameRun"]["Next"], states["Prepare"]["Next"], states["Assess"]["Next"]] == [
        "Prepare",
        "Assess",
        "Done",
    ]
    task = states["Assess"]
    assert (task["Resource"], task["InputPath"], task["Retry"]) == (step, "$.request", EXPECTED_RETRIES)
    (catch,) = task["Catch"]
    assert catch["ErrorEquals"] == ["InputError"] and catch["Next"] == "ReadRejection"


def test_readiness_may_invoke_its_step_and_nothing_else(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    role = synthesized.logical_id(stack.runbooks.roles["Readiness"])
    step = {"Fn::GetAtt": [synthesized.logical_id(stack.readiness.function.function), "Arn"]}

    invokes = [
        s["Resource"] for p, s in _allowing(synthesized, "lambda:InvokeFunction") if role in _roles_of(synthesized, p)
    ]
    assert invokes == [step]


def _rule(synthesized: Synthesized) -> dict[str, Any]:
    rule = synthesized.resources[synthesized.logical_id(synthesized.stack.readiness.schedule)]
    return rule["Properties"]  # type: ignore[no-any-return]


def test_a_daily_rule_starts_readiness_at_the_settings_hour_with_a_valid_input(synthesized: Synthesized) -> None:
    rule = _rule(synthesized)
    (target,) = rule["Targets"]

    assert rule["ScheduleExpression"] == f"cron(0 {DEFAULT_READINESS_HOUR_UTC} * * ? *)"
    assert target["Arn"] == {"Ref": synthesized.logical_id(synthesized.stack.readiness.state_machine)}
    validate_input("Readiness", json.loads(target["Input"]))
    assert json.loads(target["Input"]) == SCHEDULED_INPUT


def test_the_schedule_may_start_readiness_and_nothing_else(synthesized: Synthesized) -> None:
    (target,) = _rule(synthesized)["Targets"]
    role = target["RoleArn"]["Fn::GetAtt"][0]
    machine = {"Ref": synthesized.logical_id(synthesized.stack.readiness.state_machine)}

    granted = [
        (s["Action"], s["Resource"])
        for p, s in _allowing(synthesized, "states:StartExecution")
        if role in _roles_of(synthesized, p)
    ]
    assert granted == [("states:StartExecution", machine)]


def test_the_step_reads_ec2_and_writes_nothing_there(synthesized: Synthesized) -> None:
    role = synthesized.logical_id(synthesized.stack.readiness.function.role)
    actions = {
        action
        for policy, document in _policy_documents(synthesized)
        if role in _roles_of(synthesized, policy)
        for statement in document["Statement"]
        for action in _as_list(statement.get("Action", []))
    }

    assert {a for a in actions if a.startswith("ec2:")} == {
        "ec2:DescribeInstances",
        "ec2:DescribeVolumes",
        "ec2:DescribeSnapshots",
    }


def test_the_dashboard_has_a_readiness_row_on_the_metrics_the_step_publishes(synthesized: Synthesized) -> None:
    body = json.dumps(synthesized.resources[synthesized.logical_id(synthesized.stack.monitoring.dashboard)])

    assert (service.METRIC_GRADE, service.METRIC_FINDINGS) == (METRIC_READINESS_GRADE, METRIC_READINESS_FINDINGS)
    for text in ("readiness grade per zone", METRIC_READINESS_GRADE, METRIC_READINESS_FINDINGS):
        assert text in body
