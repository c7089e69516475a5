"""The sandbox world: what it seeds in AWS and Kubernetes, how it stages an outage, the EC2 fault proxy, and (in
act mode) Ferry's runbooks as moto's Step Functions runs them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.errors import Unavailable
from ferry.domain.modes import Mode
from sandbox import stepfunctions
from sandbox.aws import AwsSandbox, Ec2Error, FaultScope, zonal_references
from sandbox.kube.clock import SandboxClock
from sandbox.lambdas import Invocation, available_functions
from sandbox.scenario import Scenario, ZoneOutage, load
from sandbox.stepfunctions import StackRunbooks, StepFunctionsSandbox
from sandbox.world import World
from tests.conftest import create_ferry_table, wait_for

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
    yesterday = SandboxClock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))  # far from the real clock
    with World(small, clock=yesterday) as world:
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
        # started a day behind the real clock here.
        verdict = world.zone_state("us-east-1a")
        assert verdict is not None and verdict["status"] == "suspect"
        stamped = datetime.fromisoformat(verdict["updated_at"])
        assert abs((stamped - world.clock.now()).total_seconds()) < 5
        assert stamped < datetime.now(UTC) - timedelta(hours=23)


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
    assert "availabilityZone" not in first["detail"], "AWS documents no zone field: the zone is found as AWS writes it"
    assert [e["entityValue"] for e in first["detail"]["affectedEntities"]] == ["i-1", "i-2"]
    assert second["detail"] == {"instance-id": "i-1", "state": "stopped"}
    assert first["id"] != second["id"] and first["time"] == second["time"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    closed = world.events.health_issue("us-east-1b", ["i-1"], now, open_=False)
    assert closed["detail"]["eventArn"] == first["detail"]["eventArn"], "the resolution closes the same issue"


def test_sample_events_exist_for_what_the_sandbox_sends() -> None:
    events = Path(__file__).resolve().parents[2] / "events"
    for name in ("health-ec2-issue-open.json", "health-ec2-issue-resolved.json", "ec2-state-change-stopped.json"):
        assert (events / name).exists(), name


# --- the runbooks (act mode): the synthesized state machines in moto, their Tasks run by the world -----------


def test_the_template_is_cached_under_a_key_of_cdk_and_the_function_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "repo"
    (root / "cdk").mkdir(parents=True)
    (root / "functions" / "probe").mkdir(parents=True)
    (root / "cdk" / "stack.py").write_text("v1")
    (root / "cdk.json").write_text("{}")
    for name, value in {"ROOT": root, "CDK_DIR": root / "cdk", "CDK_JSON": root / "cdk.json"}.items():
        monkeypatch.setattr(stepfunctions, name, value)
    monkeypatch.setattr(stepfunctions, "FUNCTIONS_DIR", root / "functions")
    first = stepfunctions.template_key()

    (root / "cdk" / "stack.py").write_text("v2")
    changed_cdk = stepfunctions.template_key()
    (root / "functions" / "ingest").mkdir()
    changed_functions = stepfunctions.template_key()
    assert len({first, changed_cdk, changed_functions}) == 3

    cached = tmp_path / "build" / f"template-{changed_functions}.json"
    cached.parent.mkdir()
    cached.write_text('{"Resources": {}}')
    monkeypatch.setattr(stepfunctions, "_synthesize_into", lambda path: pytest.fail("synthesized despite the cache"))
    assert stepfunctions.synthesized_template(cached.parent) == {"Resources": {}}


def test_the_stacks_runbooks_call_ferrys_functions_and_the_detector_gets_evacuate_zones_arn() -> None:
    stack = StackRunbooks.from_template(stepfunctions.synthesized_template())
    assert set(stack.definitions) == {
        "ferry-EvacuateZone",
        "ferry-RehomePet",
        "ferry-FenceNode",
        "ferry-DrainNode",
        "ferry-FailbackZone",
        "ferry-SetZone",
        "ferry-Decide",
        "ferry-Readiness",
        "ferry-ShiftReplicas",
        "ferry-FailoverCluster",
        "ferry-FailbackCluster",
    }
    one_step = {
        "ferry-SetZone": {"zone-override"},
        "ferry-Decide": {"decide"},
        "ferry-Readiness": {"readiness"},
        **{f"ferry-{shift}": {"runbook-shift"} for shift in ("ShiftReplicas", "FailoverCluster", "FailbackCluster")},
    }
    for machine in stack.definitions:
        states = json.loads(stack.definition(machine, lambda name: f"arn:aws:lambda:::function:{name}"))
        tasks = [s for s in _states(states) if s.get("Type") == "Task"]
        # A Lambda Task names its function as the Resource; a service integration (the supervised pause's
        # lambda:invoke.waitForTaskToken) names it in its Parameters.
        resources = {s.get("Parameters", {}).get("FunctionName") or s["Resource"] for s in tasks}
        folders = {stepfunctions.function_folder(r) for r in resources}
        assert folders <= set(available_functions()), f"{machine} calls a function that has no folder"
        steps = one_step.get(machine, {"runbook-plan", "runbook-fence", "runbook-report"})
        assert steps <= folders
    handoffs = {
        "FERRY_SM_EVACUATE_ZONE": "ferry-EvacuateZone",
        "FERRY_SM_FAILBACK_ZONE": "ferry-FailbackZone",
        "FERRY_SM_FAILOVER_CLUSTER": "ferry-FailoverCluster",  # the detector's hand-off at control plane DOWN
    }
    assert stack.handoffs == {
        # ingest also starts DrainNode on a node warning
        "ferry-ingest": {**handoffs, "FERRY_SM_DRAIN_NODE": "ferry-DrainNode"},
        "ferry-probe": handoffs,
        "ferry-zone-override": handoffs,  # SetZone decides like the detector, so it hands off alike
        "ferry-runbook-await": {"FERRY_SM_DECIDE": "ferry-Decide"},  # a paused run's notice says how to decide
    }


def _states(definition: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every state of a definition, those inside Map item processors too."""
    for state in definition.get("States", {}).values():
        yield state
        yield from _states(state.get("ItemProcessor") or state.get("Iterator") or {})


