"""The ingest function end to end on moto: what a user of the queue sees for good, skipped and bad events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from ferry.adapters.placements import Placement, Placements, VolumePlacement
from ferry.adapters.registry import Registry
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.errors import ConfigError
from tests.conftest import TABLE_NAME, load_event, load_handler, sqs_event


@pytest.fixture
def topic(aws) -> str:
    """The notifications topic, with a queue subscribed so a test can read what operators were told."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    arn = sns.create_topic(Name="ferry-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="operator")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return str(arn)


def notifications() -> list[str]:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="operator")["QueueUrl"]
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


@pytest.fixture
def ingest(ferry_table: str, topic: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    Registry(boto3.client("dynamodb"), ferry_table).register(
        ClusterRegistration(
            name="east-1",
            kind=ClusterKind.SELF_MANAGED,
            endpoint="https://east-1.example.com",
            region="us-east-1",
            zones=("us-east-1a", "us-east-1b", "us-east-1c"),
            credentials_secret="ferry/east-1",
        )
    )
    monkeypatch.setenv("FERRY_TABLE", ferry_table)
    monkeypatch.setenv("FERRY_TOPIC_ARN", topic)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ferry-ingest")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Ferry")
    module = load_handler("ingest")
    module.ingestor.cache_clear()
    return module


def items(prefix: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(TABLE_NAME)
    return [item for item in table.scan()["Items"] if item["pk"].startswith(prefix)]


def emf_metrics(output: str) -> dict[tuple[str, str], float]:
    """Metric name and dimension value -> value, from the EMF lines the function printed."""
    found = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                dims = [blob[d] for ds in directive["Dimensions"] for d in ds if d not in {"service"}]
                value = blob[metric["Name"]]
                found[(metric["Name"], dims[0] if dims else "")] = sum(value) if isinstance(value, list) else value
    return found


def fresh(event: dict[str, Any]) -> dict[str, Any]:
    """The sample as if AWS sent it now: an event older than the detection window decides nothing."""
    return {**event, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def place(instance: str, zone: str, cluster: str = "east-1") -> None:
    """What the probe records of a node's instance: where ingest finds the zone of a Health issue's instance."""
    Placements(boto3.client("dynamodb"), TABLE_NAME).remember(
        [Placement(instance_id=instance, zone=zone, cluster=cluster, node=f"node-{instance}")], now=datetime.now(UTC)
    )


def health_issue_in_zone_b() -> dict[str, Any]:
    """The documented Health issue (no zone field), its one instance placed in us-east-1b, sent now."""
    place("i-0b5e3c1d2a4f60718", "us-east-1b")
    return fresh(load_event("health-ec2-issue-open"))


def launch_node(zone: str, cluster: str) -> str:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        Placement={"AvailabilityZone": zone},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "ferry:cluster", "Value": cluster}]}],
    )
    return str(reservation["Instances"][0]["InstanceId"])


def test_a_batch_of_good_events_is_recorded_and_counted(ingest, lambda_context, capsys) -> None:
    batch = load_event("sqs-batch-ingest")

    response = ingest.handler(batch, lambda_context)

    assert response == {"batchItemFailures": []}
    recorded = items("SIGNAL#")
    assert recorded, "every good event must leave its signals in the table"
    assert all(int(item["expires_at"]) > 0 for item in recorded)
    counted = emf_metrics(capsys.readouterr().out)
    assert sum(v for (name, _), v in counted.items() if name == "SignalsTranslated") == len(recorded)


def test_an_ec2_event_is_placed_in_its_zone_and_cluster(ingest, lambda_context) -> None:
    instance = launch_node("us-east-1b", "east-1")
    event = load_event("ec2-state-change-stopped")
    event["detail"]["instance-id"] = instance

    response = ingest.handler(sqs_event(event), lambda_context)

    assert response == {"batchItemFailures": []}
    (item,) = items("SIGNAL#")
    assert item["pk"] == "SIGNAL#us-east-1b"
    assert (item["kind"], item["zone"], item["cluster"], item["instance"]) == (
        "instance-down",
        "us-east-1b",
        "east-1",
        instance,
    )


