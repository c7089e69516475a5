"""Starting state machines on moto: names, inputs and the refused second start."""

from __future__ import annotations

import json

import boto3
import pytest

from ferry.adapters.stepfunctions import RunbookStarter
from ferry.domain.detection.transitions import Handoff
from ferry.domain.errors import ConfigError
from ferry.domain.runbooks import arn_setting

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


@pytest.fixture
def machine(aws) -> str:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions")
    return str(sfn.create_state_machine(name="EvacuateZone", definition=DEFINITION, roleArn=role)["stateMachineArn"])


def test_start_and_refused_restart(machine: str) -> None:
    sfn = boto3.client("stepfunctions")
    starter = RunbookStarter.from_env(sfn, {arn_setting(Handoff.EVACUATE_ZONE): machine})

    first = starter.start(Handoff.EVACUATE_ZONE, "evacuate-us-east-1a-1764151200", {"zone": "us-east-1a"})
    # Two racing detectors may word the reason differently: Step Functions refuses the name all the same.
    second = starter.start(
        Handoff.EVACUATE_ZONE, "evacuate-us-east-1a-1764151200", {"zone": "us-east-1a", "reason": "x"}
    )

    assert not first.already_started
    assert second.already_started
    assert second.execution_arn == first.execution_arn
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == ["evacuate-us-east-1a-1764151200"]
    described = sfn.describe_execution(executionArn=first.execution_arn)
    assert json.loads(described["input"]) == {"zone": "us-east-1a"}


def test_an_unconfigured_runbook_names_its_setting(aws) -> None:
    starter = RunbookStarter.from_env(boto3.client("stepfunctions"), {})

    with pytest.raises(ConfigError, match="FERRY_SM_FAILBACK_ZONE"):
        starter.start(Handoff.FAILBACK_ZONE, "failback-us-east-1a-1", {})
