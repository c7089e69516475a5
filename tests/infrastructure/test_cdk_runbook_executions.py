"""Runbook executions: the synthesized state machines run, in Step Functions' semantics, over fake steps.

The definitions are executed by moto's Step Functions engine (the interpreter LocalStack wrote, vendored in
moto: it evaluates paths, intrinsic functions, Choice, Map with MaxConcurrencyPath, Retry and Catch as the
service documents them). Lambda cannot run here, so the four steps are fakes that speak the contract's
models (ferry.domain.rehoming.models): each parses its input with `from_dict`, so a payload the state machine
assembles wrongly fails the run as it would fail the real step, and the report is the real, pure
`ferry.domain.rehoming.reports.run_report`. Failures are raised the way Lambda reports a Python exception (error
name = exception class, cause = {"errorMessage", "errorType", ...}).

Two hooks into moto's internals make this possible, both named below: the Lambda call of a Task (there is
no Docker to run functions) and the retrier's sleep (waits are recorded, not slept).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import load_event, wait_for
from tests.infrastructure.synthesis import Synthesized

pytestmark = pytest.mark.xdist_group("cdk-synth")

ACCOUNT = "123456789012"
REGION = "us-east-1"
WAIT_SECONDS = 20


class StepError(Exception):
    """A step's failure as Lambda reports a Python exception: Step Functions sees `error_type` as the error."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass
class FakeSteps:
    """The runbook-* steps, answering through the contract's models; `failures` script errors per subject."""

    failures: dict[str, list[str]] = field(default_factory=dict)  # subject -> error names, one per call
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    reports: list[Any] = field(default_factory=list)

    def called(self, step: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.calls if name == step]

    def _fail_if_scripted(self, subject: str) -> None:
        scripted = self.failures.get(subject)
        if scripted:
            error = scripted.pop(0) if len(scripted) > 1 else scripted[0]
            if error != "ok":
                raise StepError(error, f"{subject}: {error} (scripted)")

    def plan(self, event: dict[str, Any]) -> dict[str, Any]:
        from ferry.domain.errors import InputError
        from ferry.domain.rehoming.models import NodeJob, PetJob, PlanOutput
        from ferry.domain.rehoming.policies import RehomePolicy
        from ferry.domain.runbooks import Runbook
        from ferry.services.inputs import validate_input

        body = {k: v for k, v in event.items() if k not in ("runId", "runbook")}
        try:
            validate_input(event["runbook"], body)
        except InputError as error:
            raise StepError("InputError", str(error)) from None
        self._fail_if_scripted("plan")
        run_id, runbook, dry_run = event["runId"], Runbook(event["runbook"]), bool(body.get("dryRun", False))
        cluster = body.get("cluster", "east-1")
        nodes = {
            Runbook.EVACUATE_ZONE: ["node-a-1", "node-a-2"],
            Runbook.REHOME_PET: ["node-a-1"],
            Runbook.FENCE_NODE: [body.get("node", "")],
            Runbook.DRAIN_NODE: [body.get("node", "")],
        }[runbook]
        pets = {Runbook.EVACUATE_ZONE: 3, Runbook.REHOME_PET: 1, Runbook.FENCE_NODE: 0, Runbook.DRAIN_NODE: 0}[runbook]
        return PlanOutput(
            run_id=run_id,
            runbook=runbook,
            dry_run=dry_run,
            zone=body.get("zone", "us-east-1a"),
            reason=body["reason"],
            nodes=tuple(
                NodeJob(run_id, cluster, node, f"i-0{i}{'0' * 15}", "us-east-1a", dry_run)
                for i, node in enumerate(nodes)
            ),
            pets=tuple(
                PetJob(
                    run_id=run_id,
                    cluster=cluster,
                    namespace="shop",
                    statefulset="db",
                    ordinal=i,
                    pod=f"db-{i}",
                    node="node-a-1",
                    policy=RehomePolicy.SNAPSHOT,
                    from_zone="us-east-1a",
                    target_zone="us-east-1b",
                    dry_run=dry_run,
                )
                for i in range(pets)
            ),
            skipped=(),
            plan={"steps": ["..."]},
        ).to_dict()

    def fence(self, event: dict[str, Any]) -> dict[str, Any]:
        from ferry.domain.rehoming.models import FencedBy, IdentityFreed, NodeJob, NodeReport

        job = NodeJob.from_dict(event)
        self._fail_if_scripted(job.node)
        return NodeReport(
            job.cluster,
            job.node,
            job.instance_id,
            fenced=True,
            fenced_by=FencedBy.STOPPED_BY_FERRY,
            identity_freed=IdentityFreed.OUT_OF_SERVICE_TAINT,
            cordoned=True,
        ).to_dict()

    def rehome(self, event: dict[str, Any]) -> dict[str, Any]:
        from ferry.domain.rehoming.models import PetJob, PetReport, PetStatus

        job = PetJob.from_dict(event)
        self._fail_if_scripted(job.pod)
        return PetReport(
            job.cluster,
            job.namespace,
            job.pod,
            job.policy,
            PetStatus.MOVED,
            from_zone=job.from_zone,
            to_zone=job.target_zone,
            old_volume="vol-0aaaaaaaaaaaaaaaa",
            snapshot="snap-0bbbbbbbbbbbbbbbb",
            new_volume="vol-0cccccccccccccccc",
            rpo_seconds=120.0,
        ).to_dict()

    def report(self, event: dict[str, Any]) -> dict[str, Any]:
        from ferry.domain.rehoming.models import ReportInput
        from ferry.domain.rehoming.reports import run_report

        request = ReportInput.from_dict(event)  # raises InputError, failing the run, if the shape is wrong
        self.reports.append(request)
        return run_report(request).to_dict()


