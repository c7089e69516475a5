"""Shared test fixtures: events from events/, a fake Lambda context, no network but loopback, and `wait_for`."""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    """Load `events/<name>` (a path relative to events/, with or without .json)."""
    path = EVENTS / (name if name.endswith(".json") else f"{name}.json")
    return json.loads(path.read_text())


@dataclass
class FakeLambdaContext:
    function_name: str = "ferry-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ferry-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def pytest_report_header(config: pytest.Config) -> str:
    from sandbox.realkube import ASSETS_VARIABLE, HOW_TO_GET_THEM

    if os.environ.get(ASSETS_VARIABLE):
        return f"real Kubernetes tier: on ({ASSETS_VARIABLE}={os.environ[ASSETS_VARIABLE]})"
    return f"real Kubernetes tier: not run (its tests are deselected); to run it, {HOW_TO_GET_THEM}"


@pytest.fixture(scope="session")
def real_control_plane() -> Iterator[Any]:
    """A real control plane for the session (per xdist worker), from FERRY_KUBE_ASSETS; skipped without it."""
    from sandbox.realkube import HOW_TO_GET_THEM, RealControlPlane, assets_dir

    assets = assets_dir()
    if assets is None:
        pytest.skip(f"real Kubernetes tier: to run it, {HOW_TO_GET_THEM}")
    control_plane = RealControlPlane(assets)
    control_plane.start()
    yield control_plane
    control_plane.stop()


@pytest.fixture(scope="session")
def real_cluster(real_control_plane: Any) -> Iterator[Any]:
    """The real control plane with stand-in kubelets and EBS driver, 3 zones x 2 nodes named as the double's
    (`<zone>-node-<n>`); tests share it, each in its own namespace, and leave its nodes alive."""
    from sandbox.realnodes import RealCluster

    shared = RealCluster(real_control_plane)
    shared.start()
    for zone in ("us-east-1a", "us-east-1b", "us-east-1c"):
        for index in range(2):
            shared.add_node(f"{zone}-node-{index}", zone, instance_id=f"i-{zone[-1]}{index:016d}")
    shared.settle()
    yield shared
    shared.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Without the binaries the real tier is not run at all: the report header says so, in one line, with how
    # to get them, and the summary counts its tests as deselected.
    from sandbox.realkube import ASSETS_VARIABLE

    if not os.environ.get(ASSETS_VARIABLE):
        real = [item for item in items if item.get_closest_marker("real_kube")]
        if real:
            config.hook.pytest_deselected(items=real)
            items[:] = [item for item in items if not item.get_closest_marker("real_kube")]
    # Nothing in the suite may reach a network beyond this machine: the sandbox and moto listen on loopback.
    for item in items:
        item.add_marker(pytest.mark.allow_hosts(["127.0.0.1", "::1", "localhost"]))


def wait_for[T](condition: Callable[[], T], *, timeout: float = 10.0, what: str = "") -> T:
    """Poll `condition` until it returns something true and return that; fail the test after `timeout` s.

    For what other threads do in their own time (the sandbox's controllers, moto's interpreter, a world's
    executions): a test waits on the condition it needs, never on a sleep that is long enough only on a quiet
    machine. The deadline is generous on purpose: it only decides how long a broken test takes to fail.
    """
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"still not true after {timeout} s: {what or getattr(condition, '__name__', '')}")
        time.sleep(0.01)
    return result


TABLE_NAME = "ferry-test"


def create_ferry_table(dynamodb: Any, name: str = TABLE_NAME) -> str:
    """The table as the CDK stack defines it (docs/CONVENTIONS.md): pk/sk strings, TTL on expires_at."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    return name


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto in-process for every AWS service, with dummy credentials and no real endpoint reachable."""
    import boto3
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        # moto clears boto3's default session on entry, so every `boto3.client` would make a new session and
        # load its service model from disk again (a third of the handler tests' CPU). One session per test
        # process instead, made after moto is imported (its stub is in every session's handlers) and only
        # ever holding the dummy credentials above; moto puts the default back when the block ends.
        boto3.DEFAULT_SESSION = _mocked_session()
        yield


@functools.cache
def _mocked_session() -> Any:
    import boto3

    return boto3.session.Session()


@pytest.fixture
def ferry_table(aws: Any) -> str:
    import boto3

    return create_ferry_table(boto3.client("dynamodb", region_name="us-east-1"))


def sqs_event(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    """An SQS event as Lambda receives it from the ingestion queue: each body an EventBridge event."""
    records = []
    for index, body in enumerate(bodies):
        text = body if isinstance(body, str) else json.dumps(body)
        records.append(
            {
                "messageId": f"00000000-0000-4000-8000-{index:012d}",
                "receiptHandle": f"handle-{index}",
                "body": text,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1764136800000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1764136800001",
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ferry-ingest",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


def load_handler(function: str) -> Any:
    """Import `functions/<function>/handler.py` as Lambda would, under a unique module name."""
    import importlib.util

    path = ROOT / "functions" / function / "handler.py"
    spec = importlib.util.spec_from_file_location(f"ferry_function_{function}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
