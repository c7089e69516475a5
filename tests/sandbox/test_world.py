"""The sandbox world: what it seeds in AWS and Kubernetes, how it stages an outage, and the EC2 fault proxy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ferry.adapters.aws import translate_error
from ferry.errors import Unavailable
from sandbox.aws import AwsSandbox, Ec2Error, FaultScope, zonal_references
from sandbox.scenario import Scenario, ZoneOutage, load
from sandbox.world import World

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")]

SMALL = """
name: small
clusters:
  - {name: east-1, workers_per_zone: 1, control_planes_per_zone: 1}
statefulsets:
  - {cluster: east-1, namespace: shop, name: db, replicas: 3, storage_gib: 5}
federated:
  - {name: web, namespace: shop, total_replicas: 2, weights: {east-1: 1}}
steps:
  - {at: 60s, action: zone-outage, zone: us-east-1a}
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    path = tmp_path_factory.mktemp("scenarios") / "small.yaml"
    path.write_text(SMALL)
    return load(path)


@pytest.fixture(scope="module")
def world(small: Scenario) -> Iterator[World]:
    """One seeded world shared by the read-only tests of this module."""
    with World(small) as seeded:
        yield seeded


# --- seeding ------------------------------------------------------------------------------------------------


def test_every_node_is_an_ec2_instance_in_its_zone_tagged_for_its_cluster(world: World) -> None:
    instances = {i.id: i for i in world.aws.instances()}
    nodes = world.clusters["east-1"].list("Node")
    assert len(nodes) == len(instances) == 6
    for node in nodes:
        zone = node["metadata"]["labels"]["topology.kubernetes.io/zone"]
        instance_id = world.instance_ids[("east-1", node["metadata"]["name"])]
        assert node["spec"]["providerID"] == f"aws:///{zone}/{instance_id}"
        instance = instances[instance_id]
        assert (instance.zone, instance.state, instance.name) == (zone, "running", node["metadata"]["name"])
    raw = world.aws.client("ec2").describe_instances(InstanceIds=list(instances))["Reservations"]
    for reservation in raw:
        tags = {t["Key"]: t["Value"] for t in reservation["Instances"][0]["Tags"]}
        assert tags["ferry:cluster"] == "east-1"
        assert tags["kubernetes.io/cluster/east-1"] == "owned"


def test_each_pet_runs_on_a_volume_the_provisioner_made_in_the_pods_zone(world: World) -> None:
    pets = world.pets()
    assert [p.name for p in pets] == ["db-0", "db-1", "db-2"]
    assert {p.zone for p in pets} == {"us-east-1a", "us-east-1b", "us-east-1c"}, "one pet per zone"
    inventory = world.inventory()
    for pet in pets:
        assert pet.phase == "Running" and pet.pods == 1
        volume = inventory.volume(pet.volume_id or "")
        assert volume is not None, f"{pet.name}: its PV names no EBS volume that exists"
        assert volume.zone == pet.zone
        assert volume.size_gib == 5
        assert volume.tags["kubernetes.io/created-for/pvc/name"] == pet.claim
        assert volume.tags["kubernetes.io/created-for/pvc/namespace"] == "shop"


def test_each_pets_volume_has_a_recent_ferry_snapshot(world: World) -> None:
    snapshots = {s.volume_id: s for s in world.inventory().snapshots}
    for pet in world.pets():
        snapshot = snapshots[pet.volume_id or ""]
        assert snapshot.state == "completed"
        assert snapshot.tags["ferry:managed"] == "true"
        assert snapshot.tags["ferry:pet"] == f"shop/{pet.claim}"


def test_the_statefulset_and_the_federated_app_carry_ferrys_annotations(world: World) -> None:
    cluster = world.clusters["east-1"]
    sts = cluster.get("StatefulSet", "db", "shop")
    assert sts is not None
    assert sts["metadata"]["annotations"] == {"ferry.io/rehome": "snapshot", "ferry.io/max-rpo": "15m"}
    web = cluster.get("Deployment", "web", "shop")
    assert web is not None
    assert web["metadata"]["annotations"]["ferry.io/federated-app"] == "web"
    assert web["spec"]["replicas"] == 2
    storage = cluster.get("StorageClass", "ebs-sc")
    assert storage is not None and storage["volumeBindingMode"] == "WaitForFirstConsumer"