STEP_FUNCTIONS = {
    "ferry-runbook-plan": "plan",
    "ferry-runbook-fence": "fence",
    "ferry-runbook-rehome": "rehome",
    "ferry-runbook-report": "report",
}


@dataclass
class Runner:
    client: Any
    machines: dict[str, str]  # runbook -> state machine ARN
    steps: FakeSteps
    waits: list[float]

    def run(self, runbook: str, payload: dict[str, Any], name: str) -> dict[str, Any]:
        arn = self.client.start_execution(stateMachineArn=self.machines[runbook], name=name, input=json.dumps(payload))

        def ended() -> dict[str, Any] | None:
            execution = self.client.describe_execution(executionArn=arn["executionArn"])
            return dict(execution) if execution["status"] != "RUNNING" else None

        return wait_for(ended, timeout=WAIT_SECONDS, what=f"{runbook} {name} ended")


@pytest.fixture(scope="module")
def engine(synthesized: Synthesized) -> Iterator[tuple[Any, dict[str, str]]]:
    """The three state machines, created from the synthesized template in moto's executing Step Functions."""
    import boto3
    from moto import mock_aws

    functions = {synthesized.logical_id(f.function): f.spec.function_name for f in synthesized.stack.functions}

    def function_arn(logical_id: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{functions[logical_id]}"

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name=REGION)
        machines = {}
        for name, machine in synthesized.stack.runbooks.state_machines.items():
            definition = synthesized.definition(machine, function_arn)
            created = client.create_state_machine(
                name=f"ferry-{name}",
                definition=json.dumps(definition),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/ferry-{name}",
            )
            machines[name] = created["stateMachineArn"]
        yield client, machines


@pytest.fixture
def runner(engine: tuple[Any, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> Runner:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    steps, waits = FakeSteps(), []

    def invoke(env: Any, parameters: dict[str, Any], region: str, state_credentials: Any) -> None:
        function = parameters["FunctionName"].rsplit(":", 1)[-1]
        step = STEP_FUNCTIONS[function]
        payload = json.loads(parameters["Payload"])
        steps.calls.append((step, payload))
        handler: Callable[[dict[str, Any]], dict[str, Any]] = getattr(steps, step)
        try:
            result = handler(payload)
        except StepError as error:
            cause = {"errorMessage": str(error), "errorType": error.error_type, "stackTrace": []}
            raise lambda_eval_utils.LambdaFunctionErrorException("Unhandled", json.dumps(cause)) from None
        env.stack.append({"Payload": result, "StatusCode": 200})

    monkeypatch.setattr(lambda_eval_utils, "execute_lambda_function_integration", invoke)
    # The retrier's module-level `time` only: the time module itself (and this test's polling) keeps sleeping.
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=waits.append))
    client, machines = engine
    return Runner(client, machines, steps, waits)


