"""ferry-SetZone (cdk/overrides.py): a person's word on a zone, one step, as the console starts it.

Read from the synthesized template: the states (the input kept and named, the one step, a bad input failing
with the step's message naming each field), the step's retries (the runbooks' own), and the role, which may
invoke that step and nothing else.
"""

from __future__ import annotations

import pytest

from tests.infrastructure.synthesis import Synthesized
from tests.infrastructure.test_cdk_runbooks import EXPECTED_RETRIES, _allowing, _roles_of

pytestmark = pytest.mark.xdist_group("cdk-synth")


def test_set_zone_keeps_the_input_runs_its_one_step_and_fails_a_bad_input_naming_the_fields(
    synthesized: Synthesized,
) -> None:
    stack = synthesized.stack
    step = synthesized.logical_id(stack.overrides.function.function)
    definition = synthesized.definition(stack.overrides.set_zone)
    states = definition["States"]

    assert definition["StartAt"] == "NameRun"
    assert [states["NameRun"]["Next"], states["Prepare"]["Next"], states["SetZone"]["Next"]] == [
        "Prepare",
        "SetZone",
        "Done",
    ]
    assert states["Prepare"]["Parameters"] == {"request.$": "States.JsonMerge($.input, $.run, false)"}
    assert states["NameRun"]["Parameters"]["run"] == {"runId.$": "$$.Execution.Name"}
    task = states["SetZone"]
    assert (task["Resource"], task["InputPath"]) == (step, "$.request")
    assert task["Retry"] == EXPECTED_RETRIES
    (catch,) = task["Catch"]
    assert catch["ErrorEquals"] == ["InputError"] and catch["Next"] == "ReadRejection"
    assert states["InputRejected"] == {"Type": "Fail", "Error": "InputError", "CausePath": "$.rejection.errorMessage"}


def test_set_zone_may_invoke_its_step_and_nothing_else(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    role = synthesized.logical_id(stack.runbooks.roles["SetZone"])
    step = {"Fn::GetAtt": [synthesized.logical_id(stack.overrides.function.function), "Arn"]}

    invokes = [
        s["Resource"] for p, s in _allowing(synthesized, "lambda:InvokeFunction") if role in _roles_of(synthesized, p)
    ]
    assert invokes == [step]
