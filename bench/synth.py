"""`make synth` timing: the CDK app synthesized offline, as a fresh process, with the bundle cache warm.

The first run fills jsii's cache and the local pip bundles under .build/; the figure reported is the next
one, which is what a developer waits for on every `make synth`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def synth_seconds() -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cdk.synth"], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - began


def run() -> dict[str, float]:
    cold = synth_seconds()
    warm = synth_seconds()
    return {
        "make synth, first in this bench (s)": round(cold, 1),
        "make synth, warm cache (s) [< 60]": round(warm, 1),
    }