def test_a_malformed_record_fails_alone_with_its_reason(ingest, lambda_context, caplog) -> None:
    good = load_event("health-ec2-issue-open")
    missing_detail = {k: v for k, v in load_event("ec2-state-change-stopped").items() if k != "detail"}
    event = sqs_event(good, "{not json", missing_detail)

    response = ingest.handler(event, lambda_context)

    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {event["Records"][1]["messageId"], event["Records"][2]["messageId"]}
    assert items("SIGNAL#"), "the good record of the batch is still recorded"
    rejected = {item["sk"]: item["reason"] for item in items("REJECTED#")}
    assert rejected[event["Records"][1]["messageId"]].startswith("body: not JSON")
    assert rejected[event["Records"][2]["messageId"]].startswith("detail")
    logged = {getattr(r, "field", None) for r in caplog.records if r.getMessage() == "malformed event rejected"}
    assert logged == {"body", "detail"}


def test_an_event_ferry_does_not_act_on_is_skipped_not_retried(ingest, lambda_context, capsys) -> None:
    response = ingest.handler(sqs_event(load_event("cloudwatch-alarm-not-owned")), lambda_context)

    assert response == {"batchItemFailures": []}
    assert items("SIGNAL#") == []
    assert emf_metrics(capsys.readouterr().out)[("EventsSkipped", "not-owned")] == 1


def test_the_same_event_delivered_twice_is_ingested_once(ingest, lambda_context) -> None:
    event = load_event("health-ec2-issue-open")
    ingest.handler(sqs_event(event), lambda_context)
    table = boto3.client("dynamodb", region_name="us-east-1")
    # Tamper with the recorded signal: a second ingestion would overwrite it.
    first = items("SIGNAL#")[0]
    table.update_item(
        TableName=TABLE_NAME,
        Key={"pk": {"S": first["pk"]}, "sk": {"S": first["sk"]}},
        UpdateExpression="SET marker = :m",
        ExpressionAttributeValues={":m": {"S": "first"}},
    )

    response = ingest.handler(sqs_event(event), lambda_context)

    assert response == {"batchItemFailures": []}
    assert [item.get("marker") for item in items("SIGNAL#")] == ["first"]
    assert len(items("idempotency#")) == 1


def test_a_missing_table_setting_fails_fast_naming_it(ferry_table, monkeypatch, lambda_context) -> None:
    monkeypatch.delenv("FERRY_TABLE", raising=False)
    module = load_handler("ingest")
    module.ingestor.cache_clear()

    with pytest.raises(ConfigError, match="FERRY_TABLE"):
        module.handler(sqs_event(load_event("health-ec2-issue-open")), lambda_context)


def test_records_are_retried_when_the_table_is_unavailable(ingest, lambda_context, monkeypatch) -> None:
    monkeypatch.setenv("FERRY_TABLE", "no-such-table")
    ingest.ingestor.cache_clear()
    good = load_event("health-ec2-issue-open")
    event = sqs_event(good, {**good, "id": "another-event"})

    # Every record failed: the invocation itself fails, so SQS redelivers the whole batch (and the
    # function's Errors alarm sees it), as Powertools' BatchProcessor does for an entire-batch failure.
    with pytest.raises(BatchProcessingError) as failure:
        ingest.handler(event, lambda_context)

    assert len(failure.value.child_exceptions) == 2


def test_an_authoritative_event_impairs_the_zone_and_in_observe_mode_only_reports(ingest, lambda_context) -> None:
    response = ingest.handler(sqs_event(health_issue_in_zone_b()), lambda_context)

    assert response == {"batchItemFailures": []}
    (state,) = [i for i in items("ZONE#") if i["pk"] == "ZONE#us-east-1#us-east-1b"]
    assert state["status"] == "impaired"
    (audit,) = items("AUDIT#")
    assert (audit["record"]["outcome"], audit["record"]["runbook"]) == ("observe-mode-not-started", "EvacuateZone")
    (told,) = notifications()
    assert "would have started EvacuateZone as evacuate-us-east-1b-" in told
    assert items("OUTBOX") == [], "a reaction carried out leaves nothing pending"


