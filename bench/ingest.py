"""Ingest benchmarks: cold start against its floor, warm handler time, and Health events placed.

Cold start is what Lambda pays before the first record: importing the handler module and building the
Ingestor (settings, clients). Its floor is what no ingest function can avoid: boto3 with one DynamoDB client
and the Powertools batch and idempotency modules, in a fresh process; both are measured in the same run,
interleaved, so the ratio holds whatever the machine's load (target: within 10% of the floor). Warm time
is the handler's own time for a 10-record batch, with the time spent inside DynamoDB calls (moto
in-process here, the network in AWS) measured and subtracted; so is the time to translate and place 10
AWS Health issues of 50 affected instances each (the probe's placements, one BatchGetItem per event).
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_COLD_START = """
import os, sys, time
t0 = time.perf_counter()
sys.path[:0] = [{layer!r}]
import importlib.util
spec = importlib.util.spec_from_file_location("handler", {handler!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.ingestor()
elapsed = time.perf_counter() - t0
print(elapsed * 1000, "kubernetes" in sys.modules)
"""


_FLOOR = """
import sys, time
t0 = time.perf_counter()
import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
boto3.client("dynamodb")
elapsed = time.perf_counter() - t0
print(elapsed * 1000, "kubernetes" in sys.modules)
"""


def cold_start_ms(runs: int = 7) -> tuple[float, bool, float]:
    """Median cold start, whether it imported kubernetes, and the floor's median, runs interleaved."""
    # Lambda runs the layer's precompiled bytecode (cdk/bundling.py writes it): compile a copy of Ferry's
    # package the same way, or every run would compile it from source (this machine sets
    # PYTHONDONTWRITEBYTECODE). A copy, because unchecked-hash bytecode left in the work tree would hide
    # later edits of the source.
    layer = Path(tempfile.mkdtemp(prefix="ferry-layer-")) / "python"
    shutil.copytree(ROOT / "layers/ferry/python", layer)
    compileall.compile_dir(layer, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    code = _COLD_START.format(layer=str(layer), handler=str(ROOT / "functions/ingest/handler.py"))
    env = {
        **os.environ,
        "FERRY_TABLE": "bench",
        "FERRY_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:ferry",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_LAMBDA_FUNCTION_NAME": "ferry-ingest",
    }
    figures, floors, kube = [], [], False
    for _ in range(runs):
        for script, into in ((code, figures), (_FLOOR, floors)):
            out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            ms, imported = out.stdout.split()
            into.append(float(ms))
            kube = kube or (imported == "True" and script is code)
    return statistics.median(figures), kube, statistics.median(floors)


def warm_batch_ms(batches: int = 30) -> float:
    import boto3
    from moto import mock_aws

    sys.path[:0] = [str(ROOT / "layers/ferry/python"), str(ROOT)]
    from tests.conftest import FakeLambdaContext, create_ferry_table, load_event, load_handler, sqs_event

    os.environ.update(
        FERRY_TABLE="ferry-bench",
        FERRY_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:ferry",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        POWERTOOLS_METRICS_NAMESPACE="Ferry",
    )
    with mock_aws():
        create_ferry_table(boto3.client("dynamodb"), "ferry-bench")
        module = load_handler("ingest")
        module.ingestor.cache_clear()
        # The sample Health issue names its zone through its one instance, as AWS writes it: the probe has
        # placed that instance, as it has every node's (no EC2 call in the measured path).
        from ferry.adapters.placements import Placement

        module.ingestor()._placements.remember(
            [Placement("i-0b5e3c1d2a4f60718", "us-east-1b", "prod", "node-1")], now=datetime.now(UTC)
        )
        dynamo_time = [0.0]
        dynamodb = module.ingestor()._log._dynamodb
        started: dict[str, float] = {}

        def before(**kwargs: Any) -> None:
            started["t"] = time.perf_counter()

        def after(**kwargs: Any) -> None:
            dynamo_time[0] += time.perf_counter() - started["t"]

        dynamodb.meta.events.register("before-call.dynamodb", before)
        dynamodb.meta.events.register("after-call.dynamodb", after)
        template = load_event("health-ec2-issue-open")
        samples = []
        # The log and EMF lines are part of the handler's cost, but would swamp the report: write them to
        # /dev/null rather than turning them off.
        devnull = open(os.devnull, "w")  # noqa: SIM115
        real_stdout = sys.stdout
        from ferry.observability import logger

        logs = logger.registered_handler.setStream(devnull)
        for batch in range(batches):
            bodies = []
            for index in range(10):
                event = json.loads(json.dumps(template))
                event["id"] = f"bench-{batch}-{index}"
                bodies.append(event)
            event = sqs_event(*bodies)
            dynamo_time[0] = 0.0
            sys.stdout = devnull
            try:
                t0 = time.perf_counter()
                module.handler(event, FakeLambdaContext())
                elapsed = time.perf_counter() - t0
            finally:
                sys.stdout = real_stdout
            samples.append((elapsed - dynamo_time[0]) * 1000)
        logger.registered_handler.setStream(logs)  # the logger outlives this bench: give its stream back
        devnull.close()
    return statistics.median(samples[3:])


def health_placed_ms(events: int = 10, instances: int = 50, rounds: int = 30) -> tuple[float, float]:
    """Warm time to translate and place `events` Health issues of `instances` affected instances each.

    Through the Ingestor (placements read from DynamoDB, one BatchGetItem per event, its time subtracted),
    and the pure part alone (translate, then finish with a placement snapshot): medians, in ms per batch.
    """
    import boto3
    from moto import mock_aws

    sys.path[:0] = [str(ROOT / "layers/ferry/python"), str(ROOT)]
    from ferry.adapters.placements import Placement
    from ferry.domain.translators import Unplaced, translate
    from tests.conftest import create_ferry_table, load_event, load_handler

    os.environ.update(
        FERRY_TABLE="ferry-bench-health",
        FERRY_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:ferry",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
    )
    template = load_event("health-ec2-issue-open")
    batch = []
    for index in range(events):
        event = json.loads(json.dumps(template))
        ids = [f"i-{index:03d}{n:014x}" for n in range(instances)]
        event["id"] = f"bench-health-{index}"
        event["resources"] = ids
        event["detail"]["affectedEntities"] = [{"entityValue": i, "status": "IMPAIRED"} for i in ids]
        batch.append(event)
    every = [i for event in batch for i in event["resources"]]
    with mock_aws():
        create_ferry_table(boto3.client("dynamodb"), "ferry-bench-health")
        module = load_handler("ingest")
        module.ingestor.cache_clear()
        ingestor = module.ingestor()
        ingestor._placements.remember(
            [Placement(i, "us-east-1b", "prod", f"node-{i}") for i in every], now=datetime.now(UTC)
        )
        dynamo_time = [0.0]
        started: dict[str, float] = {}
        dynamodb = ingestor._placements._dynamodb
        dynamodb.meta.events.register("before-call.dynamodb", lambda **_: started.update(t=time.perf_counter()))
        dynamodb.meta.events.register(
            "after-call.dynamodb",
            lambda **_: dynamo_time.__setitem__(0, dynamo_time[0] + time.perf_counter() - started["t"]),
        )
        through, pure = [], []
        snapshot = dict.fromkeys(every, "us-east-1b")
        for _ in range(rounds):
            dynamo_time[0] = 0.0
            t0 = time.perf_counter()
            placed = [ingestor.translate(event) for event in batch]
            through.append((time.perf_counter() - t0 - dynamo_time[0]) * 1000)
            assert all(isinstance(p, tuple) and p[0].zone == "us-east-1b" for p in placed), placed
            t0 = time.perf_counter()
            for event in batch:
                result = translate(event)
                assert isinstance(result, Unplaced)
                result.place(snapshot)
            pure.append((time.perf_counter() - t0) * 1000)
    return statistics.median(through[3:]), statistics.median(pure[3:])


def run() -> dict[str, float]:
    cold, kube, floor = cold_start_ms()
    placed, pure = health_placed_ms()
    return {
        "ingest cold start, median of 7 (ms) [< 300]": round(cold, 1),
        "floor: boto3 + DynamoDB client + batch + idempotency (ms)": round(floor, 1),
        "ingest cold start / floor, same run [<= 1.10]": round(cold / floor, 3),
        "ingest imports kubernetes (1 = yes) [0]": float(kube),
        "ingest warm batch of 10, excl. DynamoDB (ms) [< 20]": round(warm_batch_ms(), 2),
        "10 Health issues x 50 instances translated+placed, excl. DynamoDB (ms) [< 50]": round(placed, 2),
        "  of which pure translation with a placement snapshot (ms)": round(pure, 2),
    }