def test_a_definition_token_the_sandbox_cannot_resolve_is_refused() -> None:
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "ferry-X",
                    "DefinitionString": {"Fn::Join": ["", ['{"Resource":"', {"Ref": "Elsewhere"}, '"}']]},
                },
            }
        }
    }
    with pytest.raises(ValueError, match="ferry-X: a token the sandbox cannot resolve"):
        StackRunbooks.from_template(template)


def test_an_observe_world_has_no_state_machines_and_its_functions_no_runbook_arns(world: World) -> None:
    assert world.mode is Mode.OBSERVE and world.runbooks is None
    assert world.executions() == [] and world.run_runbooks() == []
    env = world.lambdas.function("ingest").env
    assert env["FERRY_MODE"] == "observe" and not any(k.startswith("FERRY_SM_") for k in env)


@pytest.fixture(scope="module")
def act_world(small: Scenario) -> Iterator[World]:
    with World(small, mode=Mode.ACT) as seeded:
        yield seeded


def test_an_act_world_gives_ferrys_functions_act_mode_and_the_arns_the_stack_gives_them(act_world: World) -> None:
    assert act_world.runbooks is not None
    arn = act_world.runbooks.arn("EvacuateZone")
    assert arn == f"arn:aws:states:us-east-1:{act_world.aws.account_id}:stateMachine:ferry-EvacuateZone"
    for function in ("ingest", "probe"):
        env = act_world.lambdas.function(function).env
        assert (env["FERRY_MODE"], env["FERRY_SM_EVACUATE_ZONE"]) == ("act", arn)
    assert not any(k.startswith("FERRY_SM_") for k in act_world.lambdas.function("runbook-plan").env)


def start(world: World, runbook: str, name: str, payload: dict[str, Any]) -> None:
    """As a person starts a runbook with the CLI: StartExecution on the endpoint Ferry's clients use."""
    assert world.runbooks is not None
    sfn = world.aws.client("stepfunctions", through_proxy=True)
    sfn.start_execution(stateMachineArn=world.runbooks.arn(runbook), name=name, input=json.dumps(payload))


