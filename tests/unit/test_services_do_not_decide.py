"""Dry run and mode are decided in the executor alone (ferry/executor/__init__.py): a service hands the requested
`dryRun` to the executor and builds its answer from what the executor says it did. This reads every service
module's syntax tree and fails on a service that decides again: one that names `Mode` or `may_act`, asks the
executor for its decision to act on it itself (`executor.dry_run(...)`), or branches on a mode or dry-run flag.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import ferry.services

SERVICES = Path(ferry.services.__file__).parent
# settings/ reads FERRY_MODE from the environment into the settings models (and validates it); it decides
# nothing, and the services only pass `settings.mode` on to the executor they build.
READS_THE_SETTING = "settings/"
FLAGS = {"mode", "dry_run", "dryRun"}


def _tests(tree: ast.AST) -> Iterator[ast.expr]:
    """Every expression a branch is taken on."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.IfExp | ast.While | ast.Assert):
            yield node.test
        elif isinstance(node, ast.comprehension):
            yield from node.ifs
        elif isinstance(node, ast.match_case) and node.guard is not None:
            yield node.guard


def _flag(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name) and node.id in FLAGS:
        return node.id
    if isinstance(node, ast.Attribute) and node.attr in FLAGS:
        return node.attr
    if isinstance(node, ast.Constant) and node.value in FLAGS:
        return repr(node.value)
    return None


def decisions(source: str, *, may_name_mode: bool = False) -> list[str]:
    """Where `source` decides on the mode or a dry run, as `line: what`; empty when it leaves that to the executor."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "may_act":
            found.append(f"{node.lineno}: may_act")
        elif isinstance(node, ast.ImportFrom) and any(a.name == "may_act" for a in node.names):
            found.append(f"{node.lineno}: imports may_act")
        elif not may_name_mode and isinstance(node, ast.Name) and node.id == "Mode":
            found.append(f"{node.lineno}: Mode")
        elif not may_name_mode and isinstance(node, ast.ImportFrom) and node.module == "ferry.domain.modes":
            found.append(f"{node.lineno}: imports ferry.domain.modes")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "dry_run":
            found.append(f"{node.lineno}: asks .dry_run(...)")
    for test in _tests(tree):
        for node in ast.walk(test):
            if (flag := _flag(node)) is not None:
                found.append(f"{test.lineno}: branches on {flag}")
    return found


@pytest.mark.parametrize("module", sorted(p.relative_to(SERVICES).as_posix() for p in SERVICES.rglob("*.py")))
def test_no_service_decides_on_the_mode_or_a_dry_run(module: str) -> None:
    source = (SERVICES / module).read_text()

    assert decisions(source, may_name_mode=module.startswith(READS_THE_SETTING)) == [], (
        f"ferry/services/{module} decides what only the executor may: pass the requested dryRun to the executor "
        "and build the answer from what it did"
    )


@pytest.mark.parametrize(
    ("source", "found"),
    [
        pytest.param("if settings.mode is Mode.OBSERVE:\n    pass\n", ["1: Mode", "1: branches on mode"], id="mode"),
        pytest.param("from ferry.executor import may_act\n", ["1: imports may_act"], id="may-act-import"),
        pytest.param("acting = may_act(settings.mode)\n", ["1: may_act"], id="may-act-call"),
        pytest.param("dry = self.executor.dry_run(job.dry_run)\n", ["1: asks .dry_run(...)"], id="asks-executor"),
        pytest.param("if job.dry_run:\n    pass\n", ["1: branches on dry_run"], id="job-flag"),
        pytest.param("x = 1 if body.get('dryRun') else 2\n", ["1: branches on 'dryRun'"], id="event-flag"),
        pytest.param("steps = [s for s in plan if not dry_run]\n", ["1: branches on dry_run"], id="comprehension"),
    ],
)
def test_the_guard_sees_each_way_of_deciding(source: str, found: list[str]) -> None:
    assert decisions(source) == found


def test_the_guard_lets_a_service_pass_the_flag_through_and_read_the_executors_answer() -> None:
    source = (
        "journaled = self.executor.journal_plans(run_id, plans, dry_run=bool(body.get('dryRun', False)))\n"
        "if execution.status(step) is StepStatus.NOT_CONFIRMED:\n    notify()\n"
        "if not done.acted:\n    pass\n"
    )
    assert decisions(source) == []
