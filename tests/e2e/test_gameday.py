"""The game day end to end: Ferry's real handlers behind moto's queue and Step Functions, Kubernetes clusters,
the timeline and the checks. The default scenario runs Ferry in act mode: zone a's pet must come back Running in
zone b or c on a volume restored from its snapshot, through the synthesized EvacuateZone; its observe-mode twin
must see the same outage and move nothing."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from sandbox import gameday, scenario
from sandbox.scenario import load

ROOT = Path(__file__).resolve().parents[2]
OBSERVE_SCENARIO = "az-outage-observe"
RUN = r"evacuate-us-east-1a-\d+"


class PetRow(NamedTuple):
    """One row of a BEFORE/AFTER pet table, as printed."""

    pet: str
    cluster: str
    zone: str
    node: str
    phase: str
    volume: str
    restored_from: str
    snapshot: str


def pet_row(out: str, section: str, pet: str) -> PetRow:
    """The printed row of `pet` in the BEFORE or AFTER section."""
    text = out.split(f"\n{section}\n", 1)[1]
    line = next(line for line in text.splitlines() if line.strip().startswith(f"{pet} "))
    return PetRow(*line.split())


def test_make_demo_brings_zone_as_pet_back_in_another_zone_with_its_data_and_every_check_holds() -> None:
    """What `make demo` runs, in a fresh process (no pytest pythonpath): exit 0 and a readable story."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "AWS_ENDPOINT_URL"}}
    done = subprocess.run(
        [sys.executable, "-m", "sandbox.gameday"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # only how long a broken demo takes to fail: it takes ~35 s alone, 200 s on a machine at load 25
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for heading in ("BEFORE", "TIMELINE", "AFTER", "RECOVERY", "CHECKS", "PASSED"):
        assert heading in out
    assert "zone us-east-1a goes dark" in out
    assert "recorded for us-east-1a" in out, "the timeline shows what Ferry's ingest recorded"
    # The runbook, step by step, as the detector's hand-off started it.
    for told in (
        rf"Step Functions: ferry-EvacuateZone started {RUN} for us-east-1a, requested by ferry-detector",
        rf"plan {RUN}: 4 node\(s\) to fence \(east-1, east-2\), 1 pet\(s\) to move: east-1/shop/db-0 us-east-1a -> ",
        r"fence: east-1/east-1-a-w0 \(i-\w+\) fenced \(already-stopped\), pets' identities freed by out-of-service",
        r"re-home: east-1/shop/db-0 moved us-east-1a -> us-east-1[bc]: vol-\w+ -> snap-\w+ -> vol-\w+, RPO \d+ s",
        rf"report: EvacuateZone {RUN} succeeded: 4/4 node\(s\) fenced, pets: 1 moved",
        rf"Step Functions: {RUN} SUCCEEDED",
        r"time from IMPAIRED to all pets Running elsewhere: \d+ s \(sandbox time\), [\d.]+ s \(wall\)",
    ):
        assert re.search(told, out), f"not told: {told}\n{out}"
    before, after = pet_row(out, "BEFORE", "shop/db-0"), pet_row(out, "AFTER", "shop/db-0")
    assert (before.zone, after.zone in ("us-east-1b", "us-east-1c"), after.phase) == ("us-east-1a", True, "Running")
    assert after.volume != before.volume and after.restored_from == before.snapshot, "a new volume, from its snapshot"
    assert "PASS  EvacuateZone started 1 time(s), each ending succeeded" in out
    assert "PASS  every pet of us-east-1a Running in a healthy zone on its snapshot's data" in out
    assert "FAIL" not in out
    assert "\033[" not in out, "no colour codes when stdout is not a terminal"


def test_in_observe_mode_the_same_outage_moves_nothing_and_what_cannot_hold_fails_by_name(
    scenario_file: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The observe twin, with four expectations added that cannot hold there (one world for both stories)."""
    impossible = scenario_file(
        "  - check: nodes-ready\n    zone: us-east-1a\n  - check: zone-observed\n    zone: us-east-1c\n"
        "  - check: runbook-runs\n    runbook: EvacuateZone\n    count: 1\n"
        "  - check: pets-rehomed\n    zone: us-east-1a\n    within: 5m\n",
        OBSERVE_SCENARIO,
    )
    assert gameday.main([str(impossible), "--tick", "30"]) == 1
    out = capsys.readouterr().out

    # What observe mode promises: the outage seen and impaired, the runbook not started, nothing moved.
    assert "detector: us-east-1a suspect -> impaired" in out
    assert "EvacuateZone observe-mode-not-started (mode observe)" in out
    assert "Step Functions" not in out and "re-home:" not in out and "fence:" not in out
    before, after = pet_row(out, "BEFORE", "shop/db-0"), pet_row(out, "AFTER", "shop/db-0")
    assert (after.zone, after.node, after.volume) == (before.zone, before.node, before.volume)
    assert "not all Running elsewhere by the end of the drill" in out
    assert "PASS  no pet moved" in out and "PASS  EvacuateZone started 0 time(s)" in out
    # What cannot hold there fails, each check by name, and the game day with them.
    assert "FAIL  us-east-1a's nodes are Ready" in out
    assert "FAIL  Ferry observed us-east-1c" in out
    assert "FAIL  EvacuateZone started 1 time(s): 0 run(s): none (observe mode: no state machines" in out
    assert re.search(r"FAIL  every pet of us-east-1a Running .*: shop/db-0 is Running in us-east-1a", out)
    assert "FAILED: 11 of 15 checks hold" in out


@pytest.mark.parametrize(
    "name", [n for n in scenario.available() if n not in {gameday.DEFAULT_SCENARIO, OBSERVE_SCENARIO}]
)
def test_every_other_shipped_scenario_holds(name: str) -> None:
    out = io.StringIO()
    outcomes = gameday.run_gameday(load(name), out, tick=30)
    assert all(o.passed for o in outcomes), out.getvalue()


def test_an_unknown_scenario_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert gameday.main(["no-such-drill"]) == 2
    err = capsys.readouterr().err
    assert "no scenario named 'no-such-drill'" in err and "az-outage" in err


def test_a_broken_scenario_file_is_refused_before_anything_starts(
    scenario_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = scenario_file(
        "name: x\nclusters: [{name: east-1}]\nsteps: [{at: 1m, action: zone-outage, zone: us-east-1z}]"
    )
    assert gameday.main([str(broken)]) == 2
    assert (
        "steps[0].zone: expected one of us-east-1a, us-east-1b, us-east-1c, got 'us-east-1z'" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("assets", "scenario_name", "said"),
    [
        pytest.param("", "az-outage", "set FERRY_KUBE_ASSETS to a directory holding etcd", id="no-binaries"),
        pytest.param("/nonexistent", "az-outage", "lacks etcd, kube-apiserver", id="binaries-missing"),
        pytest.param(
            "real",
            "control-plane-outage",
            "ControlPlaneOutage can only be staged on the double",
            id="double-only-step",
            marks=pytest.mark.real_kube,
        ),
    ],
)
def test_a_game_day_on_real_control_planes_says_what_it_needs_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], assets: str, scenario_name: str, said: str
) -> None:
    """`make demo KUBE=real`: without the binaries it says how to get them; a fault only the double can stage is
    refused by name. Either way before any server starts."""
    if assets == "real":
        assets = os.environ["FERRY_KUBE_ASSETS"]
    monkeypatch.setenv("FERRY_KUBE_ASSETS", assets)
    monkeypatch.setattr(gameday, "run_gameday", lambda *a, **k: pytest.fail("the game day started"))

    assert gameday.main([scenario_name, "--kube", "real"]) == 2
    assert said in capsys.readouterr().err