def test_a_runbook_started_by_hand_runs_its_real_steps_when_the_world_runs_them(act_world: World) -> None:
    node = {"cluster": "east-1", "node": "east-1-b-w0", "reason": "drill", "dryRun": True}
    start(act_world, "FenceNode", "fence-dry-run", node)

    runs = act_world.run_runbooks()

    assert [r.function for r in runs] == ["runbook-plan", "runbook-report"], "a dry run plans and reports"
    assert all(r.invocation.ok and r.run_id == "fence-dry-run" for r in runs)
    (execution,) = [e for e in act_world.executions("FenceNode") if e.name == "fence-dry-run"]
    assert execution.status == "SUCCEEDED" and execution.output is not None
    assert (execution.output["outcome"], execution.input) == ("dry-run", node)
    assert act_world.inventory().instance_states("us-east-1b")["running"] == 2, "nothing was stopped"


def test_a_bad_input_fails_the_execution_in_the_plan_step_naming_each_wrong_field(act_world: World) -> None:
    start(act_world, "EvacuateZone", "bad-input", {"zone": "mars-1a", "dryRun": "yes"})

    runs = act_world.run_runbooks()

    assert [r.function for r in runs] == ["runbook-plan"]
    (execution,) = [e for e in act_world.executions("EvacuateZone") if e.name == "bad-input"]
    assert (execution.status, execution.error) == ("FAILED", "InputError")
    assert all(f"{field}:" in (execution.cause or "") for field in ("reason", "zone", "dryRun"))


# --- the engine's hand-over between moto's threads and the world's, without moto ------------------------------


@dataclass
class FakeHost:
    """A world reduced to what the engine asks of it: run a function, settle, tell and plan sandbox time."""

    now: float = 0.0
    invoked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    agenda: list[tuple[float, Callable[[], list[Any]]]] = field(default_factory=list)

    def invoke(self, function: str, event: Mapping[str, Any]) -> Invocation:
        self.invoked.append((function, dict(event)))
        return Invocation(function, "req", event, {"echo": event["n"]}, None, "", 0.0, False)

    def settle(self) -> None:
        pass

    def offset(self) -> float:
        return self.now

    def schedule(self, at: float, label: str, action: Callable[[], list[Any]]) -> None:
        self.agenda.append((at, action))


EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:ferry-EvacuateZone:run-1"
FENCE = "arn:aws:lambda:us-east-1:123456789012:function:ferry-runbook-fence"


