"""Reading a configuration document (parsed YAML or JSON) field by field, naming every problem at once (pure).

A file a person writes (a game-day scenario in `sandbox/scenarios/`, Ferry's clusters and federated apps in
`ferry.yaml`) deserves every mistake reported in one go, each with where it is and what was expected:

    ferry.yaml: apps[0].clusters.east-1.min: expected a whole number >= 0, got -1

`DocumentReader` reads the generic fields (mappings, strings, names, numbers, durations, choices, lists) and
collects the problems; a reader for one kind of file subclasses it with that file's sections.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MISSING = object()


def parse_duration(value: object) -> float | None:
    """`90`, `90s`, `1m30s`, `15m`, `1h` -> seconds; None if it is not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if not isinstance(value, str) or not value.strip():
        return None
    match = _DURATION.match(value.strip())
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


class DocumentReader:
    """Reads a parsed document field by field, collecting problems instead of stopping at the first; each
    problem reads `<field path>: expected ..., got ...` (the caller prefixes its file)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[str] = []

    def fail(self, path: str, expected: str, got: object = MISSING) -> None:
        self.problems.append(f"{path}: expected {expected}" + ("" if got is MISSING else f", got {got!r}"))

    # fields

    def mapping(self, data: object, path: str, allowed: Iterable[str]) -> dict[str, Any] | None:
        if not isinstance(data, dict):
            self.fail(path or "(top level)", "a mapping", data)
            return None
        allowed = tuple(allowed)
        for key in data:
            if key not in allowed:
                self.problems.append(f"{join_path(path, key)}: unknown field; expected one of {', '.join(allowed)}")
        return data

    def get(self, data: Mapping[str, Any], key: str, path: str, default: object = MISSING) -> object:
        if key in data and data[key] is not None:
            return data[key]
        if default is MISSING:
            self.fail(join_path(path, key), "a value (required)")
            return None
        return default

    def text(self, data: Mapping[str, Any], key: str, path: str, default: object = MISSING) -> str:
        value = self.get(data, key, path, default)
        if not isinstance(value, str):
            if value is not None:
                self.fail(join_path(path, key), "a string", value)
            return ""
        return value

    def name(self, data: Mapping[str, Any], key: str, path: str) -> str:
        value = self.text(data, key, path)
        if value and not NAME.match(value):
            self.fail(join_path(path, key), "a DNS-1123 name (lowercase letters, digits, '-')", value)
        return value

    def integer(self, data: Mapping[str, Any], key: str, path: str, default: object = MISSING, *, low: int = 0) -> int:
        value = self.get(data, key, path, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            if value is not None:
                self.fail(join_path(path, key), f"a whole number >= {low}", value)
            return low
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str, low: float, high: float) -> float:
        value = self.get(data, key, path)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            if value is not None:
                self.fail(join_path(path, key), f"a number from {low:g} to {high:g}", value)
            return low
        return float(value)

    def flag(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = self.get(data, key, path, default)
        if not isinstance(value, bool):
            self.fail(join_path(path, key), "true or false", value)
            return default
        return value

    def duration(self, data: Mapping[str, Any], key: str, path: str, default: object = MISSING) -> float:
        value = self.get(data, key, path, default)
        seconds = parse_duration(value)
        if seconds is None:
            if value is not None:
                self.fail(join_path(path, key), "a duration like 90s, 5m or 1m30s", value)
            return 0.0
        return seconds

    def optional_duration(self, data: Mapping[str, Any], key: str, path: str, default: float | None) -> float | None:
        """A duration, or None when absent without default or written `key: never`."""
        if data.get(key) == "never":
            return None
        if key not in data:
            return default
        return self.duration(data, key, path)

    def choice(
        self, data: Mapping[str, Any], key: str, path: str, allowed: Iterable[str], default: object = MISSING
    ) -> str:
        value = self.get(data, key, path, default)
        allowed = tuple(allowed)
        if value not in allowed:
            if value is not None:
                self.fail(join_path(path, key), f"one of {', '.join(allowed)}", value)
            return ""
        return str(value)

    def items(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> list[tuple[str, Any]]:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(join_path(path, key), "a non-empty list (required)")
            return []
        if not isinstance(value, list) or (required and not value):
            self.fail(join_path(path, key), "a non-empty list" if required else "a list", value)
            return []
        return [(f"{join_path(path, key)}[{n}]", item) for n, item in enumerate(value)]

    def unique(self, values: Iterable[object], path: str, what: str) -> None:
        seen: set[object] = set()
        for value in values:
            if value in seen:
                self.fail(path, f"distinct {what}", f"{value} twice")
            seen.add(value)


def join_path(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)
