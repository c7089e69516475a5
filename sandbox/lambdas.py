"""Running Ferry's real Lambda handlers in-process, as the Lambda runtime would run them.

The game day and the end-to-end tests must exercise the code that ships, not a copy: each handler is loaded
from `functions/<name>/handler.py` by path under a unique module name, with the layer on `sys.path` (Lambda's
`/opt/python`), the function's folder on it (Lambda's `/var/task`), the environment the CDK stack gives it
(cdk/functions.py) plus what Lambda itself sets, and a Lambda context. Its stdout (Powertools' JSON logs and
EMF metrics, CloudWatch's share in AWS) is captured per invocation. Nothing in the handler can tell it runs
here: the only sandbox-specific setting is `AWS_ENDPOINT_URL`, the standard way to point an SDK elsewhere.

The function's clock is the world's clock. In AWS, the events, the nodes' leases and Lambda all live on one
time; here the world runs on a fast-forwarded `SandboxClock`. Each handler declares the clock its services run
on (`clock`, the system's by default), and this runtime sets it to the world's clock when it loads the handler,
before the first invocation: Ferry's code is passed the time, nothing in it is patched. Without it the detector
would see the sandbox's events as coming from the future.

Importing this module puts the Ferry layer on `sys.path`, so entry points (`python -m sandbox.gameday`) import
it before anything that imports `ferry`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
LAYER_DIRS = (ROOT / "layers" / "ferry" / "python",)
NAME_PREFIX = "ferry"  # function names are ferry-<folder> (cdk/constants.py)
REGION = "us-east-1"


def put_layers_on_path() -> None:
    """Make Ferry's layer importable, as Lambda does with /opt/python (idempotent)."""
    for layer in reversed(LAYER_DIRS):
        if str(layer) not in sys.path:
            sys.path.insert(0, str(layer))


put_layers_on_path()


def available_functions() -> list[str]:
    """The functions that exist in this tree (a folder with a handler.py)."""
    return sorted(p.parent.name for p in FUNCTIONS_DIR.glob("*/handler.py"))


@dataclass
class LambdaContext:
    """The context object Lambda passes to a Python handler (the attributes Powertools reads)."""

    function_name: str
    aws_request_id: str
    account_id: str
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 30.0
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"sandbox/[{self.function_version}]{self.aws_request_id[:8]}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation: the event, what the handler returned or raised, and what it printed."""

    function: str
    request_id: str
    event: Mapping[str, Any]
    result: Any
    error: BaseException | None
    output: str
    duration_s: float
    cold_start: bool

    @property
    def ok(self) -> bool:
        return self.error is None

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON lines of the output: Powertools log records and EMF metric blobs."""
        records = []
        for line in self.output.splitlines():
            with contextlib.suppress(ValueError):
                parsed = json.loads(line)
                if isinstance(parsed, dict):
                    records.append(parsed)
        return records

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The EMF metrics it emitted, summed per (name, dimensions): what CloudWatch would chart."""
        totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for record in self.log_records():
            directives = record.get("_aws", {}).get("CloudWatchMetrics", [])
            for directive in directives:
                dims = tuple(sorted((d, str(record.get(d, ""))) for group in directive["Dimensions"] for d in group))
                dims = tuple(d for d in dims if d[0] != "service")
                for metric in directive["Metrics"]:
                    values = record.get(metric["Name"], 0)
                    value = sum(values) if isinstance(values, list) else values
                    key = (metric["Name"], dims)
                    totals[key] = totals.get(key, 0.0) + float(value)
        return totals


