"""Readiness: the ferry-Readiness state machine and the daily schedule that starts it (ferry.domain.readiness).

"What if zone X failed now", per pet, federated app and zone, answered before it happens and changing nothing.
People start it from the Step Functions console like every runbook (`{zones?, clusters?, reason?,
requestedBy?}`); a schedule starts it once a day at the `readinessHourUtc` setting, so that the grades on the
dashboard are never more than a day old and a zone that got worse is notified the morning it did.

    NameRun -> Prepare -> Assess (readiness) -> Done;  InputError -> InputRejected (Fail)

Built through `FerryRunbooks.add_state_machine` (the same log group, key, role and retries as every runbook);
its output is the report (a `summary` to read, then the structured answer). The schedule starts executions of
this one state machine and nothing else (EventBridge's role, made by CDK, is scoped to it); a run that fails is
alarmed on like every runbook's (cdk/monitoring.py).
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.constants import READINESS_MACHINE
from cdk.functions import FerryFunction
from cdk.runbooks import FerryRunbooks
from cdk.steps import one_step_definition

J = sfn.JsonPath
# The schedule's input: every watched zone of every registered cluster.
SCHEDULED_INPUT = {"reason": "the daily readiness report", "requestedBy": "ferry-readiness-schedule"}


class FerryReadiness(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, runbooks: FerryRunbooks, function: FerryFunction, hour_utc: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        self.state_machine = runbooks.add_state_machine(
            READINESS_MACHINE,
            "What losing each zone now would do, per pet, federated app and zone, graded; changes nothing",
            self._definition,
            [function],
        )
        self.schedule = events.Rule(
            self,
            "Daily",
            description=f"Starts {self.state_machine.state_machine_name} every day at {hour_utc:02d}:00 UTC",
            schedule=events.Schedule.cron(minute="0", hour=str(hour_utc)),
        )
        self.schedule.add_target(
            targets.SfnStateMachine(
                self.state_machine, input=events.RuleTargetInput.from_object(SCHEDULED_INPUT), retry_attempts=2
            )
        )

    def _definition(self, scope: Construct) -> sfn.IChainable:
        return one_step_definition(
            scope,
            "Assess",
            self.function,
            comment="Read every cluster once, assess every zone as EvacuateZone would plan it, keep and report",
        )
