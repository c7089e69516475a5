"""Starting Ferry's state machines (a repeated start of the same execution name is success, not an error), and
answering a paused run's task token (supervised mode's decisions)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.detection.transitions import Handoff
from ferry.domain.errors import ConfigError, NotFound
from ferry.domain.runbooks import STARTED_AUTOMATICALLY, Runbook, arn_setting


@dataclass(frozen=True, slots=True)
class Started:
    """A start of a state machine's execution, as Step Functions answered it."""

    execution_arn: str
    # An execution of this name existed: AWS refused the start (ExecutionAlreadyExists). A same-input restart
    # of a running execution is answered with that execution instead, and reads as a plain start.
    already_started: bool


class RunbookStarter:
    def __init__(self, sfn: Any, arns: Mapping[Handoff | Runbook, str]) -> None:
        self._sfn = sfn
        self._arns = dict(arns)

    @classmethod
    def from_env(cls, sfn: Any, env: Mapping[str, str]) -> RunbookStarter:
        return cls(sfn, {h: env[arn_setting(h)] for h in STARTED_AUTOMATICALLY if env.get(arn_setting(h))})

    def deployed(self, runbook: Handoff | Runbook) -> bool:
        """Whether this stack has a state machine for the runbook (not every hand-off has one yet)."""
        return runbook in self._arns

    def start(self, runbook: Handoff | Runbook, name: str, payload: Mapping[str, Any]) -> Started:
        arn = self._arns.get(runbook)
        if arn is None:
            raise ConfigError(arn_setting(runbook), f"no state machine ARN configured for {runbook.value}")
        try:
            response = self._sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
            return Started(execution_arn=response["executionArn"], already_started=False)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return Started(execution_arn=_execution_arn(arn, name), already_started=True)
            raise translate_error(error) from error
        except BotoCoreError as error:
            raise translate_error(error) from error


def _execution_arn(machine_arn: str, name: str) -> str:
    return machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


# What Step Functions answers for a token whose wait is over (timed out, answered, or its run stopped).
_GONE = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class TaskTokens:
    """SendTaskSuccess / SendTaskFailure for a waiting Task; NotFound when the wait is over."""

    def __init__(self, sfn: Any) -> None:
        self._sfn = sfn

    def succeed(self, token: str, output: Mapping[str, Any]) -> None:
        self._send(self._sfn.send_task_success, taskToken=token, output=json.dumps(output))

    def fail(self, token: str, error: str, cause: str) -> None:
        self._send(self._sfn.send_task_failure, taskToken=token, error=error, cause=cause[:32768])

    @staticmethod
    def _send(call: Any, **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _GONE:
                raise NotFound(f"{code}: the run no longer waits for this token") from error
            raise translate_error(error) from error
        except BotoCoreError as error:
            raise translate_error(error) from error
