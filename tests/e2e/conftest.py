"""End-to-end fixtures: scenario files written on the fly, for drills the shipped scenarios do not cover."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.scenario import SCENARIOS_DIR


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test here starts servers on 127.0.0.1 (moto, the fault proxy, Kubernetes API servers) and runs
    # Ferry's handlers, whose Powertools metrics warn about a round that had nothing to count.
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"))


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a scenario: a shipped one with text appended or replaced, or one given whole."""

    def write(text: str, base: str = "") -> Path:
        source = (SCENARIOS_DIR / f"{base}.yaml").read_text() if base else ""
        path = tmp_path / "drill.yaml"
        path.write_text(source + "\n" + text)
        return path

    return write
