"""Runbooks: the state machines follow docs/REHOMING.md, and nothing Ferry deploys can delete a volume.

These read the synthesized definitions (DefinitionString) and policies. What the definitions do when they
run, step by step, is checked by test_cdk_runbook_executions.py in Step Functions' own semantics.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from typing import Any

import pytest

from cdk.constants import RUNBOOKS, RunbookSpec
from ferry.domain.conventions import SUPERVISED_RUNBOOKS
from tests.infrastructure.synthesis import Synthesized

pytestmark = pytest.mark.xdist_group("cdk-synth")

RUNBOOK_PARAMS = [pytest.param(spec, id=spec.name) for spec in RUNBOOKS]
TASKS = ("Plan", "Fence", "Rehome", "Report")
# Written out, not imported (docs/REHOMING.md): each runbook's node Map, its Task and the state reporting a
# node whose step kept failing, named for what the runbook does to its nodes.
NODE_STATES = {
    "EvacuateZone": ("FenceNodes", "Fence", "NodeNotFenced"),
    "RehomePet": ("FenceNodes", "Fence", "NodeNotFenced"),
    "FenceNode": ("FenceNodes", "Fence", "NodeNotFenced"),
    "DrainNode": ("DrainNodes", "Drain", "NodeNotDrained"),
    "FailbackZone": ("FenceNodes", "Fence", "NodeNotFenced"),  # the node step gives each node back (its `lift`)
}


def tasks_of(spec: RunbookSpec) -> list[str]:
    node_task = NODE_STATES[spec.name][1]
    return [node_task if t == "Fence" else t for t in TASKS if t != "Rehome" or spec.rehomes_pets]


LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# Written out, not imported: this is the contract of docs/REHOMING.md.
EXPECTED_RETRIES = [
    {
        "ErrorEquals": ["StepPending"],
        "IntervalSeconds": 2,
        "MaxAttempts": 20,
        "BackoffRate": 2,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
    },
    {
        "ErrorEquals": ["Throttled", "Unavailable", "TransientError"],
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    },
    {
        "ErrorEquals": LAMBDA_SERVICE_ERRORS,
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    },
    {
        # The function killed (its timeout, its process gone): the steps are idempotent, so run it again.
        "ErrorEquals": ["Sandbox.Timedout", "Runtime.ExitError", "Runtime.Unknown"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    },
]


# --- helpers --------------------------------------------------------------------------------------------------


def _machine(synthesized: Synthesized, spec: RunbookSpec) -> Any:
    return synthesized.stack.runbooks.state_machines[spec.name]


def _definition(synthesized: Synthesized, spec: RunbookSpec) -> dict[str, Any]:
    return synthesized.definition(_machine(synthesized, spec))


def _states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state by name, those inside Map item processors included."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        if state["Type"] == "Map":
            found.update(_states(state["ItemProcessor"]))
    return found


def _main_path(definition: dict[str, Any]) -> list[str]:
    """The states a run that is not a dry run and meets no error goes through, in order."""
    path, name = [], definition["StartAt"]
    while name:
        path.append(name)
        state = definition["States"][name]
        name = state.get("Default") if state["Type"] == "Choice" else state.get("Next")
    return path


def _properties(synthesized: Synthesized, construct: Any) -> dict[str, Any]:
    return dict(synthesized.resources[synthesized.logical_id(construct)]["Properties"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(synthesized: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, document) for every policy document of every kind in the template."""
    fields = {
        "AWS::IAM::Policy": "PolicyDocument",
        "AWS::IAM::ManagedPolicy": "PolicyDocument",
        "AWS::SQS::QueuePolicy": "PolicyDocument",
        "AWS::SNS::TopicPolicy": "PolicyDocument",
        "AWS::KMS::Key": "KeyPolicy",
    }
    documents = []
    for logical_id, resource in synthesized.resources.items():
        field = fields.get(resource["Type"])
        if field:
            documents.append((logical_id, resource["Properties"][field]))
        if resource["Type"] == "AWS::IAM::Role":
            documents += [(logical_id, p["PolicyDocument"]) for p in resource["Properties"].get("Policies", [])]
            documents.append((logical_id, resource["Properties"]["AssumeRolePolicyDocument"]))
    return documents


