"""Federated replicas: the ShiftReplicas, FailoverCluster and FailbackCluster state machines
(ferry.services.shifting).

All are one definition over one function (`runbook-shift`), whose Task payload names the step:

    NameRun -> Prepare -> Plan -> DryRun? -> ScaleUp (Map, 10 apps at once: ScaleUpApp)
        -> Available <-> WaitForReplicas (Wait loop, bounded by the step: FERRY_SHIFT_AVAILABLE_SECONDS)
        -> ScaleDown (Map: ScaleDownApp) -> Report -> Failed? -> Done | RunFailed

Make before break is in the machine's shape: nothing is scaled down before every scale-up was made and the
Available loop ended (done, or given up: then each app whose scale-ups are not available holds its scale-downs).
ShiftReplicas takes `{app?, from: {cluster | zone}, reason, dryRun?}` (by hand, or as a stage); FailoverCluster
`{cluster, reason, dryRun?}`: the detector's hand-off when a control plane is DOWN, every federated app away
from the cluster. FailbackCluster `{cluster, reason, dryRun?}` (by hand; the detector's hand-off is planned) runs
the same states once per step, each step planned afresh from the world:

    ... Plan -> DryRun? -> Finished? -> StartStep -> ScaleUp -> Available <-> WaitForReplicas -> ScaleDown
        -> WaitBetweenSteps (60 s) -> Plan ...        (Finished?: every app back, or the cluster down or silent)

Each Task has every runbook's retries; Plan's InputError ends the run in InputRejected; an
app whose step keeps failing is reported failed and the other apps go on; anything else goes to Report.

Built through `FerryRunbooks.add_state_machine` (its log group, key and role, which may invoke this one function),
and FailoverCluster is registered as a hand-off, so the functions that run the detector may start it.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.constants import (
    FAILBACK_CLUSTER_MACHINE,
    FAILBACK_STEP_WAIT,
    FAILOVER_CLUSTER_MACHINE,
    SHIFT_CONCURRENCY,
    SHIFT_POLL,
    SHIFT_REPLICAS_MACHINE,
)
from cdk.functions import FerryFunction
from cdk.runbooks import ALL_ERRORS, FerryRunbooks
from cdk.steps import input_rejected, lambda_step
from ferry.domain.conventions import INPUT_ERROR

J = sfn.JsonPath


class FerryShifts(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, runbooks: FerryRunbooks, function: FerryFunction
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        self.state_machines: dict[str, sfn.StateMachine] = {}
        for name, description in (
            (SHIFT_REPLICAS_MACHINE, "Move federated replicas away from a cluster or a zone, make before break"),
            (FAILOVER_CLUSTER_MACHINE, "A control plane is down: every federated app leaves its cluster"),
            (
                FAILBACK_CLUSTER_MACHINE,
                "A cluster is back: its federated replicas return in steps, stopping on relapse",
            ),
        ):
            machine = runbooks.add_state_machine(
                name, description, lambda scope, name=name: _Definition(scope, name, function).start, [function]
            )
            self.state_machines[name] = machine
            runbooks.state_machines[name] = machine  # watched like every runbook (cdk/monitoring.py)
        runbooks.handoffs[FAILOVER_CLUSTER_MACHINE] = self.state_machines[FAILOVER_CLUSTER_MACHINE]


class _Definition:
    def __init__(self, scope: Construct, runbook: str, function: FerryFunction) -> None:
        self.scope, self.function = scope, function
        report = self._step("Report", "report", "$", comment="The run's report, audited and sent to operators")
        report.next(
            sfn.Choice(scope, "Failed?")
            .when(
                sfn.Condition.string_equals("$.outcome", "failed"),
                sfn.Fail(scope, "RunFailed", error="RunFailed", cause_path="$.summary"),
            )
            .otherwise(sfn.Succeed(scope, "Done"))
        )
        scale_down = self._apps_map(
            "ScaleDown", task="ScaleDownApp", step="scale-down", items="$.wait.apps", report=report,
            not_done="AppNotScaledDown",
            map_comment="Then break: each app's losing members down, only if its scale-ups are available",
            task_comment="Scale each losing member down; a member whose API does not answer is not reached",
        )  # fmt: skip
        failback = runbook == FAILBACK_CLUSTER_MACHINE
        available = self._step(
            "Available",
            "available",
            "$",
            result_path="$.wait",
            comment="Are the scale-ups available? Done when all are, or when the step has waited long enough",
        )
        available.add_catch(report, errors=[ALL_ERRORS], result_path="$.error")
        wait = sfn.Wait(
            scope,
            "WaitForReplicas",
            comment="Give the new replicas time to start before looking again",
            time=sfn.WaitTime.duration(SHIFT_POLL),
        )
        available.next(
            sfn.Choice(scope, "AllAvailable?", comment="Bounded: the step says done after its time is up")
            .when(sfn.Condition.boolean_equals("$.wait.done", True), scale_down)
            .otherwise(wait.next(available))
        )
        scale_up = self._apps_map(
            "ScaleUp", task="ScaleUpApp", step="scale-up", items="$.plan.apps", report=report,
            not_done="AppNotScaledUp",
            map_comment="Make first: each app's gaining members up, a few apps at a time",
            task_comment="Scale each gaining member up to its new count (absolute: a replay changes nothing)",
        )  # fmt: skip
        scale_up.next(available)
        start_step: sfn.IChainable = scale_up
        if failback:
            # A step ends with the Wait between steps, and the next one starts from a fresh plan of the world.
            start_step = sfn.Pass(
                scope,
                "StartStep",
                comment="A new step: its own wait for availability",
                result=sfn.Result.from_object({}),
                result_path="$.wait",
            ).next(scale_up)
        plan = self._step(
            "Plan",
            "plan",
            "$.request",
            result_path="$.plan",
            comment="Validate the input, read the verdicts and each member's Deployment, distribute, lock each app",
        )
        plan.add_catch(input_rejected(scope), errors=[INPUT_ERROR], result_path="$.error")
        plan.add_catch(report, errors=[ALL_ERRORS], result_path="$.error")
        after_plan: sfn.IChainable = start_step
        if failback:
            after_plan = (
                sfn.Choice(scope, "Finished?", comment="Every app back, or the cluster down or silent again")
                .when(sfn.Condition.boolean_equals("$.plan.finished", True), report)
                .otherwise(start_step)
            )
            scale_down.next(
                sfn.Wait(
                    scope,
                    "WaitBetweenSteps",
                    comment="Let the returned replicas serve a while before the next step",
                    time=sfn.WaitTime.duration(FAILBACK_STEP_WAIT),
                ).next(plan)
            )
        else:
            scale_down.next(report)
        dry_run = (
            sfn.Choice(scope, "DryRun?", comment="A dry run reports the plan (the first step) and changes nothing")
            .when(sfn.Condition.boolean_equals("$.plan.dryRun", True), report)
            .otherwise(after_plan)
        )
        name_run = sfn.Pass(
            scope,
            "NameRun",
            comment="Keep the input as given, name the run",
            parameters={"input": J.object_at("$"), "run": {"runId": J.execution_name, "runbook": runbook}},
        )
        prepare = sfn.Pass(
            scope,
            "Prepare",
            comment="Plan's request: the input plus runId and runbook",
            parameters={
                "runId": J.string_at("$.run.runId"),
                "runbook": J.string_at("$.run.runbook"),
                "input": J.object_at("$.input"),
                "request": J.json_merge(J.object_at("$.input"), J.object_at("$.run")),
            },
        )
        self.start: sfn.IChainable = sfn.Chain.start(name_run).next(prepare).next(plan).next(dry_run)

    def _step(
        self, name: str, step: str, state: str, *, comment: str, result_path: str | None = None
    ) -> sfn.TaskStateBase:
        return lambda_step(
            self.scope,
            name,
            self.function,
            comment=comment,
            result_path=result_path,
            payload=sfn.TaskInput.from_object({"step": step, "state": J.object_at(state)}),
        )

    def _apps_map(
        self,
        name: str,
        *,
        task: str,
        step: str,
        items: str,
        report: sfn.IChainable,
        not_done: str,
        map_comment: str,
        task_comment: str,
    ) -> sfn.Map:
        apps = sfn.Map(
            self.scope,
            name,
            comment=map_comment,
            items_path=items,
            max_concurrency=SHIFT_CONCURRENCY,
            result_path="$.apps",
        )
        scale = self._step(task, step, "$", comment=task_comment)
        failed = sfn.Pass(
            self.scope,
            not_done,
            comment="This app stops here (nothing of it is scaled down), the other apps go on; the report says why",
            parameters={
                "runId": J.string_at("$.runId"),
                "dryRun": J.object_at("$.dryRun"),
                "shift": J.object_at("$.shift"),
                "failed": J.format(
                    f"the {step} step failed: {{}} ({{}})", J.string_at("$.error.Error"), J.string_at("$.error.Cause")
                ),
            },
        )
        scale.add_catch(failed, errors=[ALL_ERRORS], result_path="$.error")
        apps.item_processor(scale)
        apps.add_catch(report, errors=[ALL_ERRORS], result_path="$.error")
        return apps