# The samples a person starts from (dry runs, as the README says to start), made real runs.
EVACUATE = {**load_event("stepfunctions/evacuate-zone"), "dryRun": False}
REHOME = {**load_event("stepfunctions/rehome-pet"), "dryRun": False}
FENCE = {**load_event("stepfunctions/fence-node"), "dryRun": False}


def _output(execution: dict[str, Any]) -> dict[str, Any]:
    assert execution["status"] == "SUCCEEDED", (execution.get("error"), execution.get("cause"))
    return dict(json.loads(execution["output"]))


# --- the success path ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("runbook", "payload", "fenced", "moved"),
    [
        pytest.param("EvacuateZone", EVACUATE, 2, 3, id="evacuate-zone"),
        pytest.param("RehomePet", REHOME, 1, 1, id="rehome-pet"),
        pytest.param("FenceNode", FENCE, 1, 0, id="fence-node"),
    ],
)
def test_a_run_plans_fences_rehomes_and_reports(
    runner: Runner, runbook: str, payload: dict[str, Any], fenced: int, moved: int
) -> None:
    report = _output(runner.run(runbook, payload, f"{runbook}-ok"))
    steps = runner.steps
    # Plan gets the input as given plus runId (the execution name) and runbook, flat.
    assert steps.called("plan") == [{**payload, "runId": f"{runbook}-ok", "runbook": runbook}]
    assert len(steps.called("fence")) == fenced
    assert len(steps.called("rehome")) == moved
    (request,) = steps.reports
    assert dict(request.input) == payload, "the report sees the input exactly as it was given"
    assert request.error is None
    assert (report["runId"], report["runbook"], report["outcome"]) == (f"{runbook}-ok", runbook, "succeeded")
    assert [n["fenced"] for n in report["nodes"]] == [True] * fenced
    assert [p["status"] for p in report["pets"]] == ["moved"] * moved


@pytest.mark.parametrize(
    ("runbook", "sample"),
    [
        pytest.param("EvacuateZone", "evacuate-zone", id="evacuate-zone"),
        pytest.param("RehomePet", "rehome-pet", id="rehome-pet"),
        pytest.param("FenceNode", "fence-node", id="fence-node"),
        pytest.param("DrainNode", "drain-node", id="drain-node"),
    ],
)
def test_the_samples_are_dry_runs_that_plan_and_report_and_touch_nothing(
    runner: Runner, runbook: str, sample: str
) -> None:
    report = _output(runner.run(runbook, load_event(f"stepfunctions/{sample}"), f"{sample}-dry-run"))
    assert [step for step, _ in runner.steps.calls] == ["plan", "report"]
    assert report["outcome"] == "dry-run"
    assert report["dryRun"] is True


def test_the_pets_map_reads_its_default_concurrency_from_the_prepared_options(runner: Runner) -> None:
    _output(runner.run("EvacuateZone", EVACUATE, "default-concurrency"))
    report_payload = runner.steps.called("report")[0]
    assert report_payload["options"]["maxConcurrency"] == 10


def test_max_concurrency_from_the_input_reaches_the_pets_map(runner: Runner) -> None:
    _output(runner.run("EvacuateZone", {**EVACUATE, "maxConcurrency": 3}, "concurrency-3"))
    assert runner.steps.called("report")[0]["options"]["maxConcurrency"] == 3


# --- bad input -------------------------------------------------------------------------------------------------


