"""The Task states every Ferry state machine shares: a Lambda step with the runbooks' retries, and where a step's
InputError goes (a Fail state whose cause names each wrong field). The runbooks (cdk/runbooks.py), the pause
of supervised mode and ferry-Decide (cdk/supervision.py), ferry-SetZone (cdk/overrides.py) and the federated
runbooks (cdk/shifts.py) build on them.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk.functions import FerryFunction
from ferry.domain.conventions import INPUT_ERROR, RUNBOOK_RETRIES

J = sfn.JsonPath


def lambda_step(
    scope: Construct,
    name: str,
    function: FerryFunction,
    *,
    comment: str,
    input_path: str | None = None,
    result_path: str | None = None,
    payload: sfn.TaskInput | None = None,
) -> tasks.LambdaInvoke:
    """A Task calling one of Ferry's functions, with every runbook's retries (ferry.domain.conventions)."""
    # payload_response_only: the Task's Resource is the function's ARN and its result is the step's output
    # itself (no Payload envelope); without Parameters (`payload`), the state's input is the payload.
    task = tasks.LambdaInvoke(
        scope,
        name,
        lambda_function=function.function,
        payload_response_only=True,
        retry_on_service_exceptions=False,
        comment=comment,
        input_path=input_path,
        result_path=result_path,
        payload=payload,
    )
    for retry in RUNBOOK_RETRIES:
        task.add_retry(
            errors=list(retry.errors),
            interval=Duration.seconds(retry.interval_seconds),
            backoff_rate=retry.backoff_rate,
            max_attempts=retry.max_attempts,
            max_delay=Duration.seconds(retry.max_delay_seconds) if retry.max_delay_seconds is not None else None,
            jitter_strategy=sfn.JitterType.FULL,
        )
    return task


def input_rejected(scope: Construct) -> sfn.IChainable:
    """Where a step's InputError goes: a Fail state whose cause is the message naming each wrong field."""
    return sfn.Pass(
        scope,
        "ReadRejection",
        comment="The step's error message names each wrong field",
        parameters={"rejection": J.string_to_json(J.string_at("$.error.Cause"))},
    ).next(sfn.Fail(scope, "InputRejected", error=INPUT_ERROR, cause_path="$.rejection.errorMessage"))


def one_step_definition(scope: Construct, name: str, function: FerryFunction, *, comment: str) -> sfn.IChainable:
    """A state machine of one step (ferry-SetZone, ferry-Readiness): the run named, its input plus `runId` to
    the step, an InputError to InputRejected, the step's answer as the execution's output."""
    name_run = sfn.Pass(
        scope,
        "NameRun",
        comment="Keep the input as given, name the run",
        parameters={"input": J.object_at("$"), "run": {"runId": J.execution_name}},
    )
    prepare = sfn.Pass(
        scope,
        "Prepare",
        comment="The step's request: the input plus runId",
        parameters={"request": J.json_merge(J.object_at("$.input"), J.object_at("$.run"))},
    )
    step = lambda_step(scope, name, function, comment=comment, input_path="$.request")
    step.add_catch(input_rejected(scope), errors=[INPUT_ERROR], result_path="$.error")
    return sfn.Chain.start(name_run).next(prepare).next(step).next(sfn.Succeed(scope, "Done"))
