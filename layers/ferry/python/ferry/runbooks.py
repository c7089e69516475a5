"""The state machines Ferry starts and the input each takes: one schema per runbook, one validator.

Automatic reactions and people take the same path: the detector's hand-off starts these with a
deterministic execution name (Step Functions refuses a second start of a name, and Ferry treats that as
success); a person starts them from the console or the CLI with the same input (samples in
`events/stepfunctions/`). Each state machine validates its input against the schema here first.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

from ferry.detection.transitions import Handoff
from ferry.errors import InputError


class Runbook(StrEnum):
    """Every state machine by name: the detector's hand-offs (`Handoff`, same values) and those people start."""

    EVACUATE_ZONE = "EvacuateZone"
    FAILBACK_ZONE = "FailbackZone"
    FAILOVER_CLUSTER = "FailoverCluster"
    REPLACE_CONTROL_PLANE_MEMBER = "ReplaceControlPlaneMember"
    REHOME_PET = "RehomePet"
    FENCE_NODE = "FenceNode"


_REASON = {"type": "string", "minLength": 1, "maxLength": 500}
_DRY_RUN = {"type": "boolean"}
_NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
_ZONE = {"type": "string", "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$"}
_INSTANCE = {"type": "string", "pattern": "^i-[0-9a-f]{8,17}$"}
_LABEL = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
_ORDINAL = {"type": "integer", "minimum": 0, "maximum": 99999}


def _schema(title: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": title,
        "type": "object",
        "properties": {**properties, "reason": _REASON, "dryRun": _DRY_RUN, "requestedBy": {"type": "string"}},
        "required": [*required, "reason"],
        "additionalProperties": False,
    }


# Keyed by name: `Handoff` and `Runbook` members (string enums of the same values) both look schemas up.
INPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    Handoff.EVACUATE_ZONE: _schema(
        "EvacuateZone",
        {"zone": _ZONE, "clusters": {"type": "array", "items": _NAME, "uniqueItems": True}},
        ["zone"],
    ),
    Handoff.FAILBACK_ZONE: _schema(
        "FailbackZone",
        {"zone": _ZONE, "clusters": {"type": "array", "items": _NAME, "uniqueItems": True}},
        ["zone"],
    ),
    Handoff.FAILOVER_CLUSTER: _schema("FailoverCluster", {"cluster": _NAME}, ["cluster"]),
    Handoff.REPLACE_CONTROL_PLANE_MEMBER: _schema(
        "ReplaceControlPlaneMember", {"cluster": _NAME, "instance": _INSTANCE}, ["cluster", "instance"]
    ),
    Runbook.REHOME_PET: _schema(
        "RehomePet",
        {"cluster": _NAME, "namespace": _LABEL, "statefulSet": _NAME, "ordinal": _ORDINAL, "targetZone": _ZONE},
        ["cluster", "namespace", "statefulSet", "ordinal"],
    ),
    Runbook.FENCE_NODE: _schema("FenceNode", {"cluster": _NAME, "node": _NAME}, ["cluster", "node"]),
}


def validate_input(runbook: str, event: Any) -> None:
    """Check a state machine input against its schema; raise InputError naming every wrong field.

    The JSON-schema validator stops at the first problem; a person fixing an input by hand wants them all,
    so on failure each required field, unknown field and property is checked on its own.
    """
    schema = INPUT_SCHEMAS.get(runbook)
    if schema is None:
        raise InputError([f"runbook: expected one of {', '.join(r.value for r in Runbook)}, got {runbook!r}"])
    try:
        validate(event=event, schema=schema)
    except SchemaValidationError:
        raise InputError(_problems(schema, event) or ["input: does not match the schema"]) from None


def _problems(schema: dict[str, Any], event: Any) -> list[str]:
    if not isinstance(event, dict):
        return [f"input: expected a JSON object, got {type(event).__name__}"]
    properties: dict[str, Any] = schema["properties"]
    problems = [f"{name}: required" for name in schema["required"] if name not in event]
    problems += [
        f"{name}: not a field of {schema['title']} (expected {', '.join(sorted(properties))})"
        for name in sorted(event)
        if name not in properties
    ]
    for name in sorted(event.keys() & properties.keys()):
        try:
            validate(event=event[name], schema=properties[name])
        except SchemaValidationError as error:
            problems.append(f"{name}: {str(error.validation_message).removeprefix('data ')}, got {event[name]!r}")
    return problems


def arn_setting(handoff: Handoff) -> str:
    """The environment variable holding a state machine's ARN: `FERRY_SM_EVACUATE_ZONE`, ..."""
    return "FERRY_SM_" + re.sub(r"(?<!^)(?=[A-Z])", "_", handoff.value).upper()