def _allowing(synthesized: Synthesized, action: str) -> list[tuple[str, dict[str, Any]]]:
    """(policy logical id, statement) of every Allow statement whose actions match `action` (wildcards too)."""
    found = []
    for logical_id, document in _policy_documents(synthesized):
        for statement in document["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            patterns = _as_list(statement.get("Action", []))
            if any(fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns):
                found.append((logical_id, statement))
    return found


def _roles_of(synthesized: Synthesized, policy_id: str) -> set[str]:
    return {r["Ref"] for r in synthesized.resources[policy_id]["Properties"].get("Roles", [])}


def _role(synthesized: Synthesized, function_name: str) -> str:
    (function,) = [f for f in synthesized.stack.functions if f.spec.name == function_name]
    return synthesized.logical_id(function.role)


# --- the state machines ---------------------------------------------------------------------------------------


def test_one_standard_state_machine_per_runbook_named_as_ferry_names_them(synthesized: Synthesized) -> None:
    from ferry.domain.runbooks import Runbook

    machines = {
        p["Properties"]["StateMachineName"]: p["Properties"]
        for p in synthesized.of_type("AWS::StepFunctions::StateMachine").values()
    }
    assert sorted(machines) == [
        "ferry-Decide",  # cdk/supervision.py: one step, a person's decision on a paused run
        "ferry-DrainNode",
        "ferry-EvacuateZone",
        "ferry-FailbackCluster",
        "ferry-FailbackZone",
        "ferry-FailoverCluster",  # cdk/shifts.py: federated replicas (tests/infrastructure/test_cdk_shifts.py)
        "ferry-FenceNode",
        "ferry-Readiness",  # cdk/readiness.py: one step, changes nothing
        "ferry-RehomePet",
        "ferry-SetZone",  # cdk/overrides.py: one step, not the runbooks' shape
        "ferry-ShiftReplicas",
    ]
    assert {spec.name for spec in RUNBOOKS} <= {r.value for r in Runbook}
    for properties in machines.values():
        # Standard: runs outlive five minutes, and only Standard refuses a second execution of the same name.
        assert properties["StateMachineType"] == "STANDARD"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            spec,
            ["NameRun", "Prepare", "Plan", "DryRun?"]
            + (["Supervised?"] if spec.name in SUPERVISED_RUNBOOKS else [])  # cdk/supervision.py: its own tests
            + [NODE_STATES[spec.name][0]]
            + (["RehomePets"] if spec.rehomes_pets else [])
            + ["Report", "Failed?", "Done"],
            id=spec.name,
        )
        for spec in RUNBOOKS
    ],
)
def test_states_run_in_the_documented_order(synthesized: Synthesized, spec: RunbookSpec, expected: list[str]) -> None:
    definition = _definition(synthesized, spec)
    assert _main_path(definition) == expected
    assert definition["States"]["Done"] == {"Type": "Succeed"}
    failed = definition["States"]["Failed?"]["Choices"]
    assert failed == [{"Variable": "$.outcome", "StringEquals": "failed", "Next": "RunFailed"}]
    assert definition["States"]["RunFailed"] == {"Type": "Fail", "Error": "RunFailed", "CausePath": "$.summary"}


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_each_task_invokes_its_own_step_and_passes_the_payload_as_is(
    synthesized: Synthesized, spec: RunbookSpec
) -> None:
    steps = synthesized.stack.runbooks.steps
    node_task = NODE_STATES[spec.name][1]
    functions = {"Plan": steps.plan, node_task: steps.fence, "Rehome": steps.rehome, "Report": steps.report}
    states = _states(_definition(synthesized, spec))
    pause = {
        "AwaitDecision",
        "DecisionTimeout",
    }  # supervised mode's pause: tests/infrastructure/test_cdk_supervision.py
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task" and name not in pause}
    assert sorted(tasks) == sorted(tasks_of(spec))
    for name, task in tasks.items():
        # The function's own ARN: the step's result is its output, without Lambda's Payload envelope.
        assert task["Resource"] == synthesized.logical_id(functions[name].function)
        assert "Parameters" not in task, "the state's input is the step's typed input"
    assert tasks["Plan"]["InputPath"] == "$.request"
    assert tasks["Plan"]["ResultPath"] == "$.plan"
    assert "ResultPath" not in tasks["Report"], "the report is the run's output"


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_plan_gets_the_input_plus_run_id_and_runbook_and_the_pets_map_its_concurrency(
    synthesized: Synthesized, spec: RunbookSpec
) -> None:
    states = _definition(synthesized, spec)["States"]
    defaults = {"defaults": {"maxConcurrency": 10}} if spec.rehomes_pets else {}
    assert states["NameRun"]["Parameters"] == {
        "input.$": "$",
        "run": {"runId.$": "$$.Execution.Name", "runbook": spec.name},
        **defaults,
    }
    options = {"options.$": "States.JsonMerge($.defaults, $.input, false)"} if spec.rehomes_pets else {}
    assert states["Prepare"]["Parameters"] == {
        "runId.$": "$.run.runId",
        "runbook.$": "$.run.runbook",
        "input.$": "$.input",
        "request.$": "States.JsonMerge($.input, $.run, false)",
        **options,
    }