def test_the_clusters_are_in_ferrys_registry(world: World) -> None:
    items = world.table_items("REGISTRY")
    assert [i["sk"] for i in items] == ["CLUSTER#east-1"]
    assert items[0]["registration"]["endpoint"] == world.clusters["east-1"].url


# --- staging ------------------------------------------------------------------------------------------------


def test_a_zone_outage_stops_the_zones_instances_and_its_nodes_go_not_ready(small: Scenario) -> None:
    with World(small) as world:
        world.advance_to(60)
        world.zone_outage(ZoneOutage(at=60, zone="us-east-1a", health_event_after=None))
        by_zone = {z: world.inventory().instance_states(z) for z in small.zones}
        assert by_zone["us-east-1a"] == {"stopped": 2}
        assert by_zone["us-east-1b"] == by_zone["us-east-1c"] == {"running": 2}

        world.advance_to(60 + 10)
        assert all(n.is_ready for n in world.nodes()), "not NotReady before the grace period"
        world.advance_to(60 + 40 + 15)
        ready = {n.name: n.is_ready for n in world.nodes()}
        assert ready == {
            "east-1-a-cp0": False,
            "east-1-a-w0": False,
            "east-1-b-cp0": True,
            "east-1-b-w0": True,
            "east-1-c-cp0": True,
            "east-1-c-w0": True,
        }

        deliveries = world.deliver_events()
        assert sum(len(d.message_ids) for d in deliveries) == 2
        assert not any(d.failed_ids for d in deliveries)
        recorded = world.signals("us-east-1a")
        assert {(s["kind"], s["source"], s["cluster"]) for s in recorded} == {("instance-down", "aws.ec2", "east-1")}

        # Ferry's functions run on the world's clock: the detector stamps its verdict with sandbox time, which
        # is nearly two minutes ahead of the real clock here.
        verdict = world.zone_state("us-east-1a")
        assert verdict is not None and verdict["status"] == "suspect"
        stamped = datetime.fromisoformat(verdict["updated_at"])
        assert abs((stamped - world.clock.now()).total_seconds()) < 5
        assert stamped > datetime.now(UTC) + timedelta(seconds=60)


# --- the EC2 fault proxy ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[AwsSandbox]:
    with AwsSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def instances(aws: AwsSandbox) -> Iterator[dict[str, str]]:
    launched = {zone: aws.launch_instance("east-1", f"node-{zone[-1]}", zone) for zone in aws.zones}
    yield launched
    for zone in aws.zones:
        aws.fail_ec2_for_zone(zone, False)


def error_of(call: object, **kwargs: object) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)  # type: ignore[operator]
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_the_proxy_answers_ec2_calls_about_a_failing_zone_with_a_real_ec2_error(
    aws: AwsSandbox, instances: dict[str, str]
) -> None:
    ec2 = aws.client("ec2", through_proxy=True, max_attempts=1)
    aws.fail_ec2_for_zone("us-east-1a", True)

    assert error_of(ec2.describe_instances, InstanceIds=[instances["us-east-1a"]]) == ("Unavailable", 503)
    assert error_of(ec2.stop_instances, InstanceIds=[instances["us-east-1a"]]) == ("Unavailable", 503)
    assert error_of(ec2.create_volume, AvailabilityZone="us-east-1a", Size=1) == ("Unavailable", 503)
    filters = [{"Name": "availability-zone", "Values": ["us-east-1a"]}]
    assert error_of(ec2.describe_volumes, Filters=filters) == ("Unavailable", 503)

    other = ec2.describe_instances(InstanceIds=[instances["us-east-1b"]])["Reservations"]
    assert other[0]["Instances"][0]["Placement"]["AvailabilityZone"] == "us-east-1b"
    assert ec2.create_volume(AvailabilityZone="us-east-1c", Size=1)["AvailabilityZone"] == "us-east-1c"
    assert aws.client("dynamodb", through_proxy=True).list_tables()["TableNames"] == [aws.names.table]
    assert aws.proxy.failed["us-east-1a DescribeInstances"] >= 1


