"""Supervised mode in the synthesized stack (cdk/supervision.py): the one pause fragment in the runbooks that
pause, and only in those; its timeout from the setting; where a reject, a timeout and anything else go; and
ferry-Decide, whose step may answer task tokens of those runbooks and of nothing else."""

from __future__ import annotations

import json

import pytest

from ferry.domain.conventions import SUPERVISED_RUNBOOKS
from tests.infrastructure.synthesis import Synthesized, synthesize
from tests.infrastructure.test_cdk_runbooks import EXPECTED_RETRIES, _allowing, _role, _roles_of

pytestmark = pytest.mark.xdist_group("cdk-synth")

PAUSE_STATES = {"Supervised?", "AwaitDecision", "NoDecision", "DecisionTimeout"}


@pytest.mark.parametrize("runbook", ["EvacuateZone", "FailbackZone", "RehomePet", "FenceNode", "DrainNode"])
def test_the_pause_stands_between_the_plan_and_the_first_change_of_the_runbooks_that_pause(
    synthesized: Synthesized, runbook: str
) -> None:
    states = synthesized.definition(synthesized.stack.runbooks.state_machines[runbook])["States"]

    if runbook not in SUPERVISED_RUNBOOKS:
        assert not PAUSE_STATES & states.keys()
        return
    (first_change,) = [n for n in states if n in ("FenceNodes", "DrainNodes")]
    assert states["DryRun?"]["Default"] == "Supervised?"
    supervised = states["Supervised?"]
    assert supervised["Choices"] == [
        {"Variable": "$.plan.awaitDecision", "BooleanEquals": True, "Next": "AwaitDecision"}
    ]
    assert supervised["Default"] == first_change
    wait = states["AwaitDecision"]
    assert wait["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken") or "waitForTaskToken" in json.dumps(
        wait["Resource"]
    )
    assert wait["Parameters"]["Payload"] == {"token.$": "$$.Task.Token", "plan.$": "$.plan"}
    assert wait["TimeoutSeconds"] == 900  # decisionTimeoutSeconds' default
    assert (wait["Next"], wait["ResultPath"]) == (first_change, "$.decision")
    catches = [(c["ErrorEquals"], c["Next"]) for c in wait["Catch"]]
    assert catches == [(["States.Timeout"], "NoDecision"), (["States.ALL"], "Report")]
    assert states["NoDecision"]["Next"] == "DecisionTimeout"
    timeout = states["DecisionTimeout"]
    assert (timeout["Next"], timeout["InputPath"], timeout["Retry"]) == (first_change, "$.timeout", EXPECTED_RETRIES)
    assert [c["Next"] for c in timeout["Catch"]] == ["Report"]


def test_the_decision_timeout_setting_is_the_pause_timeout(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("cdk.out.supervised")
    synthesized = synthesize(out, decisionTimeoutSeconds="120", onDecisionTimeout="proceed", mode="supervised")
    states = synthesized.definition(synthesized.stack.runbooks.state_machines["EvacuateZone"])["States"]
    (function,) = [f for f in synthesized.stack.functions if f.spec.name == "runbook-await"]
    variables = synthesized.resources[synthesized.logical_id(function.function)]["Properties"]["Environment"]

    assert states["AwaitDecision"]["TimeoutSeconds"] == 120
    assert variables["Variables"]["FERRY_DECISION_TIMEOUT_SECONDS"] == "120"
    assert variables["Variables"]["FERRY_ON_DECISION_TIMEOUT"] == "proceed"
    assert variables["Variables"]["FERRY_MODE"] == "supervised"


def test_decide_runs_its_one_step_and_fails_a_refused_decision_with_its_message(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    definition = synthesized.definition(stack.decisions.decide)
    states = definition["States"]
    task = states["Decide"]

    assert definition["StartAt"] == "Decide"
    assert task["Resource"] == synthesized.logical_id(stack.decisions.function.function)
    assert task["Next"] == "Done" and task["Retry"] == EXPECTED_RETRIES
    (catch,) = task["Catch"]
    assert catch["ErrorEquals"] == ["InputError"] and catch["Next"] == "ReadRejection"


def test_only_the_decide_step_answers_task_tokens_and_only_of_the_runbooks_that_pause(synthesized: Synthesized) -> None:
    decide = _role(synthesized, "decide")
    for action in ("states:SendTaskSuccess", "states:SendTaskFailure"):
        found = _allowing(synthesized, action)
        assert {role for policy, _ in found for role in _roles_of(synthesized, policy)} == {decide}
        (statement,) = [s for _, s in found]
        resources = json.dumps(statement["Resource"])
        assert [name for name in SUPERVISED_RUNBOOKS if f"stateMachine:ferry-{name}" in resources] == list(
            SUPERVISED_RUNBOOKS
        )
        assert "*" not in resources and len(statement["Resource"]) == len(SUPERVISED_RUNBOOKS)