@pytest.mark.parametrize(
    ("spec", "task"),
    [pytest.param(spec, task, id=f"{spec.name}-{task}") for spec in RUNBOOKS for task in tasks_of(spec)],
)
def test_every_task_retries_transient_errors_with_backoff_and_full_jitter(
    synthesized: Synthesized, spec: RunbookSpec, task: str
) -> None:
    assert _states(_definition(synthesized, spec))[task]["Retry"] == EXPECTED_RETRIES


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_nothing_retries_input_errors_or_every_error(synthesized: Synthesized, spec: RunbookSpec) -> None:
    for name, state in _states(_definition(synthesized, spec)).items():
        for retrier in state.get("Retry", []):
            assert not {"InputError", "States.ALL", "States.TaskFailed"} & set(retrier["ErrorEquals"]), name


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_input_error_from_plan_fails_the_run_with_the_steps_message(
    synthesized: Synthesized, spec: RunbookSpec
) -> None:
    states = _definition(synthesized, spec)["States"]
    # First catcher wins: InputError is caught before States.ALL could send it to the report.
    assert states["Plan"]["Catch"] == [
        {"ErrorEquals": ["InputError"], "ResultPath": "$.error", "Next": "ReadRejection"},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"},
    ]
    assert states["ReadRejection"]["Parameters"] == {"rejection.$": "States.StringToJson($.error.Cause)"}
    assert states["ReadRejection"]["Next"] == "InputRejected"
    # Lambda's error cause is {"errorMessage": ..., "errorType": ...}; the message names each wrong field.
    assert states["InputRejected"] == {"Type": "Fail", "Error": "InputError", "CausePath": "$.rejection.errorMessage"}


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_any_other_failure_is_caught_into_the_report_under_error(synthesized: Synthesized, spec: RunbookSpec) -> None:
    states = _definition(synthesized, spec)["States"]
    to_report = {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Report"}
    node_map = NODE_STATES[spec.name][0]
    for name in (node_map, "RehomePets") if spec.rehomes_pets else (node_map,):
        assert states[name]["Catch"] == [to_report], name
    assert "Catch" not in states["Report"], "the report is the catch target itself"


@pytest.mark.parametrize(
    ("runbook", "map_state", "task", "item_state", "item_fields", "failure"),
    [
        pytest.param(
            "EvacuateZone",
            "FenceNodes",
            "Fence",
            "NodeNotFenced",
            {"cluster", "node", "instanceId", "fenced", "cordoned", "reason"},
            "the fence step failed: ",
            id="node-not-fenced",
        ),
        pytest.param(
            "DrainNode",
            "DrainNodes",
            "Drain",
            "NodeNotDrained",
            {"cluster", "node", "instanceId", "fenced", "cordoned", "reason"},
            "the drain step failed: ",
            id="node-not-drained",
        ),
        pytest.param(
            "EvacuateZone",
            "RehomePets",
            "Rehome",
            "PetFailed",
            {"cluster", "namespace", "pod", "policy", "status", "fromZone", "reason"},
            "the re-home step failed: ",
            id="pet-failed",
        ),
    ],
)
def test_an_item_whose_step_keeps_failing_is_reported_and_the_others_go_on(
    synthesized: Synthesized,
    runbook: str,
    map_state: str,
    task: str,
    item_state: str,
    item_fields: set[str],
    failure: str,
) -> None:
    (spec,) = [spec for spec in RUNBOOKS if spec.name == runbook]
    processor = _definition(synthesized, spec)["States"][map_state]["ItemProcessor"]
    assert processor["StartAt"] == task
    assert processor["States"][task]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": item_state}
    ]
    parameters = processor["States"][item_state]["Parameters"]
    assert {key.removesuffix(".$") for key in parameters} == item_fields
    assert parameters["reason.$"] == f"States.Format('{failure}{{}} ({{}})', $.error.Error, $.error.Cause)"
    assert processor["States"][item_state]["End"] is True


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_nodes_are_fenced_five_at_a_time(synthesized: Synthesized, spec: RunbookSpec) -> None:
    fence_nodes = _definition(synthesized, spec)["States"][NODE_STATES[spec.name][0]]
    assert (fence_nodes["ItemsPath"], fence_nodes["MaxConcurrency"], fence_nodes["ResultPath"]) == (
        "$.plan.nodes",
        5,
        "$.nodes",
    )


