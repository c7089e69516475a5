"""Detection latency and probe cost, measured on the sandbox.

- Probe of a 1,000-node cluster: the probe function runs in a fresh process (as a Lambda container would)
  against a sandbox API server and moto; its wall time and peak RSS are what Lambda would bill and cap.
- Authoritative event -> evacuation start request: one AWS Health issue enters `ingest` (act mode); the time
  until its StartExecution call leaves the function.
- Zone outage -> IMPAIRED by probes alone: the game day's world with AWS silent, in probe periods.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sandbox import lambdas  # noqa: F401  (first: puts Ferry's layer on sys.path)

ROOT = Path(__file__).resolve().parent.parent
NODES = 1000
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")

_CHILD = """
import json, os, resource, sys, time
sys.path[:0] = [{layer!r}]
from ferry.services.clocks import system_clock
from ferry.services.probe import Prober
from ferry.services.settings.probe import ProbeSettings
prober = Prober.from_settings(ProbeSettings.from_env(os.environ), clock=system_clock)
began = time.perf_counter()
result = prober.run()
elapsed = time.perf_counter() - began
print(json.dumps({{"seconds": elapsed, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "signals": result["signals"], "unreachable": result["unreachable"]}}))
"""


def probe_large_cluster() -> dict[str, float]:
    import boto3
    from moto.server import ThreadedMotoServer

    from ferry.adapters.registry import Registry
    from ferry.domain.clusters import ClusterKind, ClusterRegistration
    from sandbox.kube import KubeCluster
    from tests.conftest import create_ferry_table

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "FERRY_TABLE": "ferry-bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    try:
        session = boto3.session.Session(
            aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
        )
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        create_ferry_table(dynamodb, "ferry-bench")
        topic = session.client("sns", endpoint_url=endpoint).create_topic(Name="ferry")["TopicArn"]
        env["FERRY_TOPIC_ARN"] = topic
        with KubeCluster("big", version="v1.31.0") as cluster:
            for index in range(NODES):
                cluster.add_node(f"n{index:04d}", ZONES[index % 3], instance_id=f"i-{index:017x}")
            cluster.settle(timeout=60)
            secrets = session.client("secretsmanager", endpoint_url=endpoint)
            secrets.create_secret(Name="ferry/big", SecretString=json.dumps({"token": cluster.token}))
            Registry(dynamodb, "ferry-bench").register(
                ClusterRegistration(
                    name="big",
                    kind=ClusterKind.SELF_MANAGED,
                    endpoint=cluster.url,
                    region="us-east-1",
                    zones=ZONES,
                    credentials_secret="ferry/big",
                )
            )
            code = _CHILD.format(layer=str(ROOT / "layers/ferry/python"))
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            figures = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
    if figures["unreachable"]:
        raise RuntimeError(f"the probe could not read the cluster: {figures['unreachable']}")
    return {
        f"probe of a {NODES}-node cluster, fresh process (s) [< 2]": round(figures["seconds"], 2),
        f"probe of a {NODES}-node cluster, peak RSS (MB) [< 150]": round(figures["rss_mb"], 1),
    }


def event_to_start_request() -> dict[str, float]:
    import boto3
    from moto import mock_aws

    from ferry.adapters.registry import Registry
    from ferry.domain.clusters import ClusterKind, ClusterRegistration
    from tests.conftest import FakeLambdaContext, create_ferry_table, load_event, load_handler, sqs_event

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", FERRY_MODE="act"
    )
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        os.environ["FERRY_TABLE"] = create_ferry_table(dynamodb, "ferry-latency")
        os.environ["FERRY_TOPIC_ARN"] = boto3.client("sns").create_topic(Name="ferry")["TopicArn"]
        role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
        machine = boto3.client("stepfunctions").create_state_machine(
            name="EvacuateZone", definition=definition, roleArn=role
        )
        os.environ["FERRY_SM_EVACUATE_ZONE"] = machine["stateMachineArn"]
        Registry(dynamodb, os.environ["FERRY_TABLE"]).register(
            ClusterRegistration(
                name="east-1",
                kind=ClusterKind.SELF_MANAGED,
                endpoint="https://east-1.example.com",
                region="us-east-1",
                zones=ZONES,
                credentials_secret="ferry/east-1",
            )
        )
        module = load_handler("ingest")
        module.ingestor.cache_clear()
        requested: list[float] = []
        sfn = module.ingestor()._verdicts._executor()._starter._sfn
        sfn.meta.events.register("before-call.sfn.StartExecution", lambda **_: requested.append(time.perf_counter()))
        event = sqs_event(load_event("health-ec2-issue-open"))
        began = time.perf_counter()
        with open(os.devnull, "w") as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                module.handler(event, FakeLambdaContext())
            finally:
                sys.stdout = stdout
    for name in ("FERRY_MODE", "FERRY_SM_EVACUATE_ZONE"):
        os.environ.pop(name, None)
    if not requested:
        raise RuntimeError("no StartExecution request was made")
    return {"authoritative event -> EvacuateZone start request, warm clients (s) [< 1]": round(requested[0] - began, 3)}


def outage_to_impaired() -> dict[str, float]:
    from sandbox.gameday import moments
    from sandbox.scenario import ZoneOutage, load
    from sandbox.world import PROBE_EVERY, World

    outage_at = 60.0
    scenario = dataclasses.replace(
        load("az-outage"),
        steps=(ZoneOutage(at=outage_at, zone=ZONES[0], send_events=False, health_event_after=None),),
        duration=outage_at + 5 * PROBE_EVERY,
        expect=(),
    )
    with World(scenario) as world:
        for at in moments(world, scenario.duration, 15.0):
            world.advance_to(at)
            world.run_due()
            world.deliver_events()
            state: dict[str, Any] | None = world.zone_state(ZONES[0])
            if state and state["status"] == "impaired":
                return {
                    "zone outage -> IMPAIRED by probes alone (probe periods) [<= 3]": (at - outage_at) / PROBE_EVERY
                }
    raise RuntimeError("the zone was not impaired within five probe periods")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run() -> dict[str, float]:
    return {**probe_large_cluster(), **event_to_start_request(), **outage_to_impaired()}
