"""Ingest benchmarks: cold start in a fresh process, and warm handler time for a batch of 10 records.

Cold start is what Lambda pays before the first record: importing the handler module and building the
Ingestor (settings, clients). Warm time is the handler's own time for a 10-record batch, with the time spent
inside DynamoDB calls (moto in-process here, the network in AWS) measured and subtracted.
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


def cold_start_ms(runs: int = 7) -> tuple[float, bool]:
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
    figures, kube = [], False
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        ms, imported = out.stdout.split()
        figures.append(float(ms))
        kube = kube or imported == "True"
    return statistics.median(figures), kube


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


def run() -> dict[str, float]:
    cold, kube = cold_start_ms()
    return {
        "ingest cold start, median of 7 (ms) [< 300]": round(cold, 1),
        "ingest imports kubernetes (1 = yes) [0]": float(kube),
        "ingest warm batch of 10, excl. DynamoDB (ms) [< 20]": round(warm_batch_ms(), 2),
    }
