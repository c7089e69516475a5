"""Ferry's shape holds, and the checks that hold it can fail.

The import-linter contracts in pyproject.toml put every module of the `ferry` package in a layer by its folder
(docs/ARCHITECTURE.md). A contract that cannot fail is worthless, so the forbidden imports a maintainer could
plausibly add are planted in a copy of the tree and the linter must reject each one. What import-linter cannot
see is checked here directly: handlers import only what a handler should, and nothing but
`ferry.services.clocks` reads the time of day.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "ferry" / "python" / "ferry"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# Each plant: (file relative to the package, line appended, contract id that must break, text of the violation).
PLANTS = [
    pytest.param(
        "domain/detection/zones.py",
        "from ferry.observability import logger",
        "The domain is pure",
        "ferry.domain.detection.zones -> ferry.observability",
        id="domain-logs",
    ),
    pytest.param(
        "domain/newrule.py",
        "import time",
        "The domain is pure",
        "ferry.domain.newrule -> time",
        id="new-domain-module-reads-the-clock",
    ),
    pytest.param(
        "domain/rehoming/planner.py",
        "import ferry.services.rehoming",
        "The domain is pure",
        "ferry.domain.rehoming.planner -> ferry.services.rehoming",
        id="planner-imports-a-service",
    ),
    pytest.param(
        "adapters/fencing.py",
        "import ferry.executor.plans",
        "Services orchestrate, the executor acts",
        "ferry.adapters.fencing -> ferry.executor.plans",
        id="adapter-imports-the-executor",
    ),
    pytest.param(
        "helpers.py",
        "",
        "Services orchestrate, the executor acts",
        "ferry.helpers",
        id="new-module-outside-every-layer",
    ),
    pytest.param(
        "services/probe.py",
        "import boto3",
        "Only the adapters import boto3",
        "ferry.services.probe -> boto3",
        id="service-imports-boto3",
    ),
    pytest.param(
        "services/ingestion.py",
        "import ferry.domain.rehoming.planner",
        "Ingest stays light",
        "ferry.services.ingestion -> ferry.domain.rehoming.planner",
        id="ingest-imports-the-planner",
    ),
    pytest.param(
        "services/ingestion.py",
        "import ferry.services.settings.rehoming",
        "Ingest stays light",
        "ferry.services.ingestion -> ferry.services.settings.rehoming",
        id="ingest-imports-the-re-homing-settings",
    ),
    pytest.param(
        "domain/translators/health.py",
        "import ferry.domain.detection.zones",
        "Translators, the detector, the re-homing planner and the federation",
        "ferry.domain.translators.health -> ferry.domain.detection.zones",
        id="translator-imports-the-detector",
    ),
    pytest.param(
        "domain/federation/distribution.py",
        "import ferry.domain.detection.zones",
        "Translators, the detector, the re-homing planner and the federation",
        "ferry.domain.federation.distribution -> ferry.domain.detection.zones",
        id="distribution-imports-the-detector",
    ),
    pytest.param(
        "domain/federation/apps.py",
        "import ferry.adapters.registry",
        "The domain is pure",
        "ferry.domain.federation.apps -> ferry.adapters.registry",
        id="federation-model-reads-the-registry",
    ),
    pytest.param(
        "services/snapshotting.py",
        "import ferry.services.ingestion",
        "Each function's service stands alone",
        "ferry.services.snapshotting -> ferry.services.ingestion",
        id="one-service-imports-another",
    ),
    pytest.param(
        "domain/signals.py",
        "import sandbox.world",
        "The product never imports the sandbox",
        "ferry.domain.signals -> sandbox.world",
        id="product-imports-the-sandbox",
    ),
]


@pytest.fixture(scope="module")
def planted_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package, the sandbox and the contracts, with every plant in it at once (one linter run)."""
    tree = tmp_path_factory.mktemp("planted")
    shutil.copytree(PACKAGE, tree / "layers/ferry/python/ferry", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "sandbox", tree / "sandbox", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for param in PLANTS:
        relative, line = param.values[0], param.values[1]
        target = tree / "layers/ferry/python/ferry" / relative
        existing = target.read_text() if target.exists() else '"""Planted by a test."""\n'
        target.write_text(existing + ("\n" + line + "\n" if line else ""))
    return tree


@pytest.fixture(scope="module")
def lint_report(planted_tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{planted_tree / 'layers/ferry/python'}{os.pathsep}{planted_tree}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        check=False,  # a broken contract exits 1: that is the outcome under test
        cwd=planted_tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_linter_rejects_the_planted_tree(lint_report: subprocess.CompletedProcess[str]) -> None:
    assert lint_report.returncode != 0, lint_report.stdout


@pytest.mark.parametrize(("relative", "line", "contract", "violation"), PLANTS)
def test_each_planted_import_breaks_its_contract(
    lint_report: subprocess.CompletedProcess[str], relative: str, line: str, contract: str, violation: str
) -> None:
    broken = lint_report.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, f"contract {contract!r} was not reported broken:\n{lint_report.stdout}"
    # The contract's section runs from its header to the next broken contract's header.
    start = broken.index(contract)
    headers = {p.values[2] for p in PLANTS}
    ends = [i for h in headers if (i := broken.find(h, start + len(contract))) != -1]
    section = broken[start : min(ends, default=len(broken))]
    assert violation in section, f"{violation!r} not named under {contract!r}:\n{section}"


# --- handlers ---------------------------------------------------------------------------------------------------

HANDLERS = sorted((ROOT / "functions").glob("*/handler.py"))
STDLIB_FOR_HANDLERS = {"__future__", "os", "functools", "typing"}


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def handler_may_import(module: str) -> bool:
    """Services, Powertools (and Ferry's shared Powertools objects), the typed models a handler parses its event
    into (STYLE.md: parse, call one service, return a model), and the few standard modules a handler needs."""
    top = module.split(".", maxsplit=1)[0]
    return (
        top in STDLIB_FOR_HANDLERS
        or top == "aws_lambda_powertools"
        or module == "ferry.observability"
        or module.startswith("ferry.services.")
        or (module.startswith("ferry.domain.") and module.endswith(".models"))
    )


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_a_handler_imports_only_services_powertools_and_its_models(handler: Path) -> None:
    forbidden = [m for m in _imported_modules(handler) if not handler_may_import(m)]
    assert forbidden == [], f"{handler.parent.name} imports {forbidden}"


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        pytest.param("boto3", False, id="boto3"),
        pytest.param("ferry.adapters.states", False, id="an-adapter"),
        pytest.param("ferry.executor.plans", False, id="the-executor"),
        pytest.param("ferry.domain.rehoming.planner", False, id="a-planner"),
        pytest.param("ferry.services.rehoming", True, id="a-service"),
        pytest.param("ferry.domain.rehoming.models", True, id="step-models"),
    ],
)
def test_the_handler_rule_itself(module: str, allowed: bool) -> None:
    assert handler_may_import(module) is allowed


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_a_handler_declares_the_clock_its_services_run_on(handler: Path) -> None:
    source = handler.read_text()
    assert "\nclock = system_clock\n" in source
    assert "clock=clock" in source, "the declared clock is not passed to the service"


# --- clocks -----------------------------------------------------------------------------------------------------

CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}


def clock_reads(source: str) -> list[str]:
    """`datetime.now()`, `time.time()` and the like: reads of the time of day."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in CLOCK_READS
        ):
            found.append(f"{node.func.value.id}.{node.func.attr}() at line {node.lineno}")
    return found


def test_only_the_clocks_module_reads_the_time_of_day() -> None:
    reads = {
        str(path.relative_to(PACKAGE)): found
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "services" / "clocks.py" and (found := clock_reads(path.read_text()))
    }
    assert reads == {}


def test_the_clock_rule_sees_a_clock_read() -> None:
    assert clock_reads("from datetime import datetime\nstamp = datetime.now()\n") == ["datetime.now() at line 2"]