@pytest.mark.parametrize("spec", [p for p in RUNBOOK_PARAMS if p.values[0].rehomes_pets])
def test_pets_are_rehomed_as_many_at_a_time_as_the_input_says(synthesized: Synthesized, spec: RunbookSpec) -> None:
    rehome_pets = _definition(synthesized, spec)["States"]["RehomePets"]
    assert rehome_pets["ItemsPath"] == "$.plan.pets"
    assert rehome_pets["MaxConcurrencyPath"] == "$.options.maxConcurrency"
    assert "MaxConcurrency" not in rehome_pets
    assert rehome_pets["ResultPath"] == "$.pets"


def test_fence_node_moves_no_pet(synthesized: Synthesized) -> None:
    (fence_node,) = [spec for spec in RUNBOOKS if spec.name == "FenceNode"]
    states = _states(_definition(synthesized, fence_node))
    assert "Rehome" not in states and "RehomePets" not in states
    assert states["FenceNodes"]["Next"] == "Report"


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_a_dry_run_goes_from_the_plan_straight_to_the_report(synthesized: Synthesized, spec: RunbookSpec) -> None:
    choice = _definition(synthesized, spec)["States"]["DryRun?"]
    assert choice["Choices"] == [{"Variable": "$.plan.dryRun", "BooleanEquals": True, "Next": "Report"}]
    first_change = "Supervised?" if spec.name in SUPERVISED_RUNBOOKS else NODE_STATES[spec.name][0]
    assert choice["Default"] == first_change  # supervised mode's pause comes before the first change


# --- logging, tracing, roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_runs_are_logged_in_full_to_an_encrypted_log_group_and_traced(
    synthesized: Synthesized, spec: RunbookSpec
) -> None:
    runbooks = synthesized.stack.runbooks
    properties = _properties(synthesized, _machine(synthesized, spec))
    log_group_id = synthesized.logical_id(runbooks.log_groups[spec.name])
    assert properties["LoggingConfiguration"] == {
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group_id, "Arn"]}}}],
        "IncludeExecutionData": True,
        "Level": "ALL",
    }
    assert properties["TracingConfiguration"] == {"Enabled": True}
    log_group = synthesized.resources[log_group_id]["Properties"]
    assert log_group["LogGroupName"] == f"/aws/vendedlogs/states/ferry-{spec.name}"
    assert log_group["RetentionInDays"] == 90
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": [synthesized.logical_id(runbooks.key), "Arn"]}


def test_cloudwatch_logs_may_use_the_key_for_runbook_logs_only(synthesized: Synthesized) -> None:
    key = synthesized.resources[synthesized.logical_id(synthesized.stack.runbooks.key)]
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    logs = statements["CloudWatchLogsEncryptRunbookLogs"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": (
                "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/ferry-*"
            )
        }
    }
    assert not any("*" in action for action in logs["Action"])