def test_in_act_mode_two_reports_of_one_failure_start_one_evacuation(ingest, lambda_context, monkeypatch) -> None:
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = sfn.create_state_machine(name="EvacuateZone", definition=definition, roleArn=role)["stateMachineArn"]
    monkeypatch.setenv("FERRY_MODE", "act")
    monkeypatch.setenv("FERRY_SM_EVACUATE_ZONE", machine)
    ingest.ingestor.cache_clear()
    first = health_issue_in_zone_b()
    second = {**first, "id": "a-second-delivery-of-the-same-issue"}

    ingest.handler(sqs_event(first), lambda_context)
    ingest.handler(sqs_event(second), lambda_context)

    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"].rsplit("-", 1)[0] for e in executions] == ["evacuate-us-east-1b"]
    started = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert (started["zone"], started["dryRun"], started["requestedBy"]) == ("us-east-1b", False, "ferry-detector")


def test_an_instance_the_probe_placed_needs_no_ec2_call(ingest, lambda_context) -> None:
    Placements(boto3.client("dynamodb"), TABLE_NAME).remember(
        [Placement(instance_id="i-0f00000000000000a", zone="us-east-1c", cluster="east-2", node="n1")],
        now=datetime.now(UTC),
    )
    event = load_event("ec2-state-change-stopped")
    event["detail"]["instance-id"] = "i-0f00000000000000a"  # unknown to EC2 (moto): only the placement knows

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    (item,) = items("SIGNAL#")
    assert (item["zone"], item["cluster"]) == ("us-east-1c", "east-2")


def test_an_instance_nobody_can_place_is_recorded_without_a_zone(ingest, lambda_context) -> None:
    event = load_event("ec2-state-change-stopped")
    event["detail"]["instance-id"] = "i-0f00000000000000b"

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    (item,) = items("SIGNAL#")
    assert item["pk"] == "SIGNAL#us-east-1" and "zone" not in item


# --------------------------------------------------------------------- AWS events as AWS writes them


def signals_of(kind: str) -> list[dict[str, Any]]:
    return [item for item in items("SIGNAL#") if item["kind"] == kind]


def zone_status(zone: str) -> str:
    found = [i["status"] for i in items("ZONE#") if i["pk"] == f"ZONE#us-east-1#{zone}"]
    return found[0] if found else "healthy"


def test_a_health_issue_about_an_instance_only_ec2_knows_is_placed_through_ec2(ingest, lambda_context) -> None:
    instance = launch_node("us-east-1c", "east-1")
    event = fresh(load_event("health-ec2-issue-open"))
    event["detail"]["affectedEntities"] = [{"entityValue": instance}]
    event["resources"] = [instance]

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    (signal,) = signals_of("health-issue")
    assert (signal["zone"], signal["evidence"]["zoneFrom"]) == ("us-east-1c", "affectedResources")
    assert zone_status("us-east-1c") == "impaired"


