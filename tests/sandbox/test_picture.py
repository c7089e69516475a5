"""The game day's picture (sandbox/picture.py): one self-contained HTML file that shows every zone and pet.

Rendered from a small game day's worth of happenings: the readiness grades, each zone's states from the
detector's transitions, the runbook's bar, each pet's move with its RPO; nothing fetched and no script. A real
headless browser opens it where Chromium is installed (the test tier that needs it installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox import picture

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
PETS = ("east-1/shop/db-0", "east-1/shop/db-1", "east-1/shop/db-2")


def page() -> str:
    readiness = {
        "summary": "Readiness r at t: us-east-1a ready",
        "zones": [
            {
                "zone": "us-east-1a",
                "grade": "ready",
                "pets": [{"subject": PETS[0], "outcome": "moves", "targetZone": "us-east-1b"}],
            },
            {"zone": "us-east-1b", "grade": "at-risk", "pets": []},
            {"zone": "us-east-1c", "grade": "not-ready", "pets": []},
        ],
    }
    moments = [
        picture.Moment(60, "ferry", "detector: us-east-1a healthy -> suspect"),
        picture.Moment(120, "ferry", "detector: us-east-1a suspect -> impaired"),
        picture.Moment(120, "aws", "Step Functions: ferry-EvacuateZone started evacuate-us-east-1a-1 for us-east-1a"),
        picture.Moment(150, "aws", "Step Functions: evacuate-us-east-1a-1 SUCCEEDED"),
    ]
    move = {"cluster": "east-1", "namespace": "shop", "pod": "db-0", "fromZone": "us-east-1a", "toZone": "us-east-1b",
            "rpoSeconds": 105.0, "timeToRunningSeconds": 30.0}  # fmt: skip
    return picture.render(
        title="Ferry game day: az-outage",
        zones=ZONES,
        readiness=readiness,
        moments=moments,
        end=240,
        moves=[move],
        pets_before=[(p, z) for p, z in zip(PETS, ZONES, strict=True)],
        pets_after=[(PETS[0], "us-east-1b"), (PETS[1], "us-east-1b"), (PETS[2], "us-east-1c")],
        apps_before=[("shop/web", "east-1", 3), ("shop/web", "east-2", 3)],
        apps_after=[("shop/web", "east-1", 3), ("shop/web", "east-2", 3)],
    )


def test_the_picture_shows_every_zone_grade_state_run_and_pet_and_fetches_nothing() -> None:
    html = page()

    for zone in ZONES:
        assert f'data-zone="{zone}"' in html and f"zone {zone}" in html
    for pet in PETS:
        assert pet in html
    assert "us-east-1a: ready" in html and "us-east-1c: not-ready" in html
    assert "impaired from t+120s" in html and "evacuate-us-east-1a-1: SUCCEEDED, t+120s to t+150s" in html
    assert "us-east-1a -&gt; us-east-1b (RPO 105s, Running after 30s)" in html
    assert "<script" not in html.lower()
    assert re.findall(r"(?:src|href)\s*=", html) == []
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}  # a namespace name


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    _chromium() is None,
    reason="Chromium is not installed (.ci/run installs Debian's chromium; or: apt-get install chromium)",
)
def test_a_headless_browser_renders_it_with_no_console_errors(tmp_path: Path) -> None:
    path = picture.write(tmp_path / "gameday.html", page())
    shown = subprocess.run(
        # Off the network (this machine's is closed: Chromium's own background calls would only fail), in a
        # fresh profile.
        [str(_chromium()), "--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip

    assert "<svg" in shown.stdout and all(p in shown.stdout for p in PETS) and all(z in shown.stdout for z in ZONES)
    assert not [line for line in shown.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()]
