"""Runbook inputs: every sample in events/stepfunctions/ is valid, every hand-off input matches its schema."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.validation import SchemaValidationError, validate

from ferry.domain.detection.facts import SignalRef
from ferry.domain.detection.transitions import (
    ControlPlaneStatus,
    Handoff,
    SubjectKind,
    Transition,
    TransitionReason,
    ZoneStatus,
)
from ferry.domain.reactions import runbook_input
from ferry.domain.runbooks import INPUT_SCHEMAS, arn_setting
from ferry.domain.signals import SignalKind, Source
from tests.conftest import load_event

SAMPLES = {
    Handoff.EVACUATE_ZONE: "stepfunctions/evacuate-zone",
    Handoff.FAILBACK_ZONE: "stepfunctions/failback-zone",
    Handoff.FAILOVER_CLUSTER: "stepfunctions/failover-cluster",
    Handoff.REPLACE_CONTROL_PLANE_MEMBER: "stepfunctions/replace-control-plane-member",
}
AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("handoff", list(Handoff), ids=lambda h: h.value)
def test_every_runbook_has_a_valid_sample(handoff: Handoff) -> None:
    validate(event=load_event(SAMPLES[handoff]), schema=INPUT_SCHEMAS[handoff])


@pytest.mark.parametrize(
    ("handoff", "change", "problem"),
    [
        pytest.param(Handoff.EVACUATE_ZONE, {"zone": "mars-1a"}, "zone", id="bad-zone"),
        pytest.param(Handoff.EVACUATE_ZONE, {"dryRun": "yes"}, "dryRun", id="dry-run-not-boolean"),
        pytest.param(Handoff.EVACUATE_ZONE, {"zones": ["us-east-1a"]}, "zones", id="unknown-field"),
        pytest.param(Handoff.REPLACE_CONTROL_PLANE_MEMBER, {"instance": "node-1"}, "instance", id="bad-instance"),
        pytest.param(Handoff.FAILOVER_CLUSTER, {"cluster": "East_1"}, "cluster", id="bad-cluster-name"),
    ],
)
def test_a_bad_input_is_rejected_naming_the_field(handoff: Handoff, change: dict, problem: str) -> None:
    with pytest.raises(SchemaValidationError, match=problem):
        validate(event={**load_event(SAMPLES[handoff]), **change}, schema=INPUT_SCHEMAS[handoff])


@pytest.mark.parametrize(
    ("handoff", "subject_kind", "to_status", "member"),
    [
        pytest.param(Handoff.EVACUATE_ZONE, SubjectKind.ZONE, ZoneStatus.IMPAIRED, None, id="evacuate"),
        pytest.param(Handoff.FAILBACK_ZONE, SubjectKind.ZONE, ZoneStatus.HEALTHY, None, id="failback"),
        pytest.param(Handoff.FAILOVER_CLUSTER, SubjectKind.CONTROL_PLANE, ControlPlaneStatus.DOWN, None, id="failover"),
        pytest.param(
            Handoff.REPLACE_CONTROL_PLANE_MEMBER,
            SubjectKind.CONTROL_PLANE,
            ControlPlaneStatus.DEGRADED,
            "i-0b22a22eec53b9321",
            id="replace-member",
        ),
    ],
)
def test_hand_off_inputs_match_their_schema(handoff, subject_kind, to_status, member) -> None:
    subject = "us-east-1a" if subject_kind is SubjectKind.ZONE else "east-1"
    transition = Transition(
        subject_kind=subject_kind,
        subject=subject,
        from_status=to_status,
        to_status=to_status,
        at=AT,
        reason=TransitionReason.QUORUM,
        signals=(SignalRef("e-1", SignalKind.HEALTH_ISSUE, Source.AWS_HEALTH, AT),),
        handoff=handoff,
        execution_name="x",
        member=member,
    )

    validate(event=runbook_input(transition, "ferry-detector"), schema=INPUT_SCHEMAS[handoff])


def test_arn_settings_are_named_after_the_state_machines() -> None:
    assert [arn_setting(h) for h in Handoff] == [
        "FERRY_SM_EVACUATE_ZONE",
        "FERRY_SM_FAILBACK_ZONE",
        "FERRY_SM_FAILOVER_CLUSTER",
        "FERRY_SM_REPLACE_CONTROL_PLANE_MEMBER",
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        pytest.param({}, None, id="the-sample"),
        pytest.param({"from": {"zone": "us-east-1a"}}, None, id="from-a-zone"),
        pytest.param({"app": None}, None, id="every-app"),
        pytest.param({"from": {"cluster": "east-2", "zone": "us-east-1a"}}, "from", id="cluster-and-zone"),
        pytest.param({"from": {}}, "from", id="from-nowhere"),
        pytest.param({"from": {"region": "us-east-1"}}, "from", id="from-elsewhere"),
        pytest.param({"app": "web"}, "app", id="app-without-namespace"),
        pytest.param({"from": None}, "from", id="from-required"),
    ],
)
def test_shift_replicas_input_is_one_app_or_all_from_one_cluster_or_one_zone(change: dict, problem: str | None) -> None:
    from ferry.domain.runbooks import Runbook

    event = {**load_event("stepfunctions/shift-replicas"), **change}
    event = {k: v for k, v in event.items() if v is not None}
    if problem is None:
        validate(event=event, schema=INPUT_SCHEMAS[Runbook.SHIFT_REPLICAS])
        return
    with pytest.raises(SchemaValidationError, match=problem):
        validate(event=event, schema=INPUT_SCHEMAS[Runbook.SHIFT_REPLICAS])


def test_failback_cluster_has_a_valid_sample_and_names_one_cluster() -> None:
    from ferry.domain.runbooks import Runbook

    schema = INPUT_SCHEMAS[Runbook.FAILBACK_CLUSTER]
    validate(event=load_event("stepfunctions/failback-cluster"), schema=schema)
    with pytest.raises(SchemaValidationError, match="cluster"):
        validate(event={**load_event("stepfunctions/failback-cluster"), "cluster": "East_2"}, schema=schema)
