"""Runbooks: the EvacuateZone, RehomePet and FenceNode state machines, and what their steps may do in EC2.

Automatic reactions and people take the same path (issue 5): the detector starts EvacuateZone with a
deterministic execution name, a person starts any of the three from the console or the CLI with the same
input, and every run can be a dry run. docs/REHOMING.md fixes the contract; each machine is

    NameRun -> Prepare -> Plan -> DryRun? -> FenceNodes (Map, 5 at once: Fence) -> [RehomePets (Map: Rehome)]
        -> Report -> Done

(DrainNode's node Map is DrainNodes, its Task Drain: the same node step function, named for what it does
there; `RunbookSpec.node_step`.)

- NameRun and Prepare (Pass states) keep the input as the person or the detector gave it (`input`), add
  `runId` (the execution name) and `runbook`, build Plan's payload (the input plus those two, flat, as the
  contract says) and, where pets move, `options`: the input over the defaults, from which the re-home Map
  reads `maxConcurrency` (default 10; the plan step validates the value the person gave).
- Every Task retries `StepPending` (up to 20 times, each wait capped at a minute), Ferry's transient errors,
  Lambda's own service errors and a killed function (`Sandbox.Timedout`, `Runtime.ExitError`,
  `Runtime.Unknown`, 3 retries: the steps are idempotent) with backoff and full jitter. Plan's `InputError`
  is not retried: the run ends in the InputRejected Fail state whose cause is the error's message (it names
  each wrong field).
  Anything else is caught into Report (under `$.error`), so a failed run still says what it did.
- Inside the Maps, a node or pet whose step keeps failing becomes a failed report for that item, and the
  other items go on (issue 5: "a step that keeps failing stops that pet, not the others"); the Maps
  themselves catch into Report too.

Standard workflows, not Express: an evacuation outlives Express's five minutes, and only Standard refuses a
second execution of the same name, which makes two starts of one evacuation start one run.

Each state machine has its own role, which may invoke its own steps and nothing else (plus log delivery and
X-Ray, which AWS cannot scope); its logs (level ALL, with execution data: the plan and the reports are what
an operator reads afterwards) go to a KMS-encrypted log group with retention. The step functions get
exactly the EC2 writes their step performs, each conditioned on a tag: fence (and re-home, which retries an
unconfirmed fence) stops only instances of a cluster, re-home creates only volumes tagged `ferry:managed` and
tags old volumes only with where their pet went. Nothing here, or anywhere in Ferry, may delete a volume
(tests/infrastructure scan every policy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk.constants import (
    DEFAULT_REHOME_CONCURRENCY,
    FENCE_CONCURRENCY,
    LOG_REMOVAL_POLICY,
    NAME_PREFIX,
    RUNBOOK_LOG_RETENTION,
    RUNBOOK_TIMEOUT,
    RUNBOOKS,
    RunbookSpec,
    arn_setting,
)
from cdk.functions import FerryFunction
from cdk.grants import arn_pattern, scoped_policy
from cdk.steps import input_rejected, lambda_step
from cdk.supervision import pause_for_decision
from ferry.domain.conventions import (
    CLUSTER_TAG,
    CSI_VOLUME_TAG,
    CSI_VOLUME_VALUE,
    INPUT_ERROR,
    MANAGED_TAG,
    MANAGED_VALUE,
    REHOMED_TO_TAG,
    SUPERVISED_RUNBOOKS,
    TAG_PREFIX,
)

J = sfn.JsonPath
ALL_ERRORS = "States.ALL"
# Vended-logs prefix: Step Functions writes through CloudWatch Logs' log delivery, whose resource policy
# covers /aws/vendedlogs/* once instead of growing by one statement per log group.
LOG_GROUP_PREFIX = f"/aws/vendedlogs/states/{NAME_PREFIX}-"
# What Step Functions needs to set up log delivery (documented; none of these has resource-level permissions).
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
TRACING_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
# What CloudWatch Logs does with the log groups' key (its documented key policy, without wildcard actions).
LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)
# What EC2 does with a customer managed key when it restores an encrypted snapshot into a new volume.
EBS_KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:DescribeKey",
)


@dataclass(frozen=True)
class RunbookSteps:
    """The Lambda steps the runbooks are made of (functions/runbook-*): four in every one, and the pause of
    supervised mode (`await_`) in the runbooks that pause (cdk/supervision.py)."""

    plan: FerryFunction
    fence: FerryFunction
    rehome: FerryFunction
    report: FerryFunction
    await_: FerryFunction
    decision_timeout: Duration  # the `decisionTimeoutSeconds` setting: the pause's TimeoutSeconds

    def used_by(self, spec: RunbookSpec) -> list[FerryFunction]:
        return [
            self.plan,
            *([self.await_] if spec.name in SUPERVISED_RUNBOOKS else []),
            self.fence,
            *([self.rehome] if spec.rehomes_pets else []),
            self.report,
        ]


class FerryRunbooks(Construct):
    """One Standard state machine per runbook, their logs and roles, and the steps' EC2 permissions."""

    def __init__(self, scope: Construct, construct_id: str, *, steps: RunbookSteps) -> None:
        super().__init__(scope, construct_id)
        self.steps = steps
        self.key = self._build_log_key()
        self.log_groups: dict[str, logs.LogGroup] = {}
        self.roles: dict[str, iam.Role] = {}
        # State machines the detector hands off to that other constructs build (cdk/shifts.py), by runbook name.
        self.handoffs: dict[str, sfn.StateMachine] = {}
        self.state_machines: dict[str, sfn.StateMachine] = {spec.name: self._build_runbook(spec) for spec in RUNBOOKS}
        # The re-home step retries its pet's node fence when the fence step could not confirm it (runbook-fence's
        # README), so both may stop a cluster's instance; only the re-home step touches volumes.
        for step in (steps.fence, steps.rehome):
            self._grant_fencing(step)
        self._grant_rehoming(steps.rehome)
        self._grant_lifecycle(steps.fence)

    def allow_to_start(self, function: FerryFunction, *, on_warnings: bool = False) -> None:
        """The runbooks Ferry starts itself, by ARN in the environment, and leave to start them: the detector's
        hand-offs (EvacuateZone) and, for the function that reads node warnings (`on_warnings`: ingest),
        DrainNode. The others are started by people.
        """
        started = {
            spec.arn_setting: self.state_machines[spec.name]
            for spec in RUNBOOKS
            if spec.handoff or (on_warnings and spec.started_on_warning)
        } | {arn_setting(name): machine for name, machine in self.handoffs.items()}
        for setting, machine in started.items():
            function.function.add_environment(setting, machine.state_machine_arn)
            function.role.add_to_policy(
                iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine.state_machine_arn])
            )

    # --- the state machines ----------------------------------------------------------------------------------

    def _build_log_key(self) -> kms.Key:
        key = kms.Key(
            self,
            "LogKey",
            description="Ferry runbook execution logs encryption",
            enable_key_rotation=True,
            # It protects only the log groups, which go with the stack (the audit trail is in the table).
            removal_policy=LOG_REMOVAL_POLICY,
        )
        stack = Stack.of(self)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsEncryptRunbookLogs",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=list(LOGS_KEY_ACTIONS),
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=f"{LOG_GROUP_PREFIX}*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
        return key

    def _build_runbook(self, spec: RunbookSpec) -> sfn.StateMachine:
        return self.add_state_machine(
            spec.name,
            spec.description,
            lambda scope: _Definition(scope, spec, self.steps).start,
            self.steps.used_by(spec),
        )

    def add_state_machine(
        self,
        name: str,
        description: str,
        definition: Callable[[Construct], sfn.IChainable],
        functions: list[FerryFunction],
    ) -> sfn.StateMachine:
        """A Standard state machine `ferry-<name>` with its encrypted log group and its own role, which may
        invoke `functions` and nothing else; other constructs (cdk/overrides.py) build theirs through it."""
        scope = Construct(self, name)
        log_group = logs.LogGroup(
            scope,
            "LogGroup",
            log_group_name=f"{LOG_GROUP_PREFIX}{name}",
            retention=RUNBOOK_LOG_RETENTION,
            encryption_key=self.key,
            removal_policy=LOG_REMOVAL_POLICY,
        )
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "states.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            description=f"Runs {NAME_PREFIX}-{name}: invokes its own steps, nothing else",
        )
        machine = sfn.StateMachine(
            scope,
            "StateMachine",
            state_machine_name=f"{NAME_PREFIX}-{name}",
            comment=description,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition(scope)),
            # CDK would add what it guesses the role needs (with wildcards); the grants below are written out.
            role=role.without_policy_updates(),
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
            timeout=RUNBOOK_TIMEOUT,
        )
        self._grant_state_machine(scope, functions, role, machine)
        self.log_groups[name] = log_group
        self.roles[name] = role
        return machine

    def _grant_state_machine(
        self, scope: Construct, functions: list[FerryFunction], role: iam.Role, machine: sfn.StateMachine
    ) -> None:
        # Tasks call the unqualified function ARN (their Resource), so nothing else (no versions, no aliases).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[step.function.function_arn for step in functions],
            )
        )
        machine.node.add_dependency(role)
        scoped_policy(
            scope,
            "LogDeliveryAndTracing",
            role=role,
            statements=[
                iam.PolicyStatement(actions=list(LOG_DELIVERY_ACTIONS), resources=["*"]),
                iam.PolicyStatement(actions=list(TRACING_ACTIONS), resources=["*"]),
            ],
            reason=(
                "Step Functions sets up its execution logging through CloudWatch Logs log deliveries and writes "
                "X-Ray segments; AWS documents these actions as requiring Resource '*' (none supports resource-level "
                "permissions), and they are kept in this policy apart from the role's invoke permission."
            ),
            dependent=machine,
        )

    # --- what the steps may do in EC2 ----------------------------------------------------------------------

    def _grant_fencing(self, fence: FerryFunction) -> None:
        instances = arn_pattern(self, "ec2", "instance", "*")
        of_a_cluster = {"Null": {f"aws:ResourceTag/{CLUSTER_TAG}": "false"}}
        scoped_policy(
            self,
            f"{fence.node.id}Fencing",
            role=fence.role,
            statements=[
                iam.PolicyStatement(actions=["ec2:StopInstances"], resources=[instances], conditions=of_a_cluster),
                iam.PolicyStatement(
                    actions=["ec2:CreateTags"],
                    resources=[instances],
                    conditions={**of_a_cluster, "ForAllValues:StringLike": {"aws:TagKeys": [f"{TAG_PREFIX}*"]}},
                ),
            ],
            reason=(
                "Fencing stops the instance of a lost node, and the nodes of clusters registered after deployment are "
                f"not known in advance: the instance pattern is limited by the condition that the instance carries "
                f"{CLUSTER_TAG} (every node of a protected cluster does), and tags written are only Ferry's own keys."
            ),
            dependent=fence.function,
        )

    def _grant_lifecycle(self, fence: FerryFunction) -> None:
        """DrainNode's node step completes an Auto Scaling terminate hook (CONTINUE) once the node is drained."""
        groups = arn_pattern(self, "autoscaling", "autoScalingGroup", "*", arn_format=ArnFormat.COLON_RESOURCE_NAME)
        scoped_policy(
            self,
            f"{fence.node.id}Lifecycle",
            role=fence.role,
            statements=[
                iam.PolicyStatement(
                    actions=["autoscaling:CompleteLifecycleAction"],
                    resources=[groups],
                    conditions={"Null": {f"aws:ResourceTag/{CLUSTER_TAG}": "false"}},
                )
            ],
            reason=(
                "A drained node's Auto Scaling group is known only from the warning at run time: the group pattern "
                f"is limited by the condition that the group carries {CLUSTER_TAG} (a protected cluster's groups do), "
                "and the one action only lets the group go on terminating an instance it already decided to."
            ),
            dependent=fence.function,
        )

    def _grant_rehoming(self, rehome: FerryFunction) -> None:
        region = Stack.of(self).region
        volumes = arn_pattern(self, "ec2", "volume", "*")
        snapshots = arn_pattern(self, "ec2", "snapshot", "*", account=False)  # snapshot ARNs carry no account
        keys = arn_pattern(self, "kms", "key", "*")
        only_rehomed_to = {"ForAllValues:StringEquals": {"aws:TagKeys": [REHOMED_TO_TAG]}}
        via_ec2 = {"kms:ViaService": f"ec2.{region}.amazonaws.com"}
        scoped_policy(
            self,
            f"{rehome.node.id}Volumes",
            role=rehome.role,
            statements=[
                # A new volume only with Ferry's tag on it, restored from a snapshot of this region.
                iam.PolicyStatement(
                    actions=["ec2:CreateVolume"],
                    resources=[volumes],
                    conditions={"StringEquals": {f"aws:RequestTag/{MANAGED_TAG}": MANAGED_VALUE}},
                ),
                iam.PolicyStatement(actions=["ec2:CreateVolume"], resources=[snapshots]),
                # Its tags, written in the same call.
                iam.PolicyStatement(
                    actions=["ec2:CreateTags"],
                    resources=[volumes],
                    conditions={"StringEquals": {"ec2:CreateAction": "CreateVolume"}},
                ),
                # The old volume: only the tag saying where its pet went, and only on a cluster's volume.
                iam.PolicyStatement(
                    actions=["ec2:CreateTags"],
                    resources=[volumes],
                    conditions={**only_rehomed_to, "Null": {f"aws:ResourceTag/{CLUSTER_TAG}": "false"}},
                ),
                iam.PolicyStatement(
                    actions=["ec2:CreateTags"],
                    resources=[volumes],
                    conditions={
                        **only_rehomed_to,
                        "StringEquals": {f"aws:ResourceTag/{CSI_VOLUME_TAG}": CSI_VOLUME_VALUE},
                    },
                ),
                # Encrypted volumes keep their customer managed key, which EC2 uses on the function's behalf.
                iam.PolicyStatement(
                    actions=list(EBS_KEY_ACTIONS), resources=[keys], conditions={"StringEquals": via_ec2}
                ),
                iam.PolicyStatement(
                    actions=["kms:CreateGrant"],
                    resources=[keys],
                    conditions={"StringEquals": via_ec2, "Bool": {"kms:GrantIsForAWSResource": "true"}},
                ),
            ],
            reason=(
                "Re-homing creates volumes and reads snapshots whose ids exist only at run time: new volumes must "
                f"carry {MANAGED_TAG}={MANAGED_VALUE}, old ones may only get {REHOMED_TO_TAG} and only if they belong "
                "to a cluster, and the pets' own KMS keys are usable only through EC2 (kms:ViaService) for the "
                "grants EBS needs; no permission here deletes anything."
            ),
            dependent=rehome.function,
        )


