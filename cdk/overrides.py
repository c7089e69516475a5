"""Operator overrides: the ferry-SetZone state machine, a person's word on a zone (ferry.domain.overrides).

People start everything from the Step Functions console, so an override is a state machine too, even though
it has one step: `{zone, state: healthy | impaired, reason, until?, requestedBy}`, validated by the step
(every wrong field named, the zone checked against the registry, `until` against the clock), audited with
who and why, and decided by the detector like any signal. Its hand-offs (a zone held impaired is evacuated,
a zone marked healthy fails back after its hold-down) start as the detector's do, so the step may start the
detector's runbooks (`FerryRunbooks.allow_to_start`).

    NameRun -> Prepare -> SetZone (zone-override) -> Done;  InputError -> InputRejected (Fail)

Built through `FerryRunbooks.add_state_machine`: the same log group, key, role and retries as every runbook.
"""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.constants import SET_ZONE_MACHINE
from cdk.functions import FerryFunction
from cdk.runbooks import FerryRunbooks
from cdk.steps import one_step_definition

J = sfn.JsonPath


class FerryOverrides(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, runbooks: FerryRunbooks, function: FerryFunction
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        self.set_zone = runbooks.add_state_machine(
            SET_ZONE_MACHINE,
            "Mark a zone healthy (clears stuck authorities) or hold it impaired until a time, in a person's name",
            self._set_zone,
            [function],
        )
        runbooks.allow_to_start(function)

    def _set_zone(self, scope: Construct) -> sfn.IChainable:
        return one_step_definition(
            scope,
            "SetZone",
            self.function,
            comment="Check, audit with who and why, and decide the person's word like any signal",
        )
