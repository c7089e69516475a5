"""The runbook-* step functions called as Step Functions calls them (handler loaded as Lambda loads it, a fake
context), on moto in-process: runbook-plan rejects a bad input naming every wrong field, runbook-report turns
the sample report input into a RunReport and audits and notifies it, and dry runs change nothing.

runbook-fence and runbook-rehome against a real cluster (and runbook-plan reading one) are exercised end to end
on the sandbox in tests/e2e/test_rehoming.py; here only the parts that need no cluster are called."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ferry.domain.errors import InputError
from tests.conftest import TABLE_NAME, load_event, load_handler

RUN_ID = "evacuate-us-east-1a-1764151200"


@pytest.fixture
def topic(aws: Any) -> str:
    """The notifications topic, with a queue subscribed so a test can read what operators were told."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    arn = sns.create_topic(Name="ferry-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="operator")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    return str(arn)


def notifications() -> list[dict[str, Any]]:
    """What the topic delivered to the operator queue: SNS envelopes (Subject, Message, MessageAttributes)."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="operator")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def items(prefix: str = "") -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE_NAME)
    return [item for item in table.scan()["Items"] if item["pk"].startswith(prefix)]


@pytest.fixture
def env(ferry_table: str, topic: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERRY_TABLE", ferry_table)
    monkeypatch.setenv("FERRY_TOPIC_ARN", topic)
    monkeypatch.setenv("FERRY_MODE", "act")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ferry-runbooks")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Ferry")


def handler(function: str) -> Any:
    module = load_handler(function)
    module.steps.cache_clear()
    return module.handler


pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


# --- runbook-plan: validation -----------------------------------------------------------------------------------


def _plan_input(**changes: Any) -> dict[str, Any]:
    event = load_event("stepfunctions/runbook-plan-input")
    for name, value in changes.items():
        if value is None:
            event.pop(name, None)
        else:
            event[name] = value
    return event


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        pytest.param(_plan_input(zone="mars-1a"), ["zone:"], id="zone-pattern"),
        pytest.param(_plan_input(dryRun="yes"), ["dryRun:"], id="dry-run-not-boolean"),
        pytest.param(_plan_input(reason=None), ["reason: required"], id="reason-missing"),
        pytest.param(
            _plan_input(zone="mars-1a", dryRun="yes", reason=None),
            ["zone:", "dryRun:", "reason: required"],
            id="every-wrong-field-at-once",
        ),
        pytest.param(_plan_input(colour="blue"), ["colour: not a field of"], id="unknown-field"),
        pytest.param(_plan_input(runId=None), ["runId: required"], id="run-id-missing"),
        pytest.param(_plan_input(runbook="Teleport"), ["runbook: expected one of"], id="unknown-runbook"),
        pytest.param(
            {"runId": "rehome-1", "runbook": "RehomePet", "reason": "drill"},
            ["cluster: required", "namespace: required", "statefulSet: required", "ordinal: required"],
            id="rehome-pet-missing-fields",
        ),
        pytest.param(
            {"runId": "fence-1", "runbook": "FenceNode", "cluster": "east-1", "reason": "drill", "dryRun": 1},
            ["node: required", "dryRun:"],
            id="fence-node-missing-node-and-bad-dry-run",
        ),
        pytest.param(
            {"runId": "drain-1", "runbook": "DrainNode", "cluster": "east-1", "reason": "spot", "deadline": "soon"},
            ["node or instanceId: required", "deadline:"],
            id="drain-node-neither-node-nor-instance-and-bad-deadline",
        ),
        pytest.param(
            {"runId": "drain-1", "runbook": "DrainNode", "cluster": "east-1", "instanceId": "vm-1", "reason": "x"},
            ["instanceId:"],
            id="drain-node-bad-instance-id",
        ),
    ],
)
def test_a_bad_plan_input_raises_input_error_naming_each_wrong_field(
    env: None, lambda_context: Any, event: dict[str, Any], fields: list[str]
) -> None:
    plan = handler("runbook-plan")

    with pytest.raises(InputError) as rejected:
        plan(event, lambda_context)

    message = str(rejected.value)
    assert all(field in message for field in fields), message
    assert len(rejected.value.problems) >= len(fields)
    assert items("RUN#") == [] and items("AUDIT#") == []  # a rejected input is neither journaled nor audited


# --- runbook-report ---------------------------------------------------------------------------------------------


def test_the_report_of_a_successful_evacuation_is_returned_audited_and_sent(env: None, lambda_context: Any) -> None:
    report = handler("runbook-report")
    expected = load_event("stepfunctions/runbook-report-output")

    result = report(load_event("stepfunctions/runbook-report-input"), lambda_context)

    assert result["outcome"] == "succeeded" and result["runId"] == RUN_ID
    assert result == expected
    (audit,) = items("AUDIT#")
    assert audit["action_id"] == f"{RUN_ID}/report"
    assert "EvacuateZone succeeded" in json.dumps(audit, default=str)
    (sent,) = notifications()
    assert sent["Subject"] == "Ferry: EvacuateZone succeeded"
    assert sent["Message"] == expected["summary"]
    assert sent["MessageAttributes"]["outcome"]["Value"] == "succeeded"


@pytest.mark.parametrize(
    ("change", "outcome", "in_summary"),
    [
        pytest.param(
            lambda e: e["pets"][0].update(status="failed", toZone=None, newVolume=None, reason="Refused: PV is Delete"),
            "failed",
            "Refused: PV is Delete",
            id="every-pet-failed-is-failed",
        ),
        pytest.param(
            lambda e: e["pets"].append(
                {**e["pets"][0], "pod": "db-1", "status": "skipped", "toZone": None, "reason": "no snapshot"}
            ),
            "partial",
            "db-1: skipped",
            id="a-pet-skipped-beside-a-moved-one-is-partial",
        ),
        pytest.param(
            lambda e: e["nodes"][1].update(fenced=False, fencedBy=None, identityFreed=None, reason="still running"),
            "partial",
            "still running",
            id="a-node-not-fenced-is-partial",
        ),
        pytest.param(
            lambda e: (
                [e.pop("plan"), e.pop("nodes"), e.pop("pets")]
                and e.update(error={"Error": "InputError", "Cause": "zone: must match pattern"})
            ),
            "rejected",
            "zone: must match pattern",
            id="input-error-is-rejected",
        ),
    ],
)
def test_the_report_outcome_follows_the_node_and_pet_reports(
    env: None, lambda_context: Any, change: Any, outcome: str, in_summary: str
) -> None:
    event = load_event("stepfunctions/runbook-report-input")
    change(event)

    result = handler("runbook-report")(event, lambda_context)

    assert result["outcome"] == outcome, result["summary"]
    assert in_summary in result["summary"]
    (sent,) = notifications()
    assert sent["MessageAttributes"]["outcome"]["Value"] == outcome
    assert [a["action_id"] for a in items("AUDIT#")] == [f"{RUN_ID}/report"]


# --- dry runs ---------------------------------------------------------------------------------------------------


def test_a_dry_run_rehome_returns_planned_and_touches_nothing(env: None, lambda_context: Any) -> None:
    """No cluster is registered: a dry run must not even look for one."""
    job = {**load_event("stepfunctions/runbook-rehome-input"), "dryRun": True}
    before = items()

    result = handler("runbook-rehome")(job, lambda_context)

    assert result["status"] == "planned"
    assert (result["fromZone"], result["toZone"], result["newVolume"]) == ("us-east-1a", "us-east-1b", None)
    assert items() == before and notifications() == []
    assert boto3.client("ec2").describe_volumes()["Volumes"] == []


def test_a_dry_run_plan_journals_nothing(env: None, lambda_context: Any) -> None:
    """EvacuateZone of a zone no registered cluster spans: an empty plan, audited as a dry run, no journal."""
    event = _plan_input(dryRun=True, clusters=None)

    result = handler("runbook-plan")(event, lambda_context)

    assert result["dryRun"] is True and result["nodes"] == [] and result["pets"] == []
    assert items("RUN#") == []
    (audit,) = items("AUDIT#")
    assert audit["action_id"] == f"{RUN_ID}/plan" and audit["record"]["dry_run"] is True


def test_a_plan_carrying_an_approval_names_the_approver_in_its_audit(env: None, lambda_context: Any) -> None:
    """A retry of an evacuation a person approved (ferry.domain.decisions.retry_terms) carries their name."""
    event = _plan_input(dryRun=True, clusters=None, approved=True, approvedBy="alice@example.com")

    handler("runbook-plan")(event, lambda_context)

    (audit,) = items("AUDIT#")
    assert audit["record"]["approved_by"] == "alice@example.com"


def test_a_dry_run_report_says_dry_run(env: None, lambda_context: Any) -> None:
    event = load_event("stepfunctions/runbook-report-input")
    event["input"]["dryRun"] = True
    event["plan"]["dryRun"] = True
    for pet in event["pets"]:
        pet.update(status="planned", oldVolume=None, snapshot=None, newVolume=None, rpoSeconds=None)
    event.pop("nodes")

    result = handler("runbook-report")(event, lambda_context)

    assert result["outcome"] == "dry-run" and result["dryRun"] is True, result["summary"]
    assert boto3.client("ec2").describe_volumes()["Volumes"] == []