@pytest.mark.parametrize("spec", RUNBOOK_PARAMS)
def test_each_state_machine_has_its_own_role_that_invokes_only_its_own_steps(
    synthesized: Synthesized, spec: RunbookSpec
) -> None:
    runbooks = synthesized.stack.runbooks
    role_id = synthesized.logical_id(runbooks.roles[spec.name])
    assert _properties(synthesized, _machine(synthesized, spec))["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    role = synthesized.resources[role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
            "Effect": "Allow",
            "Principal": {"Service": "states.amazonaws.com"},
        }
    ]
    assert "ManagedPolicyArns" not in role
    invoked = [
        statement
        for logical_id, statement in _allowing(synthesized, "lambda:InvokeFunction")
        if role_id in _roles_of(synthesized, logical_id)
    ]
    expected = [step.function for step in runbooks.steps.used_by(spec)]
    (statement,) = invoked
    assert statement["Action"] == "lambda:InvokeFunction"
    assert sorted(statement["Resource"], key=str) == sorted(
        ({"Fn::GetAtt": [synthesized.logical_id(f), "Arn"]} for f in expected), key=str
    ), "its own steps' unqualified ARNs, nothing else"
    other_roles = {synthesized.logical_id(r) for name, r in runbooks.roles.items() if name != spec.name}
    assert role_id not in other_roles


# --- what the steps may do in EC2 -----------------------------------------------------------------------------


def test_nothing_anywhere_may_delete_a_volume(synthesized: Synthesized) -> None:
    """DESIGN.md invariant 2, at the IAM boundary: no statement of any policy allows ec2:DeleteVolume."""
    assert _allowing(synthesized, "ec2:DeleteVolume") == []
    for _, document in _policy_documents(synthesized):
        for statement in document["Statement"]:
            assert "NotAction" not in statement, "a NotAction Allow could grant DeleteVolume by omission"


def test_only_the_snapshot_schedule_deletes_snapshots_and_only_its_own(synthesized: Synthesized) -> None:
    deleting = _allowing(synthesized, "ec2:DeleteSnapshot")
    assert [_roles_of(synthesized, logical_id) for logical_id, _ in deleting] == [
        {_role(synthesized, "snapshot-schedule")}
    ]
    ((_, statement),) = deleting
    assert statement["Action"] == "ec2:DeleteSnapshot"
    assert statement["Resource"] == "arn:aws:ec2:us-east-1::snapshot/*"
    assert statement["Condition"] == {
        "Null": {"aws:ResourceTag/ferry:schedule": "false"},
        "StringEquals": {"aws:ResourceTag/ferry:managed": "true"},
    }


def test_snapshots_are_created_only_with_the_schedules_tags(synthesized: Synthesized) -> None:
    creating = _allowing(synthesized, "ec2:CreateSnapshot")
    assert {r for logical_id, _ in creating for r in _roles_of(synthesized, logical_id)} == {
        _role(synthesized, "snapshot-schedule")
    }
    on_snapshots = [s for _, s in creating if s["Resource"] == "arn:aws:ec2:us-east-1::snapshot/*"]
    assert on_snapshots[0]["Condition"] == {
        "StringEquals": {"aws:RequestTag/ferry:managed": "true"},
        "Null": {"aws:RequestTag/ferry:schedule": "false"},
    }
    tagging = [s for _, s in _allowing(synthesized, "ec2:CreateTags") if "snapshot" in str(s["Resource"])]
    assert [s["Condition"] for s in tagging] == [{"StringEquals": {"ec2:CreateAction": "CreateSnapshot"}}]


def test_only_the_fencing_steps_stop_instances_and_only_a_clusters(synthesized: Synthesized) -> None:
    """runbook-fence fences; runbook-rehome retries the fence of its pet's node when it was not confirmed."""
    stopping = _allowing(synthesized, "ec2:StopInstances")
    assert {r for logical_id, _ in stopping for r in _roles_of(synthesized, logical_id)} == {
        _role(synthesized, "runbook-fence"),
        _role(synthesized, "runbook-rehome"),
    }
    for _, statement in stopping:
        assert statement["Resource"] == "arn:aws:ec2:us-east-1:123456789012:instance/*"
        assert statement["Condition"] == {"Null": {"aws:ResourceTag/ferry:cluster": "false"}}
    tagging = [s for _, s in _allowing(synthesized, "ec2:CreateTags") if "instance" in str(s["Resource"])]
    assert len(tagging) == 2
    for statement in tagging:
        assert statement["Condition"] == {
            "Null": {"aws:ResourceTag/ferry:cluster": "false"},
            "ForAllValues:StringLike": {"aws:TagKeys": ["ferry:*"]},
        }


