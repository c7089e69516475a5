"""Starting Ferry's state machines: a repeated start of the same execution name is success, not an error."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.errors import ConfigError
from ferry.runbooks import Runbook, RunbookStart


@dataclass(frozen=True, slots=True)
class Started:
    execution_arn: str
    already_running: bool  # Step Functions refused a second execution of the same name


class RunbookStarter:
    def __init__(self, sfn: Any, arns: Mapping[Runbook, str]) -> None:
        self._sfn = sfn
        self._arns = dict(arns)

    @classmethod
    def from_env(cls, sfn: Any, env: Mapping[str, str]) -> RunbookStarter:
        return cls(sfn, {runbook: env[runbook.env_var] for runbook in Runbook if env.get(runbook.env_var)})

    def start(self, start: RunbookStart) -> Started:
        arn = self._arns.get(start.runbook)
        if arn is None:
            raise ConfigError(start.runbook.env_var, f"no state machine ARN configured for {start.runbook.value}")
        try:
            response = self._sfn.start_execution(stateMachineArn=arn, name=start.name, input=json.dumps(start.input))
            return Started(execution_arn=response["executionArn"], already_running=False)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return Started(execution_arn=_execution_arn(arn, start.name), already_running=True)
            raise translate_error(error) from error
        except BotoCoreError as error:
            raise translate_error(error) from error


def _execution_arn(machine_arn: str, name: str) -> str:
    return machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
