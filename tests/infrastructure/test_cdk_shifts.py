"""The federated-replica state machines as synthesized (cdk/shifts.py): ShiftReplicas and FailoverCluster.

Make before break is in the machine's shape: nothing scales down before the scale-ups were made and the bounded
Available loop ended; every Task has the runbooks' retries; a bad input ends in InputRejected; an app whose step
keeps failing is reported and the others go on; each machine's role invokes runbook-shift and nothing else; the
function may touch no AWS resource but the table, the topic, its logs and the clusters' secrets.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infrastructure.synthesis import Synthesized
from tests.infrastructure.test_cdk_runbooks import (
    EXPECTED_RETRIES,
    _allowing,
    _as_list,
    _policy_documents,
    _properties,
    _role,
    _roles_of,
    _states,
)

MACHINES = ("ShiftReplicas", "FailoverCluster", "FailbackCluster")
PARAMS = [pytest.param(name, id=name) for name in MACHINES]
TASKS = {
    "Plan": "plan",
    "ScaleUpApp": "scale-up",
    "Available": "available",
    "ScaleDownApp": "scale-down",
    "Report": "report",
}


def definition(synthesized: Synthesized, name: str) -> dict[str, Any]:
    return synthesized.definition(synthesized.stack.shifts.state_machines[name])


def run_path(machine: dict[str, Any]) -> list[str]:
    """The states a run that is not a dry run and meets no error goes through, once its replicas are available
    at the first look (the loop's way out), in order."""
    path, name = [], machine["StartAt"]
    while name:
        path.append(name)
        state = machine["States"][name]
        if name == "AllAvailable?":
            name = state["Choices"][0]["Next"]
        else:
            name = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    return path


def test_failback_runs_the_same_states_once_per_step_with_a_wait_between_steps(synthesized: Synthesized) -> None:
    states = definition(synthesized, "FailbackCluster")["States"]

    assert states["DryRun?"]["Default"] == "Finished?"
    assert states["Finished?"]["Choices"] == [{"Variable": "$.plan.finished", "BooleanEquals": True, "Next": "Report"}]
    assert states["Finished?"]["Default"] == "StartStep"
    assert states["StartStep"] == {
        "Type": "Pass",
        "Comment": "A new step: its own wait for availability",
        "Result": {},
        "ResultPath": "$.wait",
        "Next": "ScaleUp",
    }
    assert states["ScaleDown"]["Next"] == "WaitBetweenSteps"
    assert states["WaitBetweenSteps"]["Seconds"] == 60 and states["WaitBetweenSteps"]["Next"] == "Plan"


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name in MACHINES[:2]])
def test_make_before_break_is_the_machines_order(synthesized: Synthesized, name: str) -> None:
    machine = definition(synthesized, name)
    states = machine["States"]

    assert run_path(machine) == [
        "NameRun", "Prepare", "Plan", "DryRun?", "ScaleUp", "Available", "AllAvailable?", "ScaleDown", "Report",
        "Failed?", "Done",
    ]  # fmt: skip
    assert states["AllAvailable?"]["Choices"] == [
        {"Variable": "$.wait.done", "BooleanEquals": True, "Next": "ScaleDown"}
    ]
    assert states["AllAvailable?"]["Default"] == "WaitForReplicas"
    assert states["WaitForReplicas"] == {
        "Type": "Wait",
        "Comment": "Give the new replicas time to start before looking again",
        "Seconds": 10,
        "Next": "Available",
    }
    assert states["ScaleUp"]["Next"] == "Available" and states["ScaleDown"]["Next"] == "Report"
    assert states["DryRun?"]["Choices"] == [{"Variable": "$.plan.dryRun", "BooleanEquals": True, "Next": "Report"}]
    assert states["ScaleUp"]["ItemsPath"] == "$.plan.apps" and states["ScaleDown"]["ItemsPath"] == "$.wait.apps"
    assert states["ScaleUp"]["MaxConcurrency"] == states["ScaleDown"]["MaxConcurrency"] == 10
    assert states["Prepare"]["Parameters"]["request.$"] == "States.JsonMerge($.input, $.run, false)"
    assert machine["States"]["NameRun"]["Parameters"]["run"]["runbook"] == name


