"""The state machines Ferry starts and the input each takes (pure): one schema per runbook.

Automatic reactions and people take the same path: the detector's hand-off starts these with a
deterministic execution name (Step Functions refuses a second start of a name, and Ferry treats that as
success); a person starts them from the console or the CLI with the same input (samples in
`events/stepfunctions/`). Each state machine validates its input against the schema here first.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from ferry.domain.detection.transitions import Handoff


class Runbook(StrEnum):
    """Every state machine by name: the detector's hand-offs (`Handoff`, same values) and those people start."""

    EVACUATE_ZONE = "EvacuateZone"
    FAILBACK_ZONE = "FailbackZone"
    FAILOVER_CLUSTER = "FailoverCluster"
    REPLACE_CONTROL_PLANE_MEMBER = "ReplaceControlPlaneMember"
    REHOME_PET = "RehomePet"
    FENCE_NODE = "FenceNode"
    DRAIN_NODE = "DrainNode"
    SET_ZONE = "SetZone"
    DECIDE = "Decide"
    READINESS = "Readiness"
    SHIFT_REPLICAS = "ShiftReplicas"
    FAILBACK_CLUSTER = "FailbackCluster"


_REASON = {"type": "string", "minLength": 1, "maxLength": 500}
_DRY_RUN = {"type": "boolean"}
_NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
_ZONE = {"type": "string", "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$"}
_INSTANCE = {"type": "string", "pattern": "^i-[0-9a-f]{8,17}$"}
_LABEL = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
_ORDINAL = {"type": "integer", "minimum": 0, "maximum": 99999}
# RFC 3339 with an explicit offset, as AWS writes a warning's deadline (`2026-12-03T12:30:00Z`).
_TIMESTAMP = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$",
}
# A federated app, as the configuration file names it: <namespace>/<name>.
_APP = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 317}
# Pets re-homed at once by the re-home Map (docs/REHOMING.md; an inline Map runs at most 40 at once).
_CONCURRENCY = {"type": "integer", "minimum": 1, "maximum": 40}


