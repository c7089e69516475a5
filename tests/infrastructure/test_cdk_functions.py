"""Functions: every Ferry function is built the same way, and gets only the layers it needs."""

from __future__ import annotations

from typing import Any

import pytest

from cdk.constants import FUNCTIONS, INGEST, FunctionSpec
from cdk.functions import FerryFunction
from tests.infrastructure.synthesis import Synthesized

pytestmark = pytest.mark.xdist_group("cdk-synth")

FUNCTION_SPECS = [pytest.param(spec, id=spec.name) for spec in FUNCTIONS]


def _function(synthesized: Synthesized, spec: FunctionSpec) -> FerryFunction:
    (function,) = [f for f in synthesized.stack.functions if f.spec == spec]
    return function


def _properties(synthesized: Synthesized, spec: FunctionSpec) -> dict[str, Any]:
    function = _function(synthesized, spec)
    return dict(synthesized.resources[synthesized.logical_id(function.function)]["Properties"])


def test_every_declared_function_is_deployed(synthesized: Synthesized) -> None:
    assert sorted(f.spec.name for f in synthesized.stack.functions) == sorted(spec.name for spec in FUNCTIONS)
    assert len(synthesized.of_type("AWS::Lambda::Function")) == len(FUNCTIONS)


@pytest.mark.parametrize("spec", FUNCTION_SPECS)
def test_runs_python_312_on_arm64_with_active_tracing(synthesized: Synthesized, spec: FunctionSpec) -> None:
    properties = _properties(synthesized, spec)
    assert properties["Runtime"] == "python3.12"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Handler"] == "handler.handler"
    assert properties["FunctionName"] == f"ferry-{spec.name}"
    assert properties["MemorySize"] == spec.memory_mb
    assert properties["Timeout"] == spec.timeout.to_seconds()


def _own_environment(synthesized: Synthesized, spec: FunctionSpec) -> dict[str, Any]:
    """What a function gets beyond the common settings: the detector's hand-off, the schedule's period."""
    stack = synthesized.stack
    if spec.name in ("ingest", "probe", "zone-override"):  # zone-override: SetZone's hand-offs are the detector's
        evacuate = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["EvacuateZone"])}
        failback = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["FailbackZone"])}
        drain = {"Ref": synthesized.logical_id(stack.runbooks.state_machines["DrainNode"])}
        failover = {"Ref": synthesized.logical_id(stack.shifts.state_machines["FailoverCluster"])}
        # Only ingest reads node warnings, so only ingest may start DrainNode.
        return {
            "FERRY_SM_EVACUATE_ZONE": evacuate,
            "FERRY_SM_FAILBACK_ZONE": failback,
            "FERRY_SM_FAILOVER_CLUSTER": failover,
            **({"FERRY_SM_DRAIN_NODE": drain} if spec.name == "ingest" else {}),
        }
    if spec.name == "snapshot-schedule":
        return {"FERRY_SNAPSHOT_PERIOD_SECONDS": "300"}
    if spec.name == "runbook-await":  # supervised mode's pause: its timeout, and Decide's ARN for the notification
        return {
            "FERRY_DECISION_TIMEOUT_SECONDS": "900",
            "FERRY_ON_DECISION_TIMEOUT": "abort",
            "FERRY_SM_DECIDE": {"Ref": synthesized.logical_id(stack.decisions.decide)},
        }
    return {}


@pytest.mark.parametrize("spec", FUNCTION_SPECS)
def test_environment_names_the_table_topic_and_mode(synthesized: Synthesized, spec: FunctionSpec) -> None:
    variables = _properties(synthesized, spec)["Environment"]["Variables"]
    stack = synthesized.stack
    assert variables == {
        "POWERTOOLS_SERVICE_NAME": "ferry",
        "POWERTOOLS_METRICS_NAMESPACE": "Ferry",
        "LOG_LEVEL": "INFO",
        "FERRY_TABLE": {"Ref": synthesized.logical_id(stack.state.table)},
        "FERRY_TOPIC_ARN": {"Ref": synthesized.logical_id(stack.notifications.topic)},
        "FERRY_MODE": "observe",
        **_own_environment(synthesized, spec),
    }


@pytest.mark.parametrize("spec", FUNCTION_SPECS)
def test_layers_are_deps_and_ferry_plus_kubernetes_only_when_needed(
    synthesized: Synthesized, spec: FunctionSpec
) -> None:
    # CDK sorts a function's layers (cdk.json's recognizeLayerVersion flag), so only the set is ours to check;
    # the order cannot matter because no two layers ship the same path (test_cdk_bundling.py).
    layers = synthesized.stack.layers
    expected = [layers.deps, layers.ferry] + ([layers.kubernetes] if spec.kubernetes else [])
    actual = _properties(synthesized, spec)["Layers"]
    assert sorted(actual, key=str) == sorted(({"Ref": synthesized.logical_id(layer)} for layer in expected), key=str)


def test_ingest_does_not_carry_the_kubernetes_client(synthesized: Synthesized) -> None:
    layer_descriptions = [
        layer["Properties"]["Description"] for layer in synthesized.of_type("AWS::Lambda::LayerVersion").values()
    ]
    assert not INGEST.kubernetes
    assert len(_properties(synthesized, INGEST)["Layers"]) == 2
    if not any(spec.kubernetes for spec in FUNCTIONS):
        assert not any("Kubernetes" in description for description in layer_descriptions), "unused layer"


@pytest.mark.parametrize("spec", FUNCTION_SPECS)
def test_logs_go_to_an_explicit_log_group_with_retention(synthesized: Synthesized, spec: FunctionSpec) -> None:
    function = _function(synthesized, spec)
    log_group_id = synthesized.logical_id(function.log_group)
    log_group = synthesized.resources[log_group_id]["Properties"]
    assert log_group["LogGroupName"] == f"/aws/lambda/ferry-{spec.name}"
    assert log_group["RetentionInDays"] == 30
    assert _properties(synthesized, spec)["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}


@pytest.mark.parametrize("spec", FUNCTION_SPECS)
def test_each_function_has_its_own_role_without_managed_policies(synthesized: Synthesized, spec: FunctionSpec) -> None:
    function = _function(synthesized, spec)
    role_id = synthesized.logical_id(function.role)
    role = synthesized.resources[role_id]["Properties"]
    assert _properties(synthesized, spec)["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert "ManagedPolicyArns" not in role
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    other_roles = {synthesized.logical_id(f.role) for f in synthesized.stack.functions if f is not function}
    assert role_id not in other_roles