def test_the_proxy_can_fail_every_ec2_call_and_send_internal_errors(aws: AwsSandbox, instances: dict[str, str]) -> None:
    ec2 = aws.client("ec2", through_proxy=True, max_attempts=1)
    aws.fail_ec2_for_zone("us-east-1b", True, scope=FaultScope.ALL, error=Ec2Error.INTERNAL_ERROR)
    assert error_of(ec2.describe_instances, InstanceIds=[instances["us-east-1c"]]) == ("InternalError", 500)
    assert error_of(ec2.describe_availability_zones) == ("InternalError", 500)
    aws.fail_ec2_for_zone("us-east-1b", False)
    assert ec2.describe_instances(InstanceIds=[instances["us-east-1c"]])["Reservations"]


def test_ferrys_own_error_mapping_sees_a_failing_zone_as_unavailable(
    aws: AwsSandbox, instances: dict[str, str]
) -> None:
    ec2 = aws.client("ec2", through_proxy=True, max_attempts=1)
    aws.fail_ec2_for_zone("us-east-1b", True)
    with pytest.raises(ClientError) as caught:
        ec2.describe_instances(InstanceIds=[instances["us-east-1b"]])
    assert isinstance(translate_error(caught.value), Unavailable)


@pytest.mark.parametrize(
    ("params", "zones", "ids"),
    [
        pytest.param(
            {"Action": "DescribeInstances", "InstanceId.1": "i-1", "InstanceId.2": "i-2"},
            set(),
            {"i-1", "i-2"},
            id="ids",
        ),
        pytest.param({"Action": "CreateVolume", "AvailabilityZone": "us-east-1a"}, {"us-east-1a"}, set(), id="zone"),
        pytest.param(
            {"Action": "RunInstances", "Placement.AvailabilityZone": "us-east-1b"},
            {"us-east-1b"},
            set(),
            id="placement",
        ),
        pytest.param(
            {"Action": "DescribeVolumes", "Filter.1.Name": "availability-zone", "Filter.1.Value.1": "us-east-1c"},
            {"us-east-1c"},
            set(),
            id="zone-filter",
        ),
        pytest.param(
            {"Action": "DescribeInstances", "Filter.1.Name": "instance-id", "Filter.1.Value.1": "i-9"},
            set(),
            {"i-9"},
            id="id-filter",
        ),
        pytest.param(
            {"Action": "AttachVolume", "VolumeId": "vol-1", "InstanceId": "i-3"}, set(), {"vol-1", "i-3"}, id="attach"
        ),
        pytest.param({"Action": "DescribeRegions"}, set(), set(), id="not-zonal"),
    ],
)
def test_the_proxy_finds_the_zones_and_resources_an_ec2_request_names(
    params: dict[str, str], zones: set[str], ids: set[str]
) -> None:
    assert zonal_references(params) == (zones, ids)


def test_events_from_the_samples_carry_the_zone_instances_and_fresh_ids(world: World) -> None:
    now = world.clock.now()
    first = world.events.health_issue("us-east-1b", ["i-1", "i-2"], now)
    second = world.events.instance_state_change("i-1", "stopped", now)
    assert first["detail"]["availabilityZone"] == "us-east-1b"
    assert [e["entityValue"] for e in first["detail"]["affectedEntities"]] == ["i-1", "i-2"]
    assert second["detail"] == {"instance-id": "i-1", "state": "stopped"}
    assert first["id"] != second["id"] and first["time"] == second["time"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    closed = world.events.health_issue("us-east-1b", ["i-1"], now, open_=False)
    assert closed["detail"]["eventArn"] == first["detail"]["eventArn"], "the resolution closes the same issue"


def test_sample_events_exist_for_what_the_sandbox_sends() -> None:
    events = Path(__file__).resolve().parents[2] / "events"
    for name in ("health-ec2-issue-open.json", "health-ec2-issue-resolved.json", "ec2-state-change-stopped.json"):
        assert (events / name).exists(), name