def test_a_health_issue_about_volumes_is_placed_in_their_zone(ingest, lambda_context) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    volumes = [ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"] for _ in range(2)]
    event = fresh(load_event("health-ebs-volume-issue"))
    event["detail"]["affectedEntities"] = [{"entityValue": v} for v in volumes]
    event["resources"] = volumes

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    (signal,) = signals_of("health-issue")
    assert (signal["zone"], signal["evidence"]["service"]) == ("us-east-1a", "EBS")


def test_a_volume_the_probe_placed_is_placed_without_ec2(ingest, lambda_context) -> None:
    volume = "vol-0f0000000000000aa"  # unknown to EC2 (moto): only the probe's placement knows it
    Placements(boto3.client("dynamodb"), TABLE_NAME).remember(
        [VolumePlacement(volume_id=volume, zone="us-east-1c", cluster="east-1", pv="pvc-data-db-0")],
        now=datetime.now(UTC),
    )
    event = fresh(load_event("health-ebs-volume-issue"))
    event["detail"]["affectedEntities"] = [{"entityValue": volume}]
    event["resources"] = [volume]

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    (signal,) = signals_of("health-issue")
    assert (signal["zone"], signal["evidence"]["zoneFrom"]) == ("us-east-1c", "affectedResources")
    assert zone_status("us-east-1c") == "impaired"


def test_a_zone_id_in_the_description_becomes_the_accounts_zone_name(ingest, lambda_context) -> None:
    zones = boto3.client("ec2", region_name="us-east-1").describe_availability_zones()["AvailabilityZones"]
    zone_id = next(z["ZoneId"] for z in zones if z["ZoneName"] == "us-east-1b")
    event = fresh(load_event("health-ec2-issue-described-zone"))
    event["detail"]["eventDescription"][0]["latestDescription"] = f"Errors in a single Availability Zone ({zone_id})."

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    (signal,) = signals_of("health-issue")
    assert (signal["zone"], signal["zone_id"], signal["evidence"]["zoneFrom"]) == ("us-east-1b", zone_id, "description")


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(load_event("health-account-notification"), id="account-notification-without-status"),
        pytest.param({"id": "x-1", "source": "aws.s3", "detail-type": "Object Created"}, id="unknown-source-no-detail"),
    ],
)
def test_a_valid_event_ferry_does_not_act_on_is_a_counted_skip_never_a_dead_letter(
    ingest, lambda_context, capsys, event
) -> None:
    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    assert items("REJECTED#") == []
    assert sum(v for (name, _), v in emf_metrics(capsys.readouterr().out).items() if name == "EventsSkipped") == 1


def test_an_authority_older_than_the_window_is_recorded_stale_and_impairs_nothing(
    ingest, lambda_context, capsys
) -> None:
    place("i-0b5e3c1d2a4f60718", "us-east-1b")
    event = load_event("health-ec2-issue-open")  # sent on 2026-11-25: long before now

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    (signal,) = signals_of("health-issue")
    assert signal["evidence"]["stale"].startswith("older than")
    assert zone_status("us-east-1b") == "healthy"
    assert emf_metrics(capsys.readouterr().out)[("SignalsStale", "health-issue")] == 1


def test_a_late_resolution_is_not_stale(ingest, lambda_context) -> None:
    # Whether it closes the issue is the detector's rule (tests/unit/test_detection_zones.py,
    # late-resolution-still-resolves); here: ingest records it as a resolution, not as stale.
    place("i-0b5e3c1d2a4f60718", "us-east-1b")
    closed = load_event("health-ec2-issue-resolved")  # stamped long ago, delivered now

    assert ingest.handler(sqs_event(closed), lambda_context) == {"batchItemFailures": []}

    (signal,) = signals_of("health-resolved")
    assert (signal["zone"], "stale" in signal["evidence"]) == ("us-east-1b", False)


