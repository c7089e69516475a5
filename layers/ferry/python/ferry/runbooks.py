"""The state machines Ferry starts, and the input each one takes (pure).

Automatic reactions and people take the same path: the detector's hand-off starts these with a
deterministic execution name (a second start of the same run is refused by Step Functions and Ferry treats
that as success); a person starts them from the console or the CLI with the same input (samples in
`events/stepfunctions/`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Runbook(StrEnum):
    EVACUATE_ZONE = "EvacuateZone"
    FAILBACK_ZONE = "FailbackZone"
    FAILOVER_CLUSTER = "FailoverCluster"
    REPLACE_CONTROL_PLANE_MEMBER = "ReplaceControlPlaneMember"

    @property
    def env_var(self) -> str:
        """The environment variable holding this state machine's ARN (set by the CDK stack)."""
        return "FERRY_SM_" + re.sub(r"(?<!^)(?=[A-Z])", "_", self.value).upper()


_NAME_UNSAFE = re.compile(r"[^0-9A-Za-z_-]")


def execution_name(*parts: str) -> str:
    """A Step Functions execution name from parts: at most 80 characters of [0-9A-Za-z_-]."""
    return _NAME_UNSAFE.sub("-", "-".join(parts))[:80]


@dataclass(frozen=True, slots=True)
class RunbookStart:
    """A request to start one run: which state machine, under which name, with which input."""

    runbook: Runbook
    name: str
    input: dict[str, Any]