class _OutputRouter(io.TextIOBase):
    """Stands in for sys.stdout/stderr while a handler is loaded or runs: writes go to the invocation's log.

    Powertools' Logger keeps the stream it was created with, so the router (not a per-call buffer) is what it
    must see. One invocation runs at a time, as in one Lambda execution environment, so every thread writes
    to the current invocation (the probe's worker threads log too); outside an invocation writes fall
    through to the real stdout.
    """

    def __init__(self, fallback: TextIO) -> None:
        self._fallback = fallback
        self._buffer: io.StringIO | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def capture(self) -> Iterator[io.StringIO]:
        buffer = io.StringIO()
        with self._lock:
            previous, self._buffer = self._buffer, buffer
        try:
            yield buffer
        finally:
            with self._lock:
                self._buffer = previous

    def write(self, text: str) -> int:
        with self._lock:
            return (self._buffer or self._fallback).write(text)

    def flush(self) -> None:
        with self._lock:
            (self._buffer or self._fallback).flush()


_router = _OutputRouter(sys.__stdout__ or sys.stdout)


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """Lambda gives each function its own environment; here it is overlaid on the process's for the call."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _runtime(env: Mapping[str, str], task_root: Path) -> Iterator[io.StringIO]:
    added = str(task_root) not in sys.path
    if added:
        sys.path.insert(0, str(task_root))
    try:
        with (
            _environment(env),
            _router.capture() as output,
            contextlib.redirect_stdout(_router),
            contextlib.redirect_stderr(_router),
        ):
            yield output
    finally:
        if added:
            sys.path.remove(str(task_root))


Clock = Callable[[], datetime]


def lambda_environment(
    function: str, *, endpoint_url: str, table: str, topic_arn: str, mode: str = "observe", log_level: str = "INFO"
) -> dict[str, str]:
    """What a Ferry function's environment holds in AWS: the stack's variables and Lambda's own."""
    name = f"{NAME_PREFIX}-{function}"
    return {
        # set by the CDK stack (cdk/functions.py)
        "POWERTOOLS_SERVICE_NAME": NAME_PREFIX,
        "POWERTOOLS_METRICS_NAMESPACE": "Ferry",
        "LOG_LEVEL": log_level,
        "FERRY_TABLE": table,
        "FERRY_TOPIC_ARN": topic_arn,
        "FERRY_MODE": mode,
        # set by Lambda
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(FUNCTIONS_DIR / function),
        "_HANDLER": "handler.handler",
        "AWS_ACCESS_KEY_ID": "testing",  # Lambda's are the role's temporary credentials
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        # the sandbox's only difference: where the SDK sends requests, by the SDK's standard setting
        "AWS_ENDPOINT_URL": endpoint_url,
        # no X-Ray daemon listens here; Lambda's active tracing has no local equivalent
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


class LambdaFunction:
    """One function's execution environment: loaded on first invoke (the cold start), then reused."""

    def __init__(self, name: str, env: Mapping[str, str], account_id: str, clock: Clock | None = None) -> None:
        self.name = name
        self.account_id = account_id
        self.clock = clock
        self.env = dict(env)
        self.task_root = FUNCTIONS_DIR / name
        self._module: ModuleType | None = None
        self.invocations: list[Invocation] = []

    def _load(self) -> ModuleType:
        path = self.task_root / "handler.py"
        if not path.exists():
            raise FileNotFoundError(f"no handler for function {self.name!r}: {path} does not exist")
        spec = importlib.util.spec_from_file_location(f"ferry_sandbox_{self.name}_{uuid.uuid4().hex[:8]}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if self.clock is not None:
            if not callable(getattr(module, "clock", None)):
                raise TypeError(f"{path} declares no `clock`: its services cannot be given the world's time")
            module.clock = self.clock  # the handler's declared clock (see its module), before the first call
        return module

    def invoke(self, event: Mapping[str, Any]) -> Invocation:
        """Call the handler like Lambda does; an exception is recorded, not raised (Lambda reports it)."""
        request_id = str(uuid.uuid4())
        cold = self._module is None
        result: Any = None
        error: BaseException | None = None
        started = time.perf_counter()
        with _runtime(self.env, self.task_root) as output:
            try:
                if self._module is None:
                    self._module = self._load()
                context = LambdaContext(self.env["AWS_LAMBDA_FUNCTION_NAME"], request_id, self.account_id)
                result = self._module.handler(json.loads(json.dumps(event)), context)
            except Exception as exc:  # the runtime turns any exception into a failed invocation
                error = exc
        invocation = Invocation(
            function=self.name,
            request_id=request_id,
            event=event,
            result=result,
            error=error,
            output=output.getvalue(),
            duration_s=time.perf_counter() - started,
            cold_start=cold,
        )
        self.invocations.append(invocation)
        return invocation


class LambdaRuntime:
    """Ferry's functions as deployed: one `LambdaFunction` per folder, all sharing the stack's settings."""

    def __init__(
        self,
        *,
        account_id: str,
        endpoint_url: str,
        table: str,
        topic_arn: str,
        mode: str = "observe",
        clock: Clock | None = None,
        stack_variables: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        self.account_id = account_id
        self.clock = clock
        self._settings = {"endpoint_url": endpoint_url, "table": table, "topic_arn": topic_arn, "mode": mode}
        # What else the stack gives a function, by folder: the FERRY_SM_* ARNs of the runbooks it may start.
        self._stack_variables = stack_variables or (lambda _: {})
        self._functions: dict[str, LambdaFunction] = {}

    def function(self, name: str) -> LambdaFunction:
        if name not in self._functions:
            env = {**lambda_environment(name, **self._settings), **self._stack_variables(name)}
            self._functions[name] = LambdaFunction(name, env, self.account_id, self.clock)
        return self._functions[name]

    def invoke(self, name: str, event: Mapping[str, Any]) -> Invocation:
        return self.function(name).invoke(event)

    def exists(self, name: str) -> bool:
        return (FUNCTIONS_DIR / name / "handler.py").exists()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One batch handed to a function by the SQS event source mapping, and what became of each message."""

    invocation: Invocation
    message_ids: tuple[str, ...]
    failed_ids: tuple[str, ...]  # reported in batchItemFailures, or the whole batch if the handler raised
    bodies: Mapping[str, str] = field(hash=False)
    receipts: Mapping[str, str] = field(hash=False, default_factory=dict)  # message id -> receipt handle

    @property
    def succeeded_ids(self) -> tuple[str, ...]:
        return tuple(m for m in self.message_ids if m not in self.failed_ids)


class SqsEventSource:
    """Lambda's SQS event source mapping with ReportBatchItemFailures: poll, invoke, delete what succeeded.

    A failed message stays on the queue; SQS makes it visible again after the visibility timeout and moves it
    to the dead-letter queue after maxReceiveCount receives, as in AWS.
    """

    def __init__(
        self, sqs: Any, queue_url: str, queue_arn: str, function: LambdaFunction, batch_size: int = 10
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._function = function
        self._batch_size = batch_size

    def drain(self) -> list[Delivery]:
        """Deliver every message that is visible now, batch by batch."""
        deliveries = []
        while messages := self._receive():
            deliveries.append(self._deliver(messages))
        return deliveries

    def _receive(self) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _deliver(self, messages: list[dict[str, Any]]) -> Delivery:
        invocation = self._function.invoke({"Records": [self._record(m) for m in messages]})
        ids = tuple(m["MessageId"] for m in messages)
        if invocation.ok and isinstance(invocation.result, dict):
            failed = tuple(f["itemIdentifier"] for f in invocation.result.get("batchItemFailures", []))
        else:
            failed = ids  # an invocation error or an unreadable response fails the whole batch
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done)],
            )
        return Delivery(
            invocation,
            ids,
            failed,
            {m["MessageId"]: m["Body"] for m in messages},
            {m["MessageId"]: m["ReceiptHandle"] for m in messages},
        )

    def _record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """The record shape Lambda gives the handler (camelCase, attributes as strings)."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: {k[0].lower() + k[1:]: v for k, v in value.items()}
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self._queue_arn,
            "awsRegion": REGION,
        }