@pytest.mark.parametrize("name", PARAMS)
def test_every_task_names_its_step_and_retries_as_every_runbook(synthesized: Synthesized, name: str) -> None:
    states = _states(definition(synthesized, name))
    function = synthesized.logical_id(synthesized.stack.shifts.function.function)

    for task, step in TASKS.items():
        state = states[task]
        assert state["Type"] == "Task" and state["Parameters"]["step"] == step, task
        assert state["Resource"] == function, task
        assert state["Retry"] == EXPECTED_RETRIES, task


@pytest.mark.parametrize("name", PARAMS)
def test_a_bad_input_is_rejected_and_other_failures_reach_the_report(synthesized: Synthesized, name: str) -> None:
    states = _states(definition(synthesized, name))

    plan_catches = states["Plan"]["Catch"]
    assert plan_catches[0] == {"ErrorEquals": ["InputError"], "ResultPath": "$.error", "Next": "ReadRejection"}
    assert plan_catches[1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"}
    assert states["InputRejected"]["Type"] == "Fail"
    for state in ("ScaleUp", "Available", "ScaleDown"):
        assert states[state]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"}]
    assert states["Failed?"]["Choices"][0] == {"Variable": "$.outcome", "StringEquals": "failed", "Next": "RunFailed"}


@pytest.mark.parametrize(("task", "not_done"), [("ScaleUpApp", "AppNotScaledUp"), ("ScaleDownApp", "AppNotScaledDown")])
def test_an_app_whose_step_keeps_failing_is_reported_failed_and_the_others_go_on(
    synthesized: Synthesized, task: str, not_done: str
) -> None:
    states = _states(definition(synthesized, "FailoverCluster"))

    assert states[task]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": not_done}]
    parameters = states[not_done]["Parameters"]
    assert parameters["shift.$"] == "$.shift" and parameters["runId.$"] == "$.runId"
    assert parameters["failed.$"].startswith("States.Format('the ")
    assert states[not_done]["End"] is True


@pytest.mark.parametrize("name", PARAMS)
def test_each_machine_invokes_runbook_shift_and_nothing_else(synthesized: Synthesized, name: str) -> None:
    runbooks = synthesized.stack.runbooks
    role_id = synthesized.logical_id(runbooks.roles[name])
    invoked = [
        s for policy, s in _allowing(synthesized, "lambda:InvokeFunction") if role_id in _roles_of(synthesized, policy)
    ]

    (statement,) = invoked
    assert statement["Resource"] == {
        "Fn::GetAtt": [synthesized.logical_id(synthesized.stack.shifts.function.function), "Arn"]
    }
    machine = _properties(synthesized, synthesized.stack.shifts.state_machines[name])
    assert machine["StateMachineType"] == "STANDARD"
    assert machine["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_runbook_shift_touches_no_aws_resource_but_the_table_topic_logs_and_cluster_secrets(
    synthesized: Synthesized,
) -> None:
    role = _role(synthesized, "runbook-shift")
    statements = [
        statement
        for policy, document in _policy_documents(synthesized)
        if synthesized.resources[policy]["Type"] == "AWS::IAM::Policy" and role in _roles_of(synthesized, policy)
        for statement in document["Statement"]
    ]
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    unscoped = {a for s in statements if s.get("Resource") == "*" for a in _as_list(s["Action"])}

    services = {action.split(":")[0] for action in actions}
    assert {"dynamodb", "sns", "logs", "secretsmanager"} <= services
    # eks and sts only for EKS members of the configuration (cdk/functions.py), none in the default one
    assert services <= {"dynamodb", "sns", "logs", "secretsmanager", "xray", "kms", "eks", "sts"}, services
    assert unscoped == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}  # X-Ray has no resource-level permission
    assert not {a for a in actions if a.startswith(("ec2:", "states:", "lambda:"))}