@dataclass
class Engine:
    """A sandbox outside moto's interpreter (never started): threads spawned here play the interpreter's, and
    the execution runs while one of them is alive, as moto reports it RUNNING until its last state is done."""

    sandbox: StepFunctionsSandbox
    host: FakeHost
    threads: list[threading.Thread] = field(default_factory=list)

    def running(self) -> list[str]:
        return [EXECUTION] if any(t.is_alive() for t in self.threads) else []

    def spawn(self, call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
        result: list[Any] = []
        thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread, result


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    sandbox = StepFunctionsSandbox(SimpleNamespace(account_id="123456789012"), {"Resources": {}})  # type: ignore[arg-type]
    fake = Engine(sandbox, FakeHost())
    sandbox.attach(fake.host)
    monkeypatch.setattr(sandbox, "running", fake.running)
    yield fake
    sandbox.stop()


def test_a_task_waits_for_the_worlds_thread_to_run_its_function(engine: Engine) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:ferry-runbook-plan"
    thread, result = engine.spawn(lambda: engine.sandbox.task(EXECUTION, arn, {"runId": "r", "n": 1}))

    runs = engine.sandbox.run_tasks()

    thread.join(timeout=5)
    assert engine.host.invoked == [("runbook-plan", {"runId": "r", "n": 1})], "run on the caller's thread, by folder"
    assert result == [({"echo": 1}, None)] and [r.function for r in runs] == ["runbook-plan"]


def test_the_world_waits_for_an_execution_between_two_states_before_it_moves_time_on(engine: Engine) -> None:
    def slow_then_task() -> Any:
        time.sleep(0.4)  # a busy interpreter: far longer than the quiet spell that ends a round
        return engine.sandbox.task(EXECUTION, FENCE, {"n": 3})

    thread, result = engine.spawn(slow_then_task)
    runs = engine.sandbox.run_tasks()

    thread.join(timeout=5)
    assert [r.function for r in runs] == ["runbook-fence"] and result == [({"echo": 3}, None)]


def test_a_retrys_wait_lasts_until_sandbox_time_has_moved_past_it(engine: Engine) -> None:
    engine.host.now = 100.0
    thread, _ = engine.spawn(lambda: engine.sandbox.sleep(EXECUTION, 7.5))

    engine.sandbox.run_tasks()

    assert [at for at, _ in engine.host.agenda] == [107.5], "the wake-up is on the world's agenda, in sandbox time"
    assert thread.is_alive(), "no real time has to pass, but sandbox time has to"
    engine.host.now = 107.5
    engine.host.agenda[0][1]()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_stopping_lets_every_waiting_thread_go(engine: Engine) -> None:
    planned, _ = engine.spawn(lambda: engine.sandbox.sleep(EXECUTION, 60))
    engine.sandbox.run_tasks()
    assert len(engine.host.agenda) == 1, "its wake-up is on the agenda, for a time the drill will never reach"
    sleeper, _ = engine.spawn(lambda: engine.sandbox.sleep(EXECUTION, 60))
    task, raised = engine.spawn(lambda: _raises(lambda: engine.sandbox.task(EXECUTION, FENCE, {"n": 2})))
    wait_for(lambda: engine.sandbox._parked[EXECUTION] == 3, what="all three threads waiting in a hook")

    engine.sandbox.stop()

    for thread in (planned, sleeper, task):
        thread.join(timeout=5)
    assert not planned.is_alive() and not sleeper.is_alive() and not task.is_alive()
    assert "stopped while this Task waited" in str(raised[0]), "the Task fails; its execution does not hang"


def _raises(call: Callable[[], Any]) -> BaseException | None:
    try:
        call()
    except RuntimeError as error:
        return error
    return None


def test_the_proxy_stands_in_for_complete_lifecycle_action_which_moto_lacks(aws: AwsSandbox) -> None:
    autoscaling = aws.client("autoscaling", through_proxy=True, max_attempts=1)

    autoscaling.complete_lifecycle_action(
        AutoScalingGroupName="east-1-workers-b",
        LifecycleHookName="ferry-drain-and-fence",
        LifecycleActionToken="19cc4d4a-e450-4d1c-b448-0de67EXAMPLE",
        InstanceId="i-0b5e3c1d2a4f60718",
        LifecycleActionResult="CONTINUE",
    )

    assert aws.proxy.completed_lifecycle_actions == [
        {
            "AutoScalingGroupName": "east-1-workers-b",
            "LifecycleHookName": "ferry-drain-and-fence",
            "LifecycleActionToken": "19cc4d4a-e450-4d1c-b448-0de67EXAMPLE",
            "InstanceId": "i-0b5e3c1d2a4f60718",
            "LifecycleActionResult": "CONTINUE",
        }
    ]


# --- moto's DynamoDB transactions, with the sandbox's lighter backups ------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"Put": {"Item": {"pk": {"S": "P"}, "sk": {"S": "kept"}, "v": {"N": "2"}}}}, id="put"),
        pytest.param({"Delete": {"Key": {"pk": {"S": "P"}, "sk": {"S": "kept"}}}}, id="delete"),
        pytest.param(
            {"Update": {"Key": {"pk": {"S": "P"}, "sk": {"S": "kept"}}, "UpdateExpression": "SET v = :two"}},
            id="update-keeps-motos-deep-copy",
        ),
    ],
)
def test_a_cancelled_transaction_changes_no_item(aws: AwsSandbox, change: dict[str, Any]) -> None:
    dynamodb = aws.client("dynamodb")
    table = "transactions"
    if table not in dynamodb.list_tables()["TableNames"]:
        create_ferry_table(dynamodb, table)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "P"}, "sk": {"S": "kept"}, "v": {"N": "1"}})
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "P"}, "sk": {"S": "guard"}})
    ((kind, operation),) = change.items()
    failing = {"Key": {"pk": {"S": "P"}, "sk": {"S": "guard"}}, "ConditionExpression": "attribute_not_exists(pk)"}
    items = [
        {kind: {"TableName": table, **operation}},
        {"Put": {"TableName": table, "Item": {"pk": {"S": "Q"}, "sk": {"S": "new"}}}},
        {"ConditionCheck": {"TableName": table, **failing}},
    ]
    if kind == "Update":
        items[0][kind]["ExpressionAttributeValues"] = {":two": {"N": "2"}}

    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(TransactItems=items)

    every = dynamodb.scan(TableName=table)["Items"]
    assert sorted((i["pk"]["S"], i["sk"]["S"], i.get("v", {}).get("N")) for i in every) == [
        ("P", "guard", None),
        ("P", "kept", "1"),
    ]
