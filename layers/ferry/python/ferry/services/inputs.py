"""Checking a runbook's input against its schema, naming every wrong field at once.

The state machines validate their input first and end at once with an error naming each wrong field: a
person fixing an input by hand in the console wants every problem, not the first. The JSON-schema validator
(Powertools validation) stops at the first, so on failure each required field, unknown field and property
is checked on its own. The schemas themselves are pure data in `ferry.domain.runbooks`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

from ferry.domain.errors import InputError
from ferry.domain.runbooks import INPUT_SCHEMAS, Runbook


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
    alternatives = [option["required"] for option in schema.get("anyOf", ())]
    if alternatives and not any(all(name in event for name in names) for names in alternatives):
        problems.append(f"{' or '.join(' and '.join(names) for names in alternatives)}: required")
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
