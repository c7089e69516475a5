"""Reading Ferry's configuration file (`ferry.yaml`: member clusters and federated apps) for the app.

The file is parsed here and checked by the Ferry package's own reader (`ferry.domain.configuration`, pure),
the same rules the tests apply, so that `make synth` refuses a bad file before anything is built and names
every problem as `<file>: <entry>.<field>: expected ...`. What the file declares is written into the registry
on deploy (cdk/registry.py).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cdk.constants import REPO_ROOT
from ferry.domain.configuration import Configuration, read_configuration
from ferry.domain.errors import InputError


class ConfigurationError(ValueError):
    """The configuration file is missing, not YAML, or wrong; one line per problem, each naming the file."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = [f"{file}: {problem}" for problem in problems]
        super().__init__("\n".join(self.problems))


def load_configuration(path: Path) -> Configuration:
    shown = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigurationError(shown, [f"cannot read: {error.strerror}"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigurationError(shown, [f"{where}not valid YAML ({getattr(error, 'problem', error)})"]) from None
    try:
        return read_configuration(raw)
    except InputError as error:
        raise ConfigurationError(shown, error.problems) from None
