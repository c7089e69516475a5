"""Typed readers for raw event payloads, each naming the exact field when it is missing or malformed.

AWS events arrive as untyped JSON. Every translator reads them through these few helpers so that a malformed
event always fails the same way: `EventParseError` with a dotted path (``detail.instance-id``) and a short
problem ("missing", "expected a string, got int"), which is what ends up in the log line and the DLQ reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ferry.domain.errors import EventParseError

_JSON_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "int",
    float: "float",
    type(None): "null",
}


def type_name(value: object) -> str:
    """The JSON name of a value's type, as used in "expected a string, got int"."""
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def join_path(parent: str, key: str | int) -> str:
    """`detail` + `state` -> `detail.state`; list indexes become `detail.affectedEntities[2]`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def require_mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EventParseError(path, f"expected an object, got {type_name(value)}")
    return value


def require_list(value: object, path: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise EventParseError(path, f"expected an array, got {type_name(value)}")
    return value


def require_str(value: object, path: str) -> str:
    """A non-empty string: an empty id, name or state is as useless as a missing one."""
    if not isinstance(value, str):
        raise EventParseError(path, f"expected a string, got {type_name(value)}")
    if not value:
        raise EventParseError(path, "expected a non-empty string, got an empty one")
    return value


def get_mapping(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    return require_mapping(_get(parent, key, path), join_path(path, key))


def get_str(parent: Mapping[str, Any], key: str, path: str) -> str:
    return require_str(_get(parent, key, path), join_path(path, key))


def get_optional_str(parent: Mapping[str, Any], key: str, path: str) -> str | None:
    """An optional string: absent, null or empty all mean "not given"; any other type is an error."""
    value = parent.get(key)
    if value is None or value == "":
        return None
    return require_str(value, join_path(path, key))


def get_optional_mapping(parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = parent.get(key)
    return None if value is None else require_mapping(value, join_path(path, key))


def get_optional_list(parent: Mapping[str, Any], key: str, path: str) -> Sequence[Any]:
    """An optional array; absent or null reads as empty."""
    value = parent.get(key)
    return () if value is None else require_list(value, join_path(path, key))


def get_optional_text(parent: Mapping[str, Any], key: str) -> str | None:
    """Any JSON value rendered as (truncated) text, for free-form fields copied into evidence only.

    Some fields are documented as strings but arrive as JSON objects when the user put JSON in them
    (Auto Scaling's NotificationMetadata); refusing those would send a valid event to the DLQ.
    """
    value = parent.get(key)
    if value is None or value == "":
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return truncate(text)


def get_enum[E: StrEnum](parent: Mapping[str, Any], key: str, path: str, enum: type[E]) -> E:
    """A string that must be one of `enum`'s values; anything else names the allowed ones."""
    raw = get_str(parent, key, path)
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise EventParseError(join_path(path, key), f"expected one of {allowed}, got {raw!r}") from None


def get_time(parent: Mapping[str, Any], key: str, path: str) -> datetime:
    """An ISO-8601 time with an offset (EventBridge writes `2019-10-02T17:04:40Z`), returned in UTC."""
    raw = get_str(parent, key, path)
    field = join_path(path, key)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise EventParseError(field, f"not an ISO-8601 time: {raw!r}") from None
    if parsed.tzinfo is None:
        raise EventParseError(field, f"ISO-8601 time without a UTC offset: {raw!r}")
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise EventParseError(field, f"time out of range: {raw!r}") from None


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
# RFC 1123, as AWS Health writes its times in EventBridge events: "Wed, 25 Nov 2026 11:40:00 GMT".
# A pattern, not a compiled object: few events carry such a date, and `re` compiles it once on first use.
_HTTP_DATE = r"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|\+0000)"


def get_optional_event_time(parent: Mapping[str, Any], key: str, path: str) -> datetime | None:
    """An optional time as AWS Health writes it (RFC 1123, `Wed, 25 Nov 2026 11:40:00 GMT`) or ISO-8601.

    Parsed by hand: `email.utils` would pull `time` into the pure domain, and `strptime`'s month names
    follow the locale.
    """
    raw = get_optional_str(parent, key, path)
    if raw is None:
        return None
    match = re.fullmatch(_HTTP_DATE, raw.strip())
    if match is None:
        return get_time(parent, key, path)
    day, month, year, hour, minute, second = match.groups()
    field = join_path(path, key)
    if month.lower() not in _MONTHS:
        raise EventParseError(field, f"not a time: {raw!r}")
    try:
        return datetime(int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError:
        raise EventParseError(field, f"not a time: {raw!r}") from None


def only_one[T](values: Iterable[T | None]) -> T | None:
    """The single distinct value among `values` (Nones ignored); None when there is none or several.

    An alarm over metrics of two zones, or a resource list naming two zones, places the signal in neither.
    """
    distinct = set(values) - {None}
    return distinct.pop() if len(distinct) == 1 else None


def truncate(text: str, limit: int = 300) -> str:
    """Keep evidence small: alarm reasons and notes can run to kilobytes."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _get(parent: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in parent:
        raise EventParseError(join_path(path, key), "missing")
    return parent[key]
