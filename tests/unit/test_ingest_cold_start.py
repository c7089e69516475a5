"""Ingest's cold start stays light: what it loads is checked here, deterministically, beside its timed figure.

`make bench` (bench/ingest.py) measures ingest's cold start against its floor, which wall time on a shared
machine cannot hold steady enough for a test. What the figure is made of can be: building the frozen
dataclasses of the modules ingest imports is most of it (each compiles six generated methods: about 0.4% of
the floor, over a millisecond), and the import-linter contract cannot see that a module imported inside a function (the
reaction path, the federation) stays unloaded until a batch needs it. In a fresh process, as Lambda starts
one: import the handler and build its Ingestor, then look at what was loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Modules a batch loads only when it needs them: a reaction to carry out (a committed transition, a node
# warning's DrainNode, a drill's notice), federated apps (never read by ingest), and what no ingest ever needs.
LOADED_ON_DEMAND = (
    "ferry.domain.reactions",
    "ferry.executor.reactions",
    "ferry.adapters.stepfunctions",
    "ferry.adapters.reporting",
    "ferry.domain.runbooks",
    "ferry.domain.federation.apps",
    "ferry.domain.rehoming",
    "kubernetes",
)
# The dataclasses ingest builds at cold start today (2026-12: 28, cold/floor 1.165 under callgrind). A new one
# on this path costs ~0.4% of the floor: raise the budget only with the bench's figure in the commit message.
DATACLASS_BUDGET = 28

_PROBE = """
import dataclasses, importlib.util, inspect, json, sys
sys.path[:0] = [sys.argv[1]]
spec = importlib.util.spec_from_file_location("handler", sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.ingestor()
print(json.dumps({
    "modules": sorted(sys.modules),
    "dataclasses": sorted(
        f"{name}.{attr}"
        for name, loaded in list(sys.modules.items()) if name.startswith("ferry")
        for attr, value in vars(loaded).items()
        if inspect.isclass(value) and value.__module__ == name and dataclasses.is_dataclass(value)
    ),
}))
"""


def cold_start() -> dict[str, list[str]]:
    env = {
        **os.environ,
        "FERRY_TABLE": "cold-start",
        "FERRY_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:ferry",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    layer, handler = ROOT / "layers/ferry/python", ROOT / "functions/ingest/handler.py"
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(layer), str(handler)], env=env, capture_output=True, text=True, check=True
    )
    loaded: dict[str, list[str]] = json.loads(out.stdout)
    return loaded


def test_ingest_cold_start_leaves_the_reaction_path_and_the_federation_unloaded_within_its_dataclass_budget() -> None:
    loaded = cold_start()

    assert not [m for m in loaded["modules"] if m.startswith(LOADED_ON_DEMAND)]
    assert len(loaded["dataclasses"]) <= DATACLASS_BUDGET, loaded["dataclasses"]