def test_rehome_creates_only_ferry_tagged_volumes(synthesized: Synthesized) -> None:
    creating = _allowing(synthesized, "ec2:CreateVolume")
    assert {r for logical_id, _ in creating for r in _roles_of(synthesized, logical_id)} == {
        _role(synthesized, "runbook-rehome")
    }
    by_resource = {s["Resource"]: s for _, s in creating}
    volume = by_resource["arn:aws:ec2:us-east-1:123456789012:volume/*"]
    assert volume["Condition"] == {"StringEquals": {"aws:RequestTag/ferry:managed": "true"}}
    assert set(by_resource) == {"arn:aws:ec2:us-east-1:123456789012:volume/*", "arn:aws:ec2:us-east-1::snapshot/*"}


def test_rehome_tags_old_volumes_only_with_where_their_pet_went(synthesized: Synthesized) -> None:
    rehome_role = _role(synthesized, "runbook-rehome")
    tagging = [
        s
        for logical_id, s in _allowing(synthesized, "ec2:CreateTags")
        if rehome_role in _roles_of(synthesized, logical_id)
    ]
    conditions = [s["Condition"] for s in tagging]
    assert {"StringEquals": {"ec2:CreateAction": "CreateVolume"}} in conditions
    existing = [c for c in conditions if "ec2:CreateAction" not in str(c) and "ferry:*" not in str(c)]
    assert existing == [
        {
            "ForAllValues:StringEquals": {"aws:TagKeys": ["ferry:rehomed-to"]},
            "Null": {"aws:ResourceTag/ferry:cluster": "false"},
        },
        {
            "ForAllValues:StringEquals": {"aws:TagKeys": ["ferry:rehomed-to"]},
            "StringEquals": {"aws:ResourceTag/ebs.csi.aws.com/cluster": "true"},
        },
    ]


def test_rehome_uses_the_pets_keys_only_through_ec2(synthesized: Synthesized) -> None:
    rehome_role = _role(synthesized, "runbook-rehome")
    kms = [
        s
        for logical_id, document in _policy_documents(synthesized)
        if logical_id in synthesized.resources and rehome_role in _roles_of(synthesized, logical_id)
        for s in document["Statement"]
        if s["Resource"] == "arn:aws:kms:us-east-1:123456789012:key/*"
    ]
    actions = {a for s in kms for a in _as_list(s["Action"])}
    assert actions == {
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:DescribeKey",
    }
    for statement in kms:
        assert statement["Condition"]["StringEquals"] == {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}
    (grant,) = [s for s in kms if s["Action"] == "kms:CreateGrant"]
    assert grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


# --- the detector's hand-off and the snapshot schedule --------------------------------------------------------


def test_ingest_and_probe_know_evacuate_zone_and_ingest_drain_node_by_the_variables_ferry_reads(
    synthesized: Synthesized,
) -> None:
    from ferry.domain.detection.transitions import Handoff
    from ferry.domain.runbooks import Runbook, arn_setting

    stack = synthesized.stack
    machine = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["EvacuateZone"])}
    failback = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["FailbackZone"])}
    failover = {"Ref": synthesized.logical_id(stack.shifts.state_machines["FailoverCluster"])}
    drain = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["DrainNode"])}
    detectors = (
        (stack.ingest, {arn_setting(Runbook.DRAIN_NODE): drain}),
        (stack.probe, {}),
        (stack.overrides.function, {}),
    )
    for detector, extra in detectors:
        variables = _properties(synthesized, detector.function)["Environment"]["Variables"]
        hand_offs = {k: v for k, v in variables.items() if k.startswith("FERRY_SM_")}
        # ReplaceControlPlaneMember does not exist yet: left unset (the detector says "runbook-not-deployed").
        assert hand_offs == {
            arn_setting(Handoff.EVACUATE_ZONE): machine,
            arn_setting(Handoff.FAILBACK_ZONE): failback,
            arn_setting(Handoff.FAILOVER_CLUSTER): failover,
            **extra,
        }
    assert [spec.arn_setting for spec in RUNBOOKS if spec.handoff] == [
        "FERRY_SM_EVACUATE_ZONE",
        "FERRY_SM_FAILBACK_ZONE",
    ]
    assert [spec.arn_setting for spec in RUNBOOKS if spec.started_on_warning] == ["FERRY_SM_DRAIN_NODE"]


