"""The game day end to end: the real ingest handler behind moto's queue, Kubernetes clusters, the checks."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import gameday, scenario
from sandbox.scenario import load

ROOT = Path(__file__).resolve().parents[2]


def test_make_demo_runs_the_default_scenario_and_every_check_holds() -> None:
    """What `make demo` runs, in a fresh process (no pytest pythonpath): exit 0 and a readable story."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "AWS_ENDPOINT_URL"}}
    done = subprocess.run(
        [sys.executable, "-m", "sandbox.gameday"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for heading in ("BEFORE", "TIMELINE", "AFTER", "CHECKS", "PASSED"):
        assert heading in out
    assert "zone us-east-1a goes dark" in out
    assert "recorded for us-east-1a" in out, "the timeline shows what Ferry's ingest recorded"
    assert "FAIL" not in out
    assert "\033[" not in out, "no colour codes when stdout is not a terminal"


def test_the_game_day_fails_and_names_the_check_when_an_expectation_cannot_hold(
    scenario_file: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    impossible = scenario_file(
        "  - check: nodes-ready\n    zone: us-east-1a\n  - check: zone-observed\n    zone: us-east-1c\n",
        "az-outage",
    )
    assert gameday.main([str(impossible), "--tick", "30"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  us-east-1a's nodes are Ready" in out
    assert "FAIL  Ferry observed us-east-1c" in out
    assert "FAILED" in out


@pytest.mark.parametrize("name", [n for n in scenario.available() if n != gameday.DEFAULT_SCENARIO])
def test_every_other_shipped_scenario_holds(name: str) -> None:
    out = io.StringIO()
    outcomes = gameday.run_gameday(load(name), out, tick=30)
    assert all(o.passed for o in outcomes), out.getvalue()


def test_an_unknown_scenario_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert gameday.main(["no-such-drill"]) == 2
    err = capsys.readouterr().err
    assert "no scenario named 'no-such-drill'" in err and "az-outage" in err


def test_a_broken_scenario_file_is_refused_before_anything_starts(
    scenario_file: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = scenario_file(
        "name: x\nclusters: [{name: east-1}]\nsteps: [{at: 1m, action: zone-outage, zone: us-east-1z}]"
    )
    assert gameday.main([str(broken)]) == 2
    assert (
        "steps[0].zone: expected one of us-east-1a, us-east-1b, us-east-1c, got 'us-east-1z'" in capsys.readouterr().err
    )