def _schema(title: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": title,
        "type": "object",
        "properties": {
            **properties,
            "reason": _REASON,
            "dryRun": _DRY_RUN,
            "requestedBy": {"type": "string"},
            # A person's start in supervised mode: they are the approval, the run does not pause.
            "approved": {"type": "boolean"},
            # Who approved, when it is not who started the run: a retry of an evacuation a person approved
            # carries their approval (ferry.domain.decisions.retry_terms), and the run's audit names them.
            "approvedBy": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        "required": [*required, "reason"],
        "additionalProperties": False,
    }


# Keyed by name: `Handoff` and `Runbook` members (string enums of the same values) both look schemas up.
INPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    Handoff.EVACUATE_ZONE: _schema(
        "EvacuateZone",
        {
            "zone": _ZONE,
            "clusters": {"type": "array", "items": _NAME, "uniqueItems": True},
            "maxConcurrency": _CONCURRENCY,
        },
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
        {
            "cluster": _NAME,
            "namespace": _LABEL,
            "statefulSet": _NAME,
            "ordinal": _ORDINAL,
            "targetZone": _ZONE,
            "maxConcurrency": _CONCURRENCY,
        },
        ["cluster", "namespace", "statefulSet", "ordinal"],
    ),
    # One app (or every federated app) away from one cluster or one zone: exactly one of the two.
    Runbook.SHIFT_REPLICAS: _schema(
        "ShiftReplicas",
        {
            "app": _APP,
            "from": {
                "type": "object",
                "properties": {"cluster": _NAME, "zone": _ZONE},
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
            },
        },
        ["from"],
    ),
    # Replicas back into a recovered cluster, in steps (ferry.domain.federation.shifting.plan_failback_step).
    Runbook.FAILBACK_CLUSTER: _schema("FailbackCluster", {"cluster": _NAME}, ["cluster"]),
    Runbook.FENCE_NODE: _schema("FenceNode", {"cluster": _NAME, "node": _NAME}, ["cluster", "node"]),
    # The node by name, or by its EC2 instance (what a warning names); `deadline`: when the node goes away.
    Runbook.DRAIN_NODE: {
        **_schema(
            "DrainNode",
            {
                "cluster": _NAME,
                "node": _NAME,
                "instanceId": _INSTANCE,
                "deadline": _TIMESTAMP,
                # A rebalance recommendation, unless FERRY_DRAIN_ON_REBALANCE says drain: cordon, evict nothing.
                "cordonOnly": {"type": "boolean"},
                # An Auto Scaling terminate hook's action, completed (CONTINUE) once the node is drained.
                "lifecycleAction": {
                    "type": "object",
                    "properties": {
                        "autoScalingGroupName": {"type": "string", "minLength": 1, "maxLength": 255},
                        "lifecycleHookName": {"type": "string", "minLength": 1, "maxLength": 255},
                        "lifecycleActionToken": {"type": "string", "minLength": 1, "maxLength": 255},
                    },
                    "required": ["autoScalingGroupName", "lifecycleHookName", "lifecycleActionToken"],
                    "additionalProperties": False,
                },
            },
            ["cluster"],
        ),
        "anyOf": [{"required": ["node"]}, {"required": ["instanceId"]}],
    },
    # A person's word on a zone (ferry.domain.overrides): no dryRun (it changes Ferry's belief, not the world),
    # and the person's name is required: the detector puts it on the authority and the audit on the record.
    Runbook.SET_ZONE: {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "SetZone",
        "type": "object",
        "properties": {
            "zone": _ZONE,
            "state": {"type": "string", "enum": ["healthy", "impaired"]},
            "reason": _REASON,
            "until": _TIMESTAMP,
            "requestedBy": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        "required": ["zone", "state", "reason", "requestedBy"],
        "additionalProperties": False,
    },
    # A person's decision on a supervised run that waits (ferry.domain.decisions): who decided is required.
    Runbook.DECIDE: {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Decide",
        "type": "object",
        "properties": {
            "runId": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,80}$"},
            "decision": {"type": "string", "enum": ["approve", "reject"]},
            "by": {"type": "string", "minLength": 1, "maxLength": 200},
            "reason": _REASON,
        },
        "required": ["runId", "decision", "by", "reason"],
        "additionalProperties": False,
    },
}


# "What if a zone failed now" (ferry.domain.readiness): every watched zone unless named, every registered cluster
# unless named; nothing changes, so no dryRun, and a reason is welcome but not required (the daily schedule's).
INPUT_SCHEMAS[Runbook.READINESS] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Readiness",
    "type": "object",
    "properties": {
        "zones": {"type": "array", "items": _ZONE, "uniqueItems": True, "minItems": 1},
        "clusters": {"type": "array", "items": _NAME, "uniqueItems": True, "minItems": 1},
        "reason": _REASON,
        "requestedBy": {"type": "string", "minLength": 1, "maxLength": 200},
    },
    "required": [],
    "additionalProperties": False,
}


# Started by Ferry itself (ingest and probe get their ARNs): the detector's hand-offs, and DrainNode on a
# node warning (ferry.domain.reactions.drain_request).
STARTED_AUTOMATICALLY: tuple[Handoff | Runbook, ...] = (*Handoff, Runbook.DRAIN_NODE)


def is_timestamp(value: str) -> bool:
    """Whether `value` is a timestamp the runbooks' schemas accept (compiled by `re` on first use: rare)."""
    return re.match(str(_TIMESTAMP["pattern"]), value) is not None


def arn_setting(handoff: Handoff | Runbook) -> str:
    """The environment variable holding a state machine's ARN: `FERRY_SM_EVACUATE_ZONE`, ..."""
    return "FERRY_SM_" + "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(handoff.value)).upper()