class _Definition:
    """The states of one runbook, built in `scope` (so that each state machine has its own)."""

    def __init__(self, scope: Construct, spec: RunbookSpec, steps: RunbookSteps) -> None:
        self.scope = scope
        self.spec = spec
        report = self._task("Report", steps.report, comment="The run's report, audited and sent to operators")
        # A run whose report says it failed ends FAILED, so the console, the executions list and the
        # `ferry-<Runbook>-failed` alarm say so too; its output (the report) is the Fail state's cause.
        report.next(
            sfn.Choice(scope, "Failed?")
            .when(
                sfn.Condition.string_equals("$.outcome", "failed"),
                sfn.Fail(scope, "RunFailed", error="RunFailed", cause_path="$.summary"),
            )
            .otherwise(sfn.Succeed(scope, "Done"))
        )
        after_fencing: sfn.IChainable = report
        if spec.rehomes_pets:
            rehome_pets = self._rehome_pets(steps.rehome, report)
            rehome_pets.next(report)
            after_fencing = rehome_pets
        fence_nodes = self._node_map(steps.fence, report)
        fence_nodes.next(after_fencing)
        plan = self._plan(steps.plan, report)
        first_change: sfn.IChainable = fence_nodes
        if spec.name in SUPERVISED_RUNBOOKS:
            first_change = pause_for_decision(
                scope, function=steps.await_, timeout=steps.decision_timeout, report=report, then=fence_nodes
            )
        dry_run = (
            sfn.Choice(scope, "DryRun?", comment="A dry run reports the plan and changes nothing")
            .when(sfn.Condition.boolean_equals("$.plan.dryRun", True), report)
            .otherwise(first_change)
        )
        self.start: sfn.IChainable = self._prepare().next(plan).next(dry_run)

    def _prepare(self) -> sfn.Chain:
        """Two Pass states: intrinsic functions have no object literals, so the objects to merge are made first.

        (Writing them as text for States.StringToJson would need escaped braces, which not every interpreter
        of the language handles alike; paths and States.JsonMerge need nothing of the kind.)
        """
        run = {"runId": J.execution_name, "runbook": self.spec.name}
        start = sfn.Pass(
            self.scope,
            "NameRun",
            comment="Keep the input as given, name the run",
            parameters={
                "input": J.object_at("$"),
                "run": run,
                **({"defaults": {"maxConcurrency": DEFAULT_REHOME_CONCURRENCY}} if self.spec.rehomes_pets else {}),
            },
        )
        parameters = {
            "runId": J.string_at("$.run.runId"),
            "runbook": J.string_at("$.run.runbook"),
            "input": J.object_at("$.input"),
            # Plan's payload: the input plus runId and runbook, flat (docs/REHOMING.md).
            "request": J.json_merge(J.object_at("$.input"), J.object_at("$.run")),
        }
        if self.spec.rehomes_pets:
            parameters["options"] = J.json_merge(J.object_at("$.defaults"), J.object_at("$.input"))
        prepare = sfn.Pass(
            self.scope,
            "Prepare",
            comment="Plan's request (input, runId, runbook) and the options (input over defaults)",
            parameters=parameters,
        )
        return sfn.Chain.start(start).next(prepare)

    def _plan(self, function: FerryFunction, report: sfn.IChainable) -> tasks.LambdaInvoke:
        plan = self._task(
            "Plan",
            function,
            comment="Validate the input, read the clusters, plan (and journal the plan unless dry run)",
            input_path="$.request",
            result_path="$.plan",
        )
        # Order matters: the first matching catcher wins, and InputError must not reach the report.
        plan.add_catch(input_rejected(self.scope), errors=[INPUT_ERROR], result_path="$.error")
        plan.add_catch(report, errors=[ALL_ERRORS], result_path="$.error")
        return plan

    def _node_map(self, function: FerryFunction, report: sfn.IChainable) -> sfn.Map:
        """The planned nodes, a few at a time, each through the node step; named for what this runbook does
        to them (fence, or drain)."""
        names = self.spec.node_step
        nodes = sfn.Map(
            self.scope,
            names.map_state,
            comment=names.map_comment,
            items_path="$.plan.nodes",
            max_concurrency=FENCE_CONCURRENCY,
            result_path="$.nodes",
        )
        step = self._task(names.task, function, comment=names.task_comment)
        not_done = sfn.Pass(
            self.scope,
            names.not_done,
            comment="This node stops here (a node not fenced has no pet forced), the others go on; the report says why",
            parameters={
                "cluster": J.string_at("$.cluster"),
                "node": J.string_at("$.node"),
                "instanceId": J.string_at("$.instanceId"),
                "fenced": False,
                "cordoned": False,
                "reason": J.format(
                    names.failure + ": {} ({})", J.string_at("$.error.Error"), J.string_at("$.error.Cause")
                ),
            },
        )
        step.add_catch(not_done, errors=[ALL_ERRORS], result_path="$.error")
        nodes.item_processor(step)
        nodes.add_catch(report, errors=[ALL_ERRORS], result_path="$.error")
        return nodes

    def _rehome_pets(self, function: FerryFunction, report: sfn.IChainable) -> sfn.Map:
        pets = sfn.Map(
            self.scope,
            "RehomePets",
            comment="Re-home each planned pet, maxConcurrency at a time",
            items_path="$.plan.pets",
            max_concurrency_path="$.options.maxConcurrency",
            result_path="$.pets",
        )
        rehome = self._task("Rehome", function, comment="Move the pet, with its data, to its target zone")
        failed = sfn.Pass(
            self.scope,
            "PetFailed",
            comment="This pet stops here; the others go on",
            parameters={
                "cluster": J.string_at("$.cluster"),
                "namespace": J.string_at("$.namespace"),
                "pod": J.string_at("$.pod"),
                "policy": J.string_at("$.policy"),
                "status": "failed",
                "fromZone": J.string_at("$.fromZone"),
                "reason": J.format(
                    "the re-home step failed: {} ({})", J.string_at("$.error.Error"), J.string_at("$.error.Cause")
                ),
            },
        )
        rehome.add_catch(failed, errors=[ALL_ERRORS], result_path="$.error")
        pets.item_processor(rehome)
        pets.add_catch(report, errors=[ALL_ERRORS], result_path="$.error")
        return pets

    def _task(
        self,
        name: str,
        function: FerryFunction,
        *,
        comment: str,
        input_path: str | None = None,
        result_path: str | None = None,
    ) -> tasks.LambdaInvoke:
        return lambda_step(self.scope, name, function, comment=comment, input_path=input_path, result_path=result_path)