def _schedule_role(synthesized: Synthesized) -> str:
    (target,) = synthesized.resources[synthesized.logical_id(synthesized.stack.readiness.schedule)]["Properties"][
        "Targets"
    ]
    return str(target["RoleArn"]["Fn::GetAtt"][0])


def test_only_the_detector_may_start_evacuate_zone_and_only_ingest_drain_node(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    machine = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["EvacuateZone"])}
    failback = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["FailbackZone"])}
    failover = {"Ref": synthesized.logical_id(stack.shifts.state_machines["FailoverCluster"])}
    drain = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["DrainNode"])}
    starting = _allowing(synthesized, "states:StartExecution")
    by_role: dict[str, list[Any]] = {}
    for logical_id, statement in starting:
        assert statement["Action"] == "states:StartExecution" and statement["Effect"] == "Allow"
        for role in _roles_of(synthesized, logical_id):
            resources = statement["Resource"]  # one statement with both, as CDK merges them
            by_role.setdefault(role, []).extend(resources if isinstance(resources, list) else [resources])
    assert {role: sorted(map(str, resources)) for role, resources in by_role.items()} == {
        synthesized.logical_id(stack.ingest.role): sorted(map(str, [machine, failback, failover, drain])),
        synthesized.logical_id(stack.probe.role): sorted(map(str, [machine, failback, failover])),
        # SetZone's step decides like the detector, so it hands off as the detector does.
        synthesized.logical_id(stack.overrides.function.role): sorted(map(str, [machine, failback, failover])),
        # The daily schedule starts ferry-Readiness, which changes nothing (test_cdk_readiness.py).
        _schedule_role(synthesized): [str({"Ref": synthesized.logical_id(stack.readiness.state_machine)})],
    }


def test_snapshot_schedule_runs_every_five_minutes_and_knows_its_period(synthesized: Synthesized) -> None:
    snapshots = synthesized.stack.snapshots
    rule = _properties(synthesized, snapshots.rule)
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synthesized.logical_id(snapshots.function.function), "Arn"]}
    variables = _properties(synthesized, snapshots.function.function)["Environment"]["Variables"]
    assert variables["FERRY_SNAPSHOT_PERIOD_SECONDS"] == "300"
    timeout = _properties(synthesized, snapshots.function.function)["Timeout"]
    assert timeout < 300, "a run must end before the next one starts"


def test_runbook_step_timeouts_stay_under_the_step_lock_lease() -> None:
    """ferry.services.settings: a pet's lock is taken over after its lease; a longer step would share the pet."""
    from ferry.services.settings.rehoming import RehomeSettings

    lease = RehomeSettings.from_env({"FERRY_TABLE": "t", "FERRY_TOPIC_ARN": "a"}).lock_lease.total_seconds()
    from cdk.constants import FUNCTIONS

    for spec in FUNCTIONS:
        if spec.name.startswith("runbook-"):
            assert spec.timeout.to_seconds() < lease, spec.name


def test_only_the_node_step_may_complete_a_lifecycle_action_and_only_of_a_clusters_group(
    synthesized: Synthesized,
) -> None:
    """DrainNode's node step tells an Auto Scaling terminate hook CONTINUE; no other role may, and only for a
    group carrying the cluster tag."""
    completing = _allowing(synthesized, "autoscaling:CompleteLifecycleAction")
    assert {r for logical_id, _ in completing for r in _roles_of(synthesized, logical_id)} == {
        _role(synthesized, "runbook-fence")
    }
    for _, statement in completing:
        assert statement["Condition"] == {"Null": {"aws:ResourceTag/ferry:cluster": "false"}}
        assert "autoScalingGroup:*" in json.dumps(statement["Resource"])
