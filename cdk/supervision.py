"""Supervised mode: the pause every runbook that pauses shares, and ferry-Decide, a person's decision on it.

In supervised mode an automatic run plans, then waits for a person before its first change (docs/SUPERVISED.md).
The plan step says whether it waits (`plan.awaitDecision`: the executor decides, from the mode, the runbook,
the plan and the input's `approved`). The wait is a Step Functions task token: `AwaitDecision` invokes
`runbook-await` with the token (`.waitForTaskToken`), which records it with the plan's summary and tells
operators how to decide, and the run waits until `ferry-Decide` sends the token or `TimeoutSeconds` (the
`decisionTimeoutSeconds` setting, default 15 minutes) ends the wait:

    Supervised? --no--> <first change>
        | yes
    AwaitDecision --approved--> <first change>
        |-- DecisionRejected (a person's reject) --> Report (nothing changed)
        |-- States.Timeout --> NoDecision -> DecisionTimeout (runbook-await applies onTimeout)
        |                          proceed --> <first change>;  DecisionTimedOut (abort) --> Report
        |-- anything else --> Report

`pause_for_decision` builds that fragment into a runbook's definition (cdk/runbooks.py, for the runbooks of
`ferry.domain.conventions.SUPERVISED_RUNBOOKS`), one definition for all of them.

ferry-Decide `{runId, decision: approve | reject, by, reason}` has one Task (`decide`): it checks the run
waits, records who decided, and sends the token; a refused decision ends in InputRejected naming the problem.
The decide function may send task responses to the runbooks that pause, and to nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import ArnFormat, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk.constants import DECIDE_MACHINE, NAME_PREFIX
from cdk.functions import FerryFunction
from cdk.grants import arn_pattern
from cdk.steps import input_rejected, lambda_step
from ferry.domain.conventions import INPUT_ERROR, LAMBDA_SERVICE_ERRORS, SUPERVISED_RUNBOOKS

if TYPE_CHECKING:
    from cdk.runbooks import FerryRunbooks

J = sfn.JsonPath
ALL_ERRORS = "States.ALL"
TIMEOUT = "States.Timeout"


def pause_for_decision(
    scope: Construct,
    *,
    function: FerryFunction,
    timeout: Duration,
    report: sfn.IChainable,
    then: sfn.IChainable,
) -> sfn.IChainable:
    """The pause before a runbook's first change (`then`), as the module docstring draws it."""
    wait = tasks.LambdaInvoke(
        scope,
        "AwaitDecision",
        comment="Record the token and the plan, tell operators how to decide, wait for ferry-Decide",
        lambda_function=function.function,
        integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload=sfn.TaskInput.from_object({"token": J.task_token, "plan": J.object_at("$.plan")}),
        task_timeout=sfn.Timeout.duration(timeout),
        retry_on_service_exceptions=False,
        result_path="$.decision",
    )
    # Lambda's own service errors on the invoke (nothing recorded yet, or a token recorded again: the newest
    # wins); a decision, a rejection or the timeout is never retried.
    wait.add_retry(errors=list(LAMBDA_SERVICE_ERRORS), interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
    no_decision = sfn.Pass(
        scope,
        "NoDecision",
        comment="Nobody decided in time: runbook-await applies onTimeout",
        parameters={"timedOut": True, "runId": J.string_at("$.plan.runId")},
        result_path="$.timeout",
    )
    on_timeout = lambda_step(
        scope,
        "DecisionTimeout",
        function,
        comment="Record, audit and tell the timeout; proceed goes on, abort raises DecisionTimedOut",
        input_path="$.timeout",
        result_path="$.decision",
    )
    on_timeout.add_catch(report, errors=[ALL_ERRORS], result_path="$.error")  # DecisionTimedOut among them
    wait.add_catch(no_decision, errors=[TIMEOUT], result_path="$.waitError")
    wait.add_catch(report, errors=[ALL_ERRORS], result_path="$.error")  # DecisionRejected among them
    no_decision.next(on_timeout)
    on_timeout.next(then)
    wait.next(then)
    return (
        sfn.Choice(scope, "Supervised?", comment="Supervised mode: wait for a person's decision before any change")
        .when(sfn.Condition.boolean_equals("$.plan.awaitDecision", True), wait)
        .otherwise(then)
    )


class FerryDecisions(Construct):
    """ferry-Decide and what its step may do: answer the task tokens of the runbooks that pause."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runbooks: FerryRunbooks,
        function: FerryFunction,
        timeout_seconds: int,
        on_timeout: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function

        def definition(machine_scope: Construct) -> sfn.IChainable:
            step = lambda_step(
                machine_scope,
                "Decide",
                function,
                comment="Check the run waits, record who decided and why, send its task token",
            )
            step.add_catch(input_rejected(machine_scope), errors=[INPUT_ERROR], result_path="$.error")
            return step.next(sfn.Succeed(machine_scope, "Done"))

        self.decide = runbooks.add_state_machine(
            DECIDE_MACHINE,
            "Approve or reject a supervised run that waits for a decision, in a person's name",
            definition,
            [function],
        )
        # By name, not by reference: the runbooks' await step names this machine (its notification), so a
        # reference back would make a cycle; the names are fixed (ferry-<Runbook>).
        machines = [
            arn_pattern(
                self, "states", "stateMachine", f"{NAME_PREFIX}-{name}", arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
            for name in SUPERVISED_RUNBOOKS
        ]
        function.role.add_to_policy(
            iam.PolicyStatement(actions=["states:SendTaskSuccess", "states:SendTaskFailure"], resources=machines)
        )
        # The pause's settings (its Task's TimeoutSeconds is the same setting: RunbookSteps.decision_timeout).
        pause = runbooks.steps.await_.function
        pause.add_environment("FERRY_DECISION_TIMEOUT_SECONDS", str(timeout_seconds))
        pause.add_environment("FERRY_ON_DECISION_TIMEOUT", on_timeout)
        pause.add_environment("FERRY_SM_DECIDE", self.decide.state_machine_arn)
