"""Every state machine the stack synthesizes runs to a successful end on the sandbox, through its real steps.

The machines are taken from the synthesized template, not from a list: a runbook added to cdk/ is run here
from its sample input (events/stepfunctions/<runbook>.json, which every runbook must have), by moto's
interpreter, each Task calling the real `functions/runbook-*` handler in act mode (sandbox/stepfunctions.py).
A new machine whose steps do not fit together, or that has no sample, fails here; the other drills
(tests/e2e/test_rehoming_invariants.py) then go deeper into the ones that exist.
"""

from __future__ import annotations

import re

import pytest

from sandbox.stepfunctions import Runbooks, StackRunbooks, runbook_name, synthesized_template
from tests.conftest import load_event
from tests.e2e.rehoming_world import drill_world, runtime, zone_outage

pytestmark = pytest.mark.xdist_group("rehoming-drill")  # one sandbox world per process at a time

# The samples act on one world in turn: a node fenced by hand, then its pet moved, then what is left of the zone.
ORDER = ("FenceNode", "RehomePet", "EvacuateZone")


def sample(runbook: str) -> str:
    """`RehomePet` -> `rehome-pet`: the sample a person starts from (a dry run, made real here)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", runbook).lower()


def test_every_synthesized_state_machine_runs_its_sample_to_success_through_its_real_steps() -> None:
    machines = [runbook_name(m) for m in StackRunbooks.from_template(synthesized_template()).definitions]
    runbooks_in_order = sorted(machines, key=lambda r: (ORDER.index(r) if r in ORDER else len(ORDER), r))
    world = drill_world(federated=True)  # the federated runbooks' samples shift `web`
    try:
        zone_outage(world)
        with Runbooks(world, runtime(world).invoke) as runbooks:
            for runbook in runbooks_in_order:
                given = load_event(f"stepfunctions/{sample(runbook)}")
                # A dry-run sample made real; SetZone has no dry run (it changes Ferry's belief, not the world).
                real = {**given, "dryRun": False} if "dryRun" in given else given
                execution = runbooks.run(runbook, real, f"{sample(runbook)}-1")
                if runbook == "Decide":  # act mode: no run waits for a decision, so its one step refuses it
                    assert (execution.status, execution.error) == ("FAILED", "InputError"), execution
                    assert "is waiting for a decision" in (execution.cause or "")  # tests/e2e/test_supervised.py
                    continue
                assert execution.status == "SUCCEEDED", (runbook, execution.error, execution.cause)
                assert execution.output is not None, runbook
                if runbook == "SetZone":  # a person's word, decided: the zone's status before and after
                    assert execution.output["statusAfter"] == "healthy", execution.output
                elif runbook == "Readiness":  # an answer, not a run: the zone asked about, graded
                    assert [z["zone"] for z in execution.output["zones"]] == given["zones"], execution.output
                else:
                    assert execution.output["outcome"] == "succeeded", execution.output
            ran = {(r.run_id, r.function) for r in runbooks.sandbox.task_runs if r.invocation.ok}
    finally:
        world.stop()

    assert set(machines) >= set(ORDER)
    steps = {
        "runbook-plan", "runbook-fence", "runbook-rehome", "runbook-report", "zone-override", "readiness",
        "runbook-shift",
    }  # fmt: skip
    assert {function for _, function in ran} == steps, "every step function ran, and nothing else"
    shifts = ("ShiftReplicas", "FailoverCluster", "FailbackCluster")  # runbook-shift plans, scales and reports
    one_step = ("SetZone", "Decide", "Readiness")
    assert {(f"{sample(r)}-1", "runbook-report") for r in machines if r not in (*one_step, *shifts)} <= ran
    assert ("set-zone-1", "zone-override") in ran  # SetZone's one step
    assert ("readiness-1", "readiness") in ran  # Readiness's one step
