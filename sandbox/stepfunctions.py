"""Step Functions in the sandbox: Ferry's synthesized runbooks, executed by moto, their Tasks run by Ferry's handlers.

A game day in act mode must run what ships: the state machines exactly as `cdk/runbooks.py` synthesizes
them, started by the detector's real hand-off, calling the real `functions/runbook-*` handlers. Three parts:

- **The template.** The CDK app is synthesized offline in a subprocess (bundling skipped: only the template
  is needed) and cached under `.build/sandbox/`, keyed by a hash of `cdk/`, `cdk.json` and the names of the
  function folders, so only a change to the infrastructure pays the synth again (~15 s).
- **The machines.** Every `AWS::StepFunctions::StateMachine` of the template is created in the world's moto
  account with its definition as synthesized, except that each Task's Lambda ARN (a `Fn::GetAtt` token in
  the template) becomes a sandbox ARN of the same function name. Each function gets the `FERRY_SM_*`
  variables the template gives it (the detector's hand-off), pointing at those machines.
- **The engine.** moto's Step Functions interpreter (switched on through moto's `/moto-api/config`, the
  server-mode way to set `stepfunctions.execute_state_machine`), hooked in the places the
  infrastructure tests hook it (tests/infrastructure/test_cdk_runbook_executions.py): a Task's Lambda call
  (`lambda_eval_utils.execute_lambda_function_integration`), a retrier's wait (`retrier_decl.time`), and a
  Wait state's (`WaitFunction._wait_interval`).
  Neither runs anything on the interpreter's threads: a Task waits until the world's thread runs the
  function's handler through `sandbox.lambdas` (the function's environment, the sandbox clock, one
  invocation at a time like every other one), and a retry's or a Wait state's wait lasts until *sandbox* time
  has moved past its end. A third for supervised mode: a Task's wait for its task token (`.waitForTaskToken`,
  `StateTaskServiceCallback._eval_wait_for_task_token`) lasts until the token is sent (SendTaskSuccess or
  SendTaskFailure, which moto's endpoint hands over through `CallbackEndpoint.notify`, hooked to release the
  wait at once) or until *sandbox* time passes its `TimeoutSeconds` (`States.Timeout`, as AWS ends it);
  moto's SendTaskFailure handler, which drops the `cause`, passes it on. The
  world's thread calls `run_tasks()` at every stop of the drill, which returns once every running execution
  waits in one of those places; between stops it moves time. So StepPending retries
  let the Kubernetes controllers catch up, and a run of minutes takes seconds.

Ferry's code cannot tell: its starter calls `StartExecution` on the endpoint it is given, and its handlers
receive the payloads the state machine builds.

Drills and benchmarks run the same machines without an act-mode world (`Runbooks`, at the end): they start
executions themselves, say how a Task's function runs (the handlers, or the step services in-process with
faults injected) and let the executions' own retry waits move the world's time. There is no other emulation
of the state machines: what runs is what CDK synthesizes.

moto's state, its config and the hooks are process-wide; several worlds may run at once, each hook call going
to the world whose account the execution runs in.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import heapq
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from sandbox.aws import REGION, AwsSandbox
from sandbox.lambdas import FUNCTIONS_DIR, NAME_PREFIX, ROOT, Invocation

BUILD_DIR = ROOT / ".build" / "sandbox"
CDK_DIR = ROOT / "cdk"
CDK_JSON = ROOT / "cdk.json"
STACK_ID = "Ferry"  # cdk/constants.py STACK_ID: the template is <STACK_ID>.template.json
# The one module of the Ferry package the app imports (cdk/__init__.py): its tags and retry rules are in the template.
CONVENTIONS = ROOT / "layers" / "ferry" / "python" / "ferry" / "domain" / "conventions.py"
SYNTH_TIMEOUT = 300.0
QUIET_SECONDS = 0.05  # how long the interpreter's threads must stay still before the world moves time on
POLL_SECONDS = 0.01  # how often the world looks again for an execution that is between two states
WAKE_WINDOW = 1.0  # sandbox seconds: `Runbooks` lets retry waits that end this close to each other end together
MAX_COLLECT_SECONDS = 10.0  # an execution that never waits in a hook cannot hold the world longer per round
STATE_MACHINE = "AWS::StepFunctions::StateMachine"
FUNCTION = "AWS::Lambda::Function"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# The template's pseudo parameters a definition may hold (`arn:${AWS::Partition}:states:::lambda:invoke...`).
PSEUDO_PARAMETERS = {"AWS::Partition": "aws"}


# --- the synthesized template -------------------------------------------------------------------------------


def template_key() -> str:
    """What the runbooks' template depends on: every file of `cdk/`, `cdk.json`, the conventions module of the
    Ferry package (cdk/ imports it), the function folders' names."""
    digest = hashlib.sha256()
    for path in sorted(p for p in CDK_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(CDK_JSON.read_bytes())
    if CONVENTIONS.exists():
        digest.update(CONVENTIONS.read_bytes())
    digest.update("\0".join(sorted(p.name for p in FUNCTIONS_DIR.iterdir() if p.is_dir())).encode())
    return digest.hexdigest()[:16]


def template_path(build_dir: Path = BUILD_DIR) -> Path:
    """Where the template of the current `cdk/` is cached (it may not be there yet)."""
    return build_dir / f"template-{template_key()}.json"


def synthesized_template(build_dir: Path = BUILD_DIR) -> dict[str, Any]:
    """The stack's CloudFormation template, from the cache or synthesized now (once, even across processes)."""
    path = template_path(build_dir)
    if not path.exists():
        build_dir.mkdir(parents=True, exist_ok=True)
        with _exclusive(build_dir / "synth.lock"):  # two test workers starting at once synthesize once
            if not path.exists():
                _synthesize_into(path)
    return dict(json.loads(path.read_text()))


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _synthesize_into(path: Path) -> None:
    """Run the synth in a child process: jsii's Node.js and the construct tree stay out of the drill's process."""
    with tempfile.TemporaryDirectory(prefix="ferry-synth-") as outdir:
        done = subprocess.run(
            [sys.executable, "-m", "sandbox.stepfunctions", "synth", outdir],
            cwd=ROOT,
            env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
            capture_output=True,
            text=True,
            timeout=SYNTH_TIMEOUT,
            check=False,
        )
        template = Path(outdir) / f"{STACK_ID}.template.json"
        if done.returncode != 0 or not template.exists():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
            raise RuntimeError(f"synthesizing the CDK app for the sandbox failed (exit {done.returncode}):\n{tail}")
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(template.read_text())
        partial.replace(path)  # atomic: a reader never sees half a template
    for stale in path.parent.glob("template-*.json"):  # templates of earlier states of cdk/
        if stale != path:
            stale.unlink(missing_ok=True)


def synth(outdir: str) -> None:
    """In the child process: the app with cdk.json's context, bundling skipped (the template is all we need)."""
    from cdk.app import build_app, project_context

    build_app(outdir=outdir, context={**project_context(), "aws:cdk:bundling-stacks": []}).synth()


# --- what the template says about the runbooks --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StackRunbooks:
    """The runbooks as the template defines them: each state machine's definition, in parts (text, and
    `Fn::GetAtt` tokens naming a function), the functions' names, and which `FERRY_SM_*` variables each
    function gets (a `Ref` to a state machine)."""

    definitions: Mapping[str, tuple[str | Mapping[str, Any], ...]]  # state machine name -> Fn::Join parts
    functions: Mapping[str, str]  # logical id -> function name (ferry-<folder>)
    handoffs: Mapping[str, Mapping[str, str]]  # function name -> {variable: state machine name}

    @classmethod
    def from_template(cls, template: Mapping[str, Any]) -> StackRunbooks:
        resources: Mapping[str, Any] = template["Resources"]
        machines = {key: r["Properties"] for key, r in resources.items() if r["Type"] == STATE_MACHINE}
        functions = {key: r["Properties"] for key, r in resources.items() if r["Type"] == FUNCTION}
        names = {key: str(p["StateMachineName"]) for key, p in machines.items()}
        handoffs = {
            str(p["FunctionName"]): {
                variable: names[value["Ref"]]
                for variable, value in (p.get("Environment") or {}).get("Variables", {}).items()
                if isinstance(value, dict) and value.get("Ref") in names
            }
            for p in functions.values()
        }
        definitions = {names[key]: _definition_parts(names[key], p["DefinitionString"]) for key, p in machines.items()}
        return cls(
            definitions=definitions,
            functions={key: str(p["FunctionName"]) for key, p in functions.items()},
            handoffs={name: variables for name, variables in handoffs.items() if variables},
        )

    def definition(self, machine: str, function_arn: Callable[[str], str]) -> str:
        """The definition's text, each Lambda reference replaced by `function_arn(<function name>)`."""
        text = []
        for part in self.definitions[machine]:
            if isinstance(part, str):
                text.append(part)
                continue
            if part.get("Ref") in PSEUDO_PARAMETERS:  # a service integration's ARN (.waitForTaskToken)
                text.append(PSEUDO_PARAMETERS[part["Ref"]])
                continue
            logical_id, attribute = part["Fn::GetAtt"]
            if attribute != "Arn" or logical_id not in self.functions:
                raise ValueError(f"{machine}: a token the sandbox cannot resolve: {part!r}")
            text.append(function_arn(self.functions[logical_id]))
        return "".join(text)


def _task_order(request: _TaskRequest) -> tuple[str, ...]:
    payload = request.payload
    if isinstance(payload.get("state"), dict):  # runbook-shift's payloads: {"step": ..., "state": ...}
        payload = payload["state"]
    subject = payload.get("node") or payload.get("pod") or (payload.get("shift") or {}).get("app") or ""
    return (request.function, str(payload.get("runId", "")), str(payload.get("cluster", "")), str(subject))


def _definition_parts(machine: str, definition: object) -> tuple[str | Mapping[str, Any], ...]:
    if isinstance(definition, str):
        return (definition,)
    if isinstance(definition, dict) and "Fn::Join" in definition and definition["Fn::Join"][0] == "":
        parts = tuple(definition["Fn::Join"][1])
        for part in parts:
            if not isinstance(part, str) and set(part) != {"Fn::GetAtt"} and part.get("Ref") not in PSEUDO_PARAMETERS:
                raise ValueError(f"{machine}: a token the sandbox cannot resolve: {part!r}")
        return parts
    raise ValueError(f"{machine}: DefinitionString is neither text nor a plain Fn::Join: {definition!r}")


def runbook_name(machine: str) -> str:
    """`ferry-EvacuateZone` -> `EvacuateZone` (cdk/constants.py names machines `ferry-<runbook>`)."""
    return machine.removeprefix(f"{NAME_PREFIX}-")


def function_folder(function_arn: str) -> str:
    """`arn:...:function:ferry-runbook-plan` -> `runbook-plan` (functions are named `ferry-<folder>`)."""
    return function_arn.rsplit(":", 1)[-1].removeprefix(f"{NAME_PREFIX}-")


# --- the world's side ----------------------------------------------------------------------------------------


class Host(Protocol):
    """What the engine needs from the world: run a function, let controllers catch up, tell and plan time."""

    def invoke(self, function: str, event: Mapping[str, Any]) -> Invocation: ...

    def settle(self) -> None: ...

    def offset(self) -> float: ...

    def schedule(self, at: float, label: str, action: Callable[[], list[Any]]) -> None: ...


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One Task of a runbook, run by the world: when (sandbox offset), which function, and what came of it."""

    at: float
    function: str
    invocation: Invocation
    ended: float = field(default_factory=time.monotonic)  # wall clock (monotonic) when its invocation returned

    @property
    def run_id(self) -> str:
        return str(self.invocation.event.get("runId", "?"))


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """One execution as `DescribeExecution` tells it; `output` is the run's report once it has ended."""

    runbook: str
    name: str
    status: str
    input: Mapping[str, Any] = field(default_factory=dict)
    output: Mapping[str, Any] | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL


@dataclass
class _TaskRequest:
    """A Task waiting on an interpreter thread for the world's thread to run its function."""

    execution: str
    function: str
    payload: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    invocation: Invocation | None = None


@dataclass
class _Sleeper:
    """A retrier's wait: its thread blocks until the world's clock reaches `wake_at` (a sandbox offset)."""

    execution: str
    wake_at: float
    woken: threading.Event = field(default_factory=threading.Event)


class StepFunctionsSandbox:
    """The runbooks of one world: created from the template, executed by moto, their Tasks run by the world."""

    def __init__(self, aws: AwsSandbox, template: Mapping[str, Any]) -> None:
        self.aws = aws
        self.stack = StackRunbooks.from_template(template)
        self.arns: dict[str, str] = {}  # state machine name (ferry-EvacuateZone) -> ARN
        self.task_runs: list[TaskRun] = []
        self._host: Host | None = None
        self._cond = threading.Condition()
        self._requests: deque[_TaskRequest] = deque()
        self._new_sleepers: list[_Sleeper] = []  # waits not yet on the world's agenda
        self._waiting: list[_Sleeper] = []  # waits on the world's agenda, let go by stop() if the drill ends first
        self._parked: Counter[str] = Counter()  # execution ARN -> its threads waiting in a hook
        self._token_waits: dict[str, _Sleeper] = {}  # task token -> the wait for it (its timeout on the agenda)
        self._activity = 0  # moves whenever an interpreter thread enters or leaves a hook
        self._stopped = False
        self._described: dict[str, ExecutionView] = {}  # by ARN; described again only when it has ended

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> StepFunctionsSandbox:
        """Switch moto's interpreter on (and hook it) and create every state machine of the template."""
        _engine.join(self)
        sfn = self.aws.client("stepfunctions")
        for machine in sorted(self.stack.definitions):
            created = sfn.create_state_machine(
                name=machine,
                definition=self.stack.definition(machine, self.function_arn),
                roleArn=f"arn:aws:iam::{self.aws.account_id}:role/{machine}",
                type="STANDARD",
            )
            self.arns[machine] = created["stateMachineArn"]
        return self

    def attach(self, host: Host) -> None:
        """From now on the world runs the Tasks and owns time (Tasks asked for before wait until then)."""
        self._host = host

    def stop(self) -> None:
        """Let every waiting thread go (their executions fail), then leave moto's interpreter."""
        with self._cond:
            self._stopped = True
            sleepers, self._new_sleepers, self._waiting = self._new_sleepers + self._waiting, [], []
            requests, self._requests = list(self._requests), deque()
        for sleeper in sleepers:
            self._wake(sleeper)
        for request in requests:
            self._release(request.execution, request.done)
        _engine.leave(self)

    # --- what functions and people see --------------------------------------------------------------------------

    def function_arn(self, function_name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{self.aws.account_id}:function:{function_name}"

    def environment(self, folder: str) -> dict[str, str]:
        """The `FERRY_SM_*` variables the template gives function `folder`, with this sandbox's ARNs."""
        variables = self.stack.handoffs.get(f"{NAME_PREFIX}-{folder}", {})
        return {variable: self.arns[machine] for variable, machine in variables.items()}

    def arn(self, runbook: str) -> str:
        return self.arns[f"{NAME_PREFIX}-{runbook}"]

    def executions(self, runbook: str | None = None) -> list[ExecutionView]:
        """Every execution of the runbooks (or of one), oldest first, with its report once it has ended."""
        sfn = self.aws.client("stepfunctions")
        found = []
        for machine, arn in sorted(self.arns.items()):
            if runbook not in (None, runbook_name(machine)):
                continue
            listed = sfn.list_executions(stateMachineArn=arn)["executions"]
            for item in sorted(listed, key=lambda e: e["startDate"]):
                found.append(self._view(sfn, runbook_name(machine), item))
        return found

    def _view(self, sfn: Any, runbook: str, item: Mapping[str, Any]) -> ExecutionView:
        arn = item["executionArn"]
        known = self._described.get(arn)
        if known is not None and (known.ended or item["status"] == known.status):
            return known
        described = sfn.describe_execution(executionArn=arn)
        view = ExecutionView(
            runbook,
            item["name"],
            described["status"],
            json.loads(described.get("input") or "{}"),
            json.loads(described["output"]) if described.get("output") else None,
            described.get("error"),
            described.get("cause"),
        )
        self._described[arn] = view
        return view

    def running(self) -> list[str]:
        """The ARNs of the executions still running."""
        sfn = self.aws.client("stepfunctions")
        return [
            e["executionArn"]
            for arn in self.arns.values()
            for e in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
        ]

    # --- the world's thread: run what the executions wait for ---------------------------------------------------

    def run_tasks(self) -> list[TaskRun]:
        """Run every Task the executions ask for now, until they are all waiting on sandbox time or done.

        Requests that arrive together (a Map's items) run in a stable order, so a drill reads the same twice.
        """
        ran: list[TaskRun] = []
        while True:
            batch = self._collect()
            for request in sorted(batch, key=_task_order):
                ran.append(self._serve(request))
            released = self._plan_wakeups()
            if not batch and not released:
                return ran

    def _collect(self) -> list[_TaskRequest]:
        """Wait until every running execution has a thread waiting in a hook (a Task, or a wait) and
        the interpreter's threads have been still for QUIET_SECONDS (a Map's other items); take the Tasks.

        An execution between two states holds no hook, so the world waits for it rather than move time on
        under it; MAX_COLLECT_SECONDS bounds that, should an execution ever wait somewhere else.
        """
        give_up = time.monotonic() + MAX_COLLECT_SECONDS
        while True:
            running = self.running()
            with self._cond:
                if not running and not self._requests and not self._new_sleepers:
                    return []
                busy = [arn for arn in running if not self._parked[arn]]
                if not busy or time.monotonic() >= give_up:
                    self._wait_until_still(give_up)
                    batch, self._requests = list(self._requests), deque()
                    return batch
                self._cond.wait(POLL_SECONDS)

    def _wait_until_still(self, give_up: float) -> None:
        """(Under the lock.) Return once no hook was entered or left for QUIET_SECONDS, or at `give_up`."""
        seen, still_until = self._activity, time.monotonic() + QUIET_SECONDS
        while (now := time.monotonic()) < min(still_until, give_up + QUIET_SECONDS):
            self._cond.wait(still_until - now)
            if self._activity != seen:
                seen, still_until = self._activity, time.monotonic() + QUIET_SECONDS

    def _serve(self, request: _TaskRequest) -> TaskRun:
        host = self._require_host()
        invocation = host.invoke(request.function, request.payload)
        host.settle()  # what the step wrote reaches the controllers before the state machine goes on
        request.invocation = invocation
        self._release(request.execution, request.done)
        run = TaskRun(host.offset(), request.function, invocation)
        self.task_runs.append(run)
        return run

    def _plan_wakeups(self) -> int:
        """Wake the waits that are over; put the others on the world's agenda. Returns how many woke now."""
        host = self._require_host()
        with self._cond:
            sleepers, self._new_sleepers = self._new_sleepers, []
            self._waiting = [s for s in self._waiting if not s.woken.is_set()]
        now = host.offset()
        woken = 0
        for sleeper in sleepers:
            if sleeper.wake_at <= now + 1e-6:
                self._wake(sleeper)
                woken += 1
            else:
                with self._cond:
                    self._waiting.append(sleeper)
                host.schedule(sleeper.wake_at, "Step Functions retry", partial(self._wake, sleeper))
        return woken

    def _require_host(self) -> Host:
        if self._host is None:
            raise RuntimeError("StepFunctionsSandbox.attach(world) first")
        return self._host

    # --- the interpreter's threads: wait for the world ------------------------------------------------------------

    def task(self, execution: str, function_arn: str, payload: dict[str, Any]) -> tuple[Any, BaseException | None]:
        """A Task's Lambda call in `execution`: queue it for the world's thread, wait for its result (or error)."""
        request = _TaskRequest(execution, function_folder(function_arn), payload)
        if self._park(execution, lambda: self._requests.append(request)):
            request.done.wait()
        if request.invocation is None:
            raise RuntimeError("the sandbox world stopped while this Task waited")
        return request.invocation.result, request.invocation.error

    def sleep(self, execution: str, seconds: float) -> None:
        """A retrier's wait in `execution`, on sandbox time: block until the world's clock has moved on."""
        sleeper = _Sleeper(execution, self._require_host().offset() + max(0.0, float(seconds)))
        if self._park(execution, lambda: self._new_sleepers.append(sleeper)):
            sleeper.woken.wait()

    def await_token(self, execution: str, token: str, seconds: float, sent: Callable[[], bool]) -> bool:
        """A Task's wait for its task token in `execution`: until the token is sent (`token_sent`, True) or
        sandbox time passes `seconds` (False: the wait timed out)."""
        if sent():
            return True
        sleeper = _Sleeper(execution, self._require_host().offset() + max(0.0, float(seconds)))

        def park() -> None:
            self._new_sleepers.append(sleeper)
            self._token_waits[token] = sleeper

        if self._park(execution, park):
            sleeper.woken.wait()
        with self._cond:
            self._token_waits.pop(token, None)
        return sent()

    def token_sent(self, token: str) -> None:
        """SendTaskSuccess or SendTaskFailure reached the token's wait: let its thread go now, on the sender's
        thread, so the world sees the execution busy again before the sender's call returns."""
        with self._cond:
            sleeper = self._token_waits.pop(token, None)
        if sleeper is not None:
            self._wake(sleeper)

    def _park(self, execution: str, change: Callable[[], None]) -> bool:
        """A thread of `execution` enters a hook; False (nothing to wait for) once the sandbox has stopped."""
        with self._cond:
            if self._stopped:
                return False
            change()
            self._parked[execution] += 1
            self._activity += 1
            self._cond.notify_all()
            return True

    def _release(self, execution: str, released: threading.Event) -> None:
        """Let a thread of `execution` out of its hook (once), counting it out at once, by the releasing side.

        From this moment its execution is between two states until the thread enters its next hook. Were the
        thread to count itself out when it runs again, a loaded machine could leave it unscheduled for longer
        than the quiet spell, and the world would take its execution for one still waiting and move on.
        """
        with self._cond:
            if released.is_set():
                return
            self._parked[execution] -= 1
            self._activity += 1
            released.set()
            self._cond.notify_all()

    def _wake(self, sleeper: _Sleeper) -> list[Any]:
        self._release(sleeper.execution, sleeper.woken)
        return []


# --- moto's interpreter, shared by every sandbox of the process -----------------------------------------------


def _execution_of(env: Any) -> str:
    """The ARN of the execution an interpreter environment belongs to (its context object's Execution.Id)."""
    try:
        return str(env.states.context_object.context_object_data["Execution"]["Id"])
    except (AttributeError, KeyError, TypeError):
        return ""


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


class _Engine:
    """moto's Step Functions interpreter for the sandboxes of this process: switched on while at least one
    sandbox is in, and hooked where the infrastructure tests hook it; each hook call goes to the sandbox whose
    account the execution runs in (moto's state, its config and these hooks are all process-wide).

    The hooks stay once installed: for an execution of no sandbox they do what moto does, and for one of a
    sandbox that has stopped they fail the Task and skip the wait at once, so its threads wind down in
    milliseconds instead of calling a Lambda that is not there.
    """

    def __init__(self) -> None:
        self._owners: dict[str, StepFunctionsSandbox] = {}  # account id -> sandbox
        self._retired: set[str] = set()  # accounts of sandboxes that have stopped
        self._hooked = False
        self._config_before: dict[str, Any] = {}
        self._lock = threading.Lock()

    def join(self, owner: StepFunctionsSandbox) -> None:
        with self._lock:
            if not self._owners:
                self._config_before = _moto_config(owner.aws.moto_url)
                _moto_config(owner.aws.moto_url, {"stepfunctions": {"execute_state_machine": True}})
            if not self._hooked:
                self._hook()
                self._hooked = True
            self._owners[owner.aws.account_id] = owner

    def leave(self, owner: StepFunctionsSandbox) -> None:
        with self._lock:
            if self._owners.get(owner.aws.account_id) is not owner:
                return
            del self._owners[owner.aws.account_id]
            self._retired.add(owner.aws.account_id)
            if self._owners:
                return
            with contextlib.suppress(OSError):  # moto may be gone already; its config dies with the process
                _moto_config(owner.aws.moto_url, {"stepfunctions": self._config_before.get("stepfunctions", {})})

    def owner(self, execution: str) -> StepFunctionsSandbox | None:
        return self._owners.get(_account_of(execution))

    def retired(self, execution: str) -> bool:
        return _account_of(execution) in self._retired

    def _hook(self) -> None:
        from moto.core.responses import EmptyResult as empty_result
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
            StateTaskServiceCallback as callback_task,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint as callback_endpoint
        from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackOutcomeTimedOut as timed_out
        from moto.stepfunctions.responses import StepFunctionResponse as step_function_response

        original_invoke = lambda_eval_utils.execute_lambda_function_integration
        original_wait = callback_task._eval_wait_for_task_token
        original_notify = callback_endpoint.notify
        original_time = retrier_decl.time  # type: ignore[attr-defined]
        failure = lambda_eval_utils.LambdaFunctionErrorException

        def invoke(env: Any, parameters: dict[str, Any], region: str, state_credentials: Any) -> None:
            execution, function = _execution_of(env), str(parameters["FunctionName"])
            owner = self.owner(execution)
            if owner is None and self.retired(execution):
                raise failure("Unhandled", _lambda_error("SandboxStopped", "the sandbox world has stopped"))
            if owner is None:
                original_invoke(env, parameters, region, state_credentials)  # not a sandbox's execution
                return
            result, error = owner.task(execution, function, json.loads(parameters["Payload"] or b"{}"))
            if error is not None:
                raise failure("Unhandled", _lambda_error(error_name(error), str(error)))
            env.stack.append({"Payload": json.loads(json.dumps(result)), "StatusCode": 200})

        def sleep(seconds: float) -> None:
            # Called from RetrierDecl._eval_body(self, env): its `env` says which execution waits.
            execution = _execution_of(sys._getframe(1).f_locals.get("env"))
            owner = self.owner(execution)
            if owner is not None:
                owner.sleep(execution, seconds)
            elif not self.retired(execution):
                original_time.sleep(seconds)

        def wait_for_token(
            task: Any, env: Any, timeout_seconds: int, callback_endpoint: Any, heartbeat_endpoint: Any
        ) -> Any:
            execution = _execution_of(env)
            owner = self.owner(execution)
            if owner is None and not self.retired(execution):
                return original_wait(task, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)
            endpoint = callback_endpoint
            token = endpoint.callback_id
            sent = owner is not None and owner.await_token(
                execution, token, float(timeout_seconds), lambda: endpoint.get_outcome() is not None
            )
            return endpoint.get_outcome() if sent else timed_out(callback_id=token)

        def notify(endpoint: Any, outcome: Any) -> None:
            original_notify(endpoint, outcome)
            for owner in list(self._owners.values()):
                owner.token_sent(endpoint.callback_id)

        def send_task_failure(response: Any) -> Any:
            # moto's handler drops the request's `cause`, which Step Functions hands to the failed Task (a
            # rejected run's report shows who rejected it and why): passed on here, as AWS does.
            response.stepfunction_backend.send_task_failure(
                response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
            )
            return empty_result()

        lambda_eval_utils.execute_lambda_function_integration = invoke
        step_function_response.send_task_failure = send_task_failure  # type: ignore[method-assign]
        callback_task._eval_wait_for_task_token = wait_for_token  # type: ignore[method-assign]
        callback_endpoint.notify = notify  # type: ignore[method-assign]

        original_wait_state = WaitFunction._wait_interval

        def wait(function: Any, env: Any, wait_seconds: int) -> None:
            # A Wait state (ShiftReplicas' WaitForReplicas): on sandbox time, like a retrier's wait.
            execution = _execution_of(env)
            owner = self.owner(execution)
            if owner is not None:
                owner.sleep(execution, wait_seconds)
            elif not self.retired(execution):
                original_wait_state(function, env, wait_seconds)

        WaitFunction._wait_interval = wait  # type: ignore[method-assign]
        # The retrier's module-level `time` only: the time module itself keeps its own sleep.
        retrier_decl.time = SimpleNamespace(sleep=sleep)  # type: ignore[attr-defined,assignment]


class InvocationLost(Exception):
    """An invocation that never finished because its execution environment died under it (a drill kills it):
    Lambda answers the Task with a service error, which every runbook Task retries, so the step runs again."""

    error_name = "Lambda.ServiceException"


class InvocationTimedOut(InvocationLost):
    """An invocation the function's own timeout ended half-way (a drill makes it): Lambda reports
    `Sandbox.Timedout`, which every runbook Task retries too (ferry.domain.conventions.LAMBDA_KILLED_ERRORS)."""

    error_name = "Sandbox.Timedout"


def error_name(error: BaseException) -> str:
    """The error's name as Step Functions sees it: the exception's class name, as Lambda reports a Python
    exception, or Lambda's own error for an invocation the service lost or timed out."""
    return error.error_name if isinstance(error, InvocationLost) else type(error).__name__


def _lambda_error(error_type: str, message: str) -> str:
    """A Python exception as Lambda reports it: Step Functions takes `errorType` as the error's name."""
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})


