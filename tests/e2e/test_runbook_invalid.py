"""A request the Kubernetes API refuses as invalid (HTTP 422, `ferry.domain.errors.Invalid`: an immutable field
changed) is final: the same request gets the same answer, so no Retry of the runbooks
(ferry.domain.conventions.RUNBOOK_RETRIES) names it and the executor does not try it again inside the step. The
run goes on to its Catch and its report, which carries the API's own message.

The runbook is the synthesized RehomePet (sandbox.stepfunctions.Runbooks), after zone a went dark: its fence
step (a Task of the fence Map, whose Catch reports the node not fenced) and its re-home step (which stops the
pet with the reason and reports it failed) each meet the refusal once. The steps run in process with a
Kubernetes writer whose cordon asks the API to change the node's providerID, which it never allows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.adapters.kube_writes import KubeWriter
from ferry.domain.conventions import RUNBOOK_RETRIES
from ferry.domain.rehoming.models import PetStatus, RunOutcome
from sandbox.stepfunctions import Runbooks, in_process
from sandbox.world import World
from tests.e2e.rehoming_world import drill_world, run, steps_in_process, zone_outage

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # one sandbox world per process at a time

NODE = "east-1-a-w0"
REFUSAL = "spec.providerID: Forbidden"  # the API's own words (the double's, as the real server words them)
MOVE = {
    "cluster": "east-1",
    "namespace": "shop",
    "statefulSet": "db",
    "ordinal": 0,
    "targetZone": "us-east-1b",
    "reason": "node east-1-a-w0 lost",
    "dryRun": False,
}


class ImmutableCordon(KubeWriter):
    """Cordons by changing the node's providerID: an immutable field, which the API refuses with 422."""

    def cordon(self, node: str) -> bool:
        self._patch(self.core.patch_node, node, body={"spec": {"providerID": "aws:///us-east-1z/i-0elsewhere"}})
        return True


@pytest.fixture
def world() -> Iterator[World]:
    started = drill_world()
    try:
        zone_outage(started)
        yield started
    finally:
        started.stop()


def test_an_invalid_request_is_not_retried_and_the_run_reports_it_with_the_apis_message(world: World) -> None:
    assert not any("Invalid" in retry.errors for retry in RUNBOOK_RETRIES)
    before = world.clusters["east-1"].get("Node", NODE) or {}
    with Runbooks(world, in_process(steps_in_process(world, writer=ImmutableCordon))) as runbooks:
        report = run(runbooks, "RehomePet", MOVE, "rehome-db-0-invalid")
        tries = {
            function: [r.invocation for r in runbooks.sandbox.task_runs if r.function == function]
            for function in ("runbook-fence", "runbook-rehome", "runbook-report")
        }

    # Each step met the refusal once: no Retry (Step Functions) and no second attempt (the executor).
    assert [type(i.error).__name__ for i in tries["runbook-fence"]] == ["Invalid"]
    assert REFUSAL in str(tries["runbook-fence"][0].error)
    assert len(tries["runbook-rehome"]) == 1 and tries["runbook-rehome"][0].ok
    assert len(tries["runbook-report"]) == 1
    # The fence Task's Catch reports the node not fenced, the re-home step the pet failed; both say why in the
    # API's words, and the run, with its only pet failed, fails.
    (node,) = report.nodes
    assert not node.fenced and node.identity_freed is None
    assert "the fence step failed: Invalid" in (node.reason or "") and REFUSAL in (node.reason or "")
    (pet,) = report.pets
    assert pet.status is PetStatus.FAILED and (pet.reason or "").startswith("Invalid: ") and REFUSAL in pet.reason
    assert report.outcome is RunOutcome.FAILED and REFUSAL in report.summary
    # Refused, so unchanged: the node keeps its providerID, and nothing freed its pets.
    after = world.clusters["east-1"].get("Node", NODE) or {}
    assert after["spec"]["providerID"] == before["spec"]["providerID"]
    assert not any(t["key"] == "node.kubernetes.io/out-of-service" for t in after["spec"].get("taints") or [])