def test_a_bad_input_fails_the_run_with_each_wrong_field_named_and_is_not_retried(runner: Runner) -> None:
    execution = runner.run("EvacuateZone", {"zone": "mars-1a", "dryRun": "yes"}, "bad-input")
    assert execution["status"] == "FAILED"
    assert execution["error"] == "InputError"
    cause = execution["cause"]
    for field_name in ("reason", "zone", "dryRun"):
        assert f"{field_name}:" in cause, cause
    assert "stackTrace" not in cause, "the cause is the step's message, not Lambda's error envelope"
    assert [step for step, _ in runner.steps.calls] == ["plan"], "no retry, no report"
    assert runner.waits == []


# --- failures ------------------------------------------------------------------------------------------------


def test_transient_errors_are_retried_with_backoff_then_the_run_goes_on(runner: Runner) -> None:
    runner.steps.failures = {"node-a-1": ["Throttled", "Unavailable", "ok"], "db-2": ["StepPending"] * 4 + ["ok"]}
    report = _output(runner.run("EvacuateZone", EVACUATE, "transient"))
    assert report["outcome"] == "succeeded"
    assert len([p for p in runner.steps.called("fence") if p["node"] == "node-a-1"]) == 3
    assert len([p for p in runner.steps.called("rehome") if p["pod"] == "db-2"]) == 5
    assert len(runner.waits) == 2 + 4
    assert all(0 <= wait <= 60 for wait in runner.waits), "full jitter, capped"


def test_a_pet_whose_step_keeps_failing_is_reported_failed_and_the_others_move(runner: Runner) -> None:
    runner.steps.failures = {"db-1": ["Unavailable"]}
    report = _output(runner.run("EvacuateZone", EVACUATE, "pet-fails"))
    assert len([p for p in runner.steps.called("rehome") if p["pod"] == "db-1"]) == 1 + 6
    pets = {p["pod"]: p for p in report["pets"]}
    assert [pets[pod]["status"] for pod in ("db-0", "db-1", "db-2")] == ["moved", "failed", "moved"]
    assert pets["db-1"]["reason"].startswith("the re-home step failed: Unavailable")
    assert report["outcome"] == "partial"


def test_a_node_that_cannot_be_fenced_is_reported_and_the_run_goes_on(runner: Runner) -> None:
    runner.steps.failures = {"node-a-2": ["Refused"]}
    report = _output(runner.run("EvacuateZone", EVACUATE, "node-fails"))
    nodes = {n["node"]: n for n in report["nodes"]}
    assert (nodes["node-a-1"]["fenced"], nodes["node-a-2"]["fenced"]) == (True, False)
    assert nodes["node-a-2"]["reason"].startswith("the fence step failed: Refused")
    assert len(runner.steps.called("fence")) == 2, "Refused is not transient: not retried"
    assert len(runner.steps.called("rehome")) == 3, "the pets' own steps check their node's fence"
    assert report["outcome"] == "partial"


def test_a_node_whose_drain_keeps_failing_is_reported_as_a_drain_not_a_fence(runner: Runner) -> None:
    runner.steps.failures = {"node-b-1": ["Refused"]}
    drain = {"cluster": "east-1", "node": "node-b-1", "reason": "spot interruption", "dryRun": False}
    report = _output(runner.run("DrainNode", drain, "drain-fails"))
    (node,) = report["nodes"]
    assert node["reason"].startswith("the drain step failed: Refused"), node["reason"]
    assert len(runner.steps.called("fence")) == 1, "Refused is not transient: not retried"


def test_a_plan_that_keeps_failing_still_ends_in_a_report_saying_why(runner: Runner) -> None:
    runner.steps.failures = {"plan": ["Unavailable"]}
    execution = runner.run("RehomePet", REHOME, "plan-fails")
    # A failed run ends FAILED (console, alarm), its cause the report's summary; the report was still made.
    assert (execution["status"], execution["error"]) == ("FAILED", "RunFailed")
    assert len(runner.steps.called("plan")) == 1 + 6
    assert runner.steps.called("fence") == []
    (request,) = runner.steps.reports
    assert request.error is not None and request.error.error == "Unavailable"
    assert request.plan is None
    assert "Unavailable" in execution["cause"]