def _moto_config(moto_url: str, change: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """GET (or POST a change to) moto's `/moto-api/config`, the server-mode switch of its behaviours."""
    data = json.dumps(change).encode() if change is not None else None
    request = urllib.request.Request(f"{moto_url}/moto-api/config", data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read() or b"{}"))


_engine = _Engine()


# --- a drill's runbooks: the stack's state machines on any world, driven by the caller -----------------------


class Stage(Protocol):
    """What `Runbooks` needs of a world: its AWS sandbox, and sandbox time it can tell, move and settle."""

    aws: AwsSandbox

    def offset(self) -> float: ...

    def advance_to(self, offset: float) -> None: ...

    def settle(self) -> None: ...


Invoke = Callable[[str, Mapping[str, Any]], Invocation]


class Runbooks:
    """The stack's runbooks for a drill or a bench: start executions, then run them to their end.

    The state machines are those of act mode (the synthesized template, moto's interpreter, the same hooks),
    on a world of any mode. The caller says how a Task's function runs (`invoke`: the handlers of a
    `LambdaRuntime`, or `in_process` step services with faults injected; a drill's `invoke` may also kill an
    invocation: `InvocationLost`). Between Tasks only the executions' own retry waits move the world's time:
    no probe, no scripted step, nothing but the runbooks happens that the drill did not do itself.
    """

    def __init__(self, world: Stage, invoke: Invoke, *, template: Mapping[str, Any] | None = None) -> None:
        self._world = world
        self._invoke = invoke
        self._agenda: list[tuple[float, int, Callable[[], list[Any]]]] = []
        self._sequence = itertools.count()
        self.sandbox = StepFunctionsSandbox(world.aws, template if template is not None else synthesized_template())

    def __enter__(self) -> Runbooks:
        self.sandbox.start()
        self.sandbox.attach(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.sandbox.stop()

    def run(self, runbook: str, payload: Mapping[str, Any], name: str) -> ExecutionView:
        """Start one execution (named `name`, which is its run id) and run it, and any other started, to the end."""
        self.start(runbook, payload, name)
        self.finish()
        return self.execution(runbook, name)

    def start(self, runbook: str, payload: Mapping[str, Any], name: str) -> None:
        sfn = self._world.aws.client("stepfunctions")
        sfn.start_execution(stateMachineArn=self.sandbox.arn(runbook), name=name, input=json.dumps(payload))

    def finish(self) -> None:
        """Run the Tasks every execution asks for; when all wait on time, move the world to the next wake-up."""
        while True:
            self.sandbox.run_tasks()
            if not self.sandbox.running():
                return
            if not self._agenda:
                raise RuntimeError("runbook executions are running but none waits for a Task or for time")
            # Waits that end within WAKE_WINDOW of the first end together (full jitter spreads a hundred pets'
            # retries over as many instants, each a round of the engine, and none is made shorter).
            due = [heapq.heappop(self._agenda)]
            while self._agenda and self._agenda[0][0] <= due[0][0] + WAKE_WINDOW:
                due.append(heapq.heappop(self._agenda))
            self._world.advance_to(max(due[-1][0], self._world.offset()))
            for _, _, wake in due:
                wake()

    def execution(self, runbook: str, name: str) -> ExecutionView:
        return next(e for e in self.sandbox.executions(runbook) if e.name == name)

    # --- the engine's Host --------------------------------------------------------------------------------------

    def invoke(self, function: str, event: Mapping[str, Any]) -> Invocation:
        return self._invoke(function, event)

    def settle(self) -> None:
        self._world.settle()

    def offset(self) -> float:
        return self._world.offset()

    def schedule(self, at: float, label: str, action: Callable[[], list[Any]]) -> None:
        heapq.heappush(self._agenda, (at, next(self._sequence), action))


class Steps(Protocol):
    """The runbook steps' services (ferry.services.rehoming.RehomingSteps), as the runbook-* handlers call them."""

    def plan(self, event: Mapping[str, Any]) -> Any: ...

    def fence(self, job: Any) -> Any: ...

    def rehome(self, job: Any) -> Any: ...

    def report(self, request: Any) -> Any: ...


def in_process(steps: Steps) -> Invoke:
    """Tasks run by step services of this process, as each runbook-* handler runs them (model in, model out),
    without the Lambda wrapping: for drills that hand the services faulty clients or count their calls."""
    # Here, not at the top: `python -m sandbox.stepfunctions synth` runs before sandbox.lambdas puts the layer on
    # sys.path.
    from ferry.domain.rehoming.models import NodeJob, PetJob, ReportInput

    parse: dict[str, Callable[[Any], Any]] = {
        "runbook-plan": dict,
        "runbook-fence": NodeJob.from_dict,
        "runbook-rehome": PetJob.from_dict,
        "runbook-report": ReportInput.from_dict,
    }

    def invoke(function: str, event: Mapping[str, Any]) -> Invocation:
        step = getattr(steps, function.removeprefix("runbook-"))  # looked up now: a bench may wrap it
        started = time.perf_counter()
        result: Any = None
        error: BaseException | None = None
        try:
            result = json.loads(json.dumps(step(parse[function](event)).to_dict()))
        except Exception as exc:  # as the Lambda runtime reports it
            error = exc
        return Invocation(function, "in-process", event, result, error, "", time.perf_counter() - started, False)

    return invoke


def main(argv: list[str]) -> int:
    """`python -m sandbox.stepfunctions synth OUTDIR`: the child process of `synthesized_template()`."""
    if len(argv) != 2 or argv[0] != "synth":
        print("usage: python -m sandbox.stepfunctions synth OUTDIR", file=sys.stderr)
        return 2
    synth(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