def test_a_resolution_whose_zone_cannot_be_found_closes_its_issue_by_event_arn(
    ingest, lambda_context, monkeypatch
) -> None:
    # The function's clock, set as a runtime that simulates time sets it: the resolution comes a minute after
    # the verdict (good news in the verdict's own second would not be newer than it).
    now = [datetime.now(UTC).replace(microsecond=0)]
    monkeypatch.setattr(ingest, "clock", lambda: now[0])
    ingest.ingestor.cache_clear()
    opened = {**health_issue_in_zone_b(), "time": now[0].strftime("%Y-%m-%dT%H:%M:%SZ")}
    ingest.handler(sqs_event(opened), lambda_context)
    assert zone_status("us-east-1b") == "impaired"
    now[0] += timedelta(minutes=1)
    closed = {**load_event("health-ec2-issue-resolved"), "time": now[0].strftime("%Y-%m-%dT%H:%M:%SZ")}
    gone = "i-0f00000000000000c"  # its instance replaced since: neither the probe nor EC2 can place it
    closed["detail"] = {
        **closed["detail"],
        "eventArn": opened["detail"]["eventArn"],
        "affectedEntities": [{"entityValue": gone}],
        "eventDescription": [{"language": "en_US", "latestDescription": "[RESOLVED] The issue has been resolved."}],
    }
    closed["resources"] = [gone]

    assert ingest.handler(sqs_event(closed), lambda_context) == {"batchItemFailures": []}

    (signal,) = signals_of("health-resolved")
    assert ("zone" in signal, signal["evidence"]["zoneFrom"]) == (False, "eventArn")
    assert zone_status("us-east-1b") == "recovering"


def test_an_id_repeated_with_a_different_event_is_flagged_and_processed_once(ingest, lambda_context, capsys) -> None:
    first = health_issue_in_zone_b()
    forged = {**first, "detail": {**first["detail"], "eventTypeCode": "AWS_EC2_SOMETHING_ELSE"}}

    ingest.handler(sqs_event(first), lambda_context)
    capsys.readouterr()
    response = ingest.handler(sqs_event(forged), lambda_context)

    assert response == {"batchItemFailures": []}
    assert [s["evidence"]["eventTypeCode"] for s in signals_of("health-issue")] == ["AWS_EC2_OPERATIONAL_ISSUE"]
    assert emf_metrics(capsys.readouterr().out)[("EventsConflicting", "aws.health")] == 1


def test_the_same_id_from_another_source_is_another_event(ingest, lambda_context) -> None:
    health_event = health_issue_in_zone_b()
    alarm = {**fresh(load_event("cloudwatch-alarm-metric")), "id": health_event["id"]}

    ingest.handler(sqs_event(health_event), lambda_context)
    ingest.handler(sqs_event(alarm), lambda_context)

    assert {s["kind"] for s in items("SIGNAL#")} == {"health-issue", "alarm-firing"}


NLB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/ferry-prod-api/50dc6c495c0c9188"


@pytest.mark.parametrize(
    ("load_balancers", "status"),
    [
        pytest.param((NLB,), "impaired", id="followed-load-balancer-is-an-authority"),
        pytest.param((), "healthy", id="someone-elses-shift-is-only-recorded"),
    ],
)
def test_a_manual_shift_impairs_the_zone_only_for_a_followed_load_balancer(
    ingest, lambda_context, load_balancers, status
) -> None:
    Registry(boto3.client("dynamodb"), TABLE_NAME).register(
        ClusterRegistration(
            name="east-2",
            kind=ClusterKind.SELF_MANAGED,
            endpoint="https://east-2.example.com",
            region="us-east-1",
            zones=("us-east-1a", "us-east-1b"),
            credentials_secret="ferry/east-2",
            load_balancers=load_balancers,
        )
    )
    zones = boto3.client("ec2", region_name="us-east-1").describe_availability_zones()["AvailabilityZones"]
    event = fresh(load_event("arc-zonal-shift-started"))
    event["detail"]["metadata"]["awayFrom"] = next(z["ZoneId"] for z in zones if z["ZoneName"] == "us-east-1b")

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    assert len(items("SIGNAL#")) == 1, "recorded either way"
    assert zone_status("us-east-1b") == status


@pytest.mark.parametrize(
    ("name", "what"),
    [
        pytest.param("arc-practice-run-started", "ARC practice run", id="practice-run"),
        pytest.param("arc-fis-experiment-started", "FIS experiment", id="fis-experiment"),
    ],
)
def test_a_drill_is_recorded_told_once_and_impairs_nothing(ingest, lambda_context, name, what) -> None:
    event = fresh(load_event(name))

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}
    ingest.handler(sqs_event(event), lambda_context)  # SQS's at-least-once delivery

    (signal,) = items("SIGNAL#")
    assert signal["kind"] == "drill-started"
    assert items("ZONE#") == [] or all(i.get("status") == "healthy" for i in items("ZONE#"))
    (told,) = notifications()
    assert f"{what} started: traffic moved away from zone {signal['zone']} (use1-" in told
    assert "action: Ferry will not act: drills are recorded only" in told
    (audit,) = items("AUDIT#")
    assert audit["record"]["outcome"] == "told"


def test_with_drills_act_a_drill_impairs_its_zone(ingest, lambda_context, monkeypatch) -> None:
    monkeypatch.setenv("FERRY_DRILLS", "act")
    ingest.ingestor.cache_clear()
    zones = boto3.client("ec2", region_name="us-east-1").describe_availability_zones()["AvailabilityZones"]
    event = fresh(load_event("arc-fis-experiment-started"))
    event["detail"]["metadata"]["awayFrom"] = next(z["ZoneId"] for z in zones if z["ZoneName"] == "us-east-1c")

    assert ingest.handler(sqs_event(event), lambda_context) == {"batchItemFailures": []}

    assert zone_status("us-east-1c") == "impaired"
    (drill,) = [n for n in notifications() if "drill" in n]
    assert "FIS experiment started: traffic moved away from zone us-east-1c" in drill
    assert "action: Ferry will act (FERRY_DRILLS=act)" in drill


# --- node warnings: DrainNode ---------------------------------------------------------------------------------


def spot_warning_for_a_placed_node() -> dict[str, Any]:
    """The documented Spot warning, sent now, for an instance the probe placed as node `node-<instance>`."""
    place("i-0d2c4e6f8a0b1c3d5", "us-east-1c")
    return fresh(load_event("ec2-spot-interruption"))


def test_a_node_warning_in_observe_mode_is_audited_and_told_would_have_drained(ingest, lambda_context) -> None:
    ingest.handler(sqs_event(spot_warning_for_a_placed_node()), lambda_context)

    (audit,) = [a for a in items("AUDIT#") if a["record"].get("runbook") == "DrainNode"]
    assert audit["record"]["outcome"] == "observe-mode-not-started"
    assert audit["record"]["input"]["node"] == "node-i-0d2c4e6f8a0b1c3d5"
    (told,) = [n for n in notifications() if "DrainNode" in n]
    assert "would have started DrainNode as drain-i-0d2c4e6f8a0b1c3d5-spot-interruption-" in told


def test_in_act_mode_a_spot_warning_delivered_twice_starts_one_drain_of_its_node(
    ingest, lambda_context, monkeypatch
) -> None:
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = sfn.create_state_machine(name="DrainNode", definition=definition, roleArn=role)["stateMachineArn"]
    monkeypatch.setenv("FERRY_MODE", "act")
    monkeypatch.setenv("FERRY_SM_DRAIN_NODE", machine)
    ingest.ingestor.cache_clear()
    event = spot_warning_for_a_placed_node()

    ingest.handler(sqs_event(event), lambda_context)
    ingest.handler(sqs_event(event), lambda_context)  # SQS's at-least-once delivery

    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"].startswith("drain-i-0d2c4e6f8a0b1c3d5-spot-interruption-")
    started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert started["cluster"] == "east-1" and started["node"] == "node-i-0d2c4e6f8a0b1c3d5"
    assert (started["dryRun"], started["requestedBy"]) == (False, "ferry-ingest")
    assert started["deadline"] == (datetime.fromisoformat(event["time"]) + timedelta(minutes=2)).isoformat()


def test_a_warning_about_an_instance_of_no_registered_cluster_drains_nothing(ingest, lambda_context) -> None:
    ingest.handler(sqs_event(fresh(load_event("ec2-spot-interruption"))), lambda_context)  # placed by no one

    assert [a for a in items("AUDIT#") if a["record"].get("runbook") == "DrainNode"] == []
