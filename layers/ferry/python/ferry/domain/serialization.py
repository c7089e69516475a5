"""One converter between Ferry's frozen dataclasses and their JSON, in both directions (pure).

Every model that crosses a boundary (a Step Functions state, a DynamoDB item, the journal, the outbox) gets its
JSON from its fields rather than from a hand-written pair, so the two directions cannot drift apart:

- the key is the field's name (snake_case: the form stored in DynamoDB), or its camelCase for a
  `CamelJsonModel` (what the state machines pass between Tasks), unless the field names its own key
  (`field(metadata=wire(key="statefulSet"))`);
- enums travel by value, datetimes as `isoformat()` text, timedeltas as whole seconds, tuples as lists,
  mappings as objects, nested models as their own JSON (their `to_dict`/`from_dict`, so a model may
  specialise its own form and its containers follow);
- an Optional field is written as null, or left out while empty if the field says `omit_empty`;
- reading checks every value's type and names each wrong field by its path in the JSON
  (`pets[1].ordinal: expected int, got '0'`), all of them in one `InputError`. Keys the model does not know
  are ignored (a Step Functions state carries more than one step reads). A field absent or null takes its
  default; without one it is None if Optional, else `<key>: required`.

What a field's type cannot say (a pair list kept as an object, say) goes in `wire(dump=..., load=...)`.
The per-class work (types, keys, converters) is done once per class and direction, on first use rather than
at import: a cold start touches only a few classes, and a step that only writes a model never builds its reader.
"""

from __future__ import annotations

import builtins
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, fields
from datetime import datetime, timedelta
from enum import Enum
from functools import reduce
from operator import attrgetter, methodcaller, or_
from typing import Any, ClassVar, Self, Union, cast, get_args, get_origin

from ferry.domain.errors import InputError

Dump = Callable[[Any], Any]
Load = Callable[[Any, str], Any]  # (the JSON value, its path) -> the field's value; raises InputError

_KEY, _OMIT_EMPTY, _DUMP, _LOAD = "json.key", "json.omit_empty", "json.dump", "json.load"
_REQUIRED, _NONE, _DEFAULT = 0, 1, 2  # what an absent or null key means for a field


def wire(
    key: str | None = None,
    *,
    omit_empty: bool = False,
    dump: Dump | None = None,
    load: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """Field metadata for what the field's name and type do not say: its JSON key, that it is left out while
    empty (None or ""), or its own converters (`load` raises ValueError or TypeError on a bad value)."""
    return {_KEY: key, _OMIT_EMPTY: omit_empty, _DUMP: dump, _LOAD: load}


class JsonModel:
    """A frozen dataclass with `to_dict`/`from_dict` by this module's converter; keys are the field names."""

    __slots__ = ()
    camel_case: ClassVar[bool] = False

    def to_dict(self) -> dict[str, Any]:
        return dump(self)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        return load(cls, data)


class CamelJsonModel(JsonModel):
    """The same, keys in camelCase (`instance_id` -> `instanceId`)."""

    __slots__ = ()
    camel_case = True


def dump(model: Any) -> dict[str, Any]:
    """A dataclass instance as a JSON-ready dict, keys in field order."""
    writer = _writer(type(model))
    values = writer.values(model)
    out = dict(zip(writer.keys, values))  # noqa: B905 (equal lengths by construction): every key in field order
    for index, key, convert in writer.converted:
        value = values[index]
        if value is not None:
            out[key] = convert(value)
    for index, key in writer.omitted:
        if not values[index]:
            del out[key]
    return out


def load[M](cls: type[M], data: Any) -> M:
    """The dataclass `cls` from its JSON; every problem named in one InputError."""
    if not isinstance(data, Mapping):
        raise InputError([f"{cls.__name__}: expected an object, got {type(data).__name__}"])
    values: dict[str, Any] = {}
    problems: list[str] = []
    reader = _READERS.get(cls)
    if reader is None:
        reader = _READERS[cls] = _reader(cls)
    for name, key, absent, convert in reader:
        raw = data.get(key)
        if raw is None:
            if absent == _REQUIRED:
                problems.append(f"{key}: required")
            elif absent == _NONE:
                values[name] = None
            continue
        try:
            values[name] = convert(raw, key)
        except InputError as error:
            problems += error.problems
    if problems:
        raise InputError(problems)
    return cast(Any, cls)(**values)  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------ per-class plans


class _Writer:
    """What `dump` needs of one class, worked out once: its keys, and which fields need converting."""

    __slots__ = ("converted", "keys", "omitted", "values")

    def __init__(self, cls: type) -> None:
        hints = _types(cls)
        names: list[str] = []
        keys: list[str] = []
        converted: list[tuple[int, str, Dump]] = []
        omitted: list[tuple[int, str]] = []
        for spec in _fields(cls):
            key = _key(cls, spec)
            convert = spec.metadata.get(_DUMP) or _dumper(hints[spec.name])
            if convert is not None:
                converted.append((len(names), key, convert))
            if spec.metadata.get(_OMIT_EMPTY):
                omitted.append((len(names), key))
            names.append(spec.name)
            keys.append(key)
        # One C call reads every field (attrgetter of one name returns the value itself, not a 1-tuple).
        getter = attrgetter(*names) if names else lambda model: ()
        self.values: Callable[[Any], tuple[Any, ...]] = getter if len(names) != 1 else lambda m: (getter(m),)
        self.keys: tuple[str, ...] = tuple(keys)
        self.converted: tuple[tuple[int, str, Dump], ...] = tuple(converted)
        self.omitted: tuple[tuple[int, str], ...] = tuple(omitted)


def _reader(cls: type) -> tuple[tuple[str, str, int, Load], ...]:
    """What `load` needs of one class: per field its name, key, meaning of absence, and converter."""
    hints, found = _types(cls), []
    for spec in _fields(cls):
        kind = hints[spec.name]
        has_default = spec.default is not MISSING or spec.default_factory is not MISSING
        absent = _DEFAULT if has_default else _NONE if _optional(kind) else _REQUIRED
        custom = spec.metadata.get(_LOAD)
        found.append((spec.name, _key(cls, spec), absent, _custom(custom) if custom else _loader(kind)))
    return tuple(found)


# Filled on first use of each class and direction: a step that only writes a model never builds its reader.
_WRITERS: dict[type, _Writer] = {}
_READERS: dict[type, tuple[tuple[str, str, int, Load], ...]] = {}


def _writer(cls: type) -> _Writer:
    try:
        return _WRITERS[cls]
    except KeyError:
        writer = _WRITERS[cls] = _Writer(cls)
        return writer


def _types(cls: type) -> dict[str, Any]:
    """Each field's type, from its annotation's text (`from __future__ import annotations`), read in the
    module that declares the field. Like `typing.get_type_hints`, but each distinct text is read once per
    module, not once per field and class: `get_type_hints` compiles every annotation, a few hundred
    microseconds a class at a cold start, while models repeat a handful of texts (`str`, `str | None`)."""
    declared_in = {}
    for klass in reversed(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            declared_in[name] = klass.__module__
    found = {}
    for spec in _fields(cls):
        kind = spec.type
        if isinstance(kind, str):
            kind = _annotation(declared_in.get(spec.name, cls.__module__), kind)
        found[spec.name] = kind
    return found


_ANNOTATIONS: dict[tuple[str, str], Any] = {}


def _annotation(module: str, text: str) -> Any:
    try:
        return _ANNOTATIONS[module, text]
    except KeyError:
        pass
    namespace = vars(sys.modules[module])
    names = text.split(" | ")
    if all(name.isidentifier() for name in names):  # `str`, `str | None`: looked up, nothing to compile
        kind = reduce(or_, (namespace[n] if n in namespace else getattr(builtins, n) for n in names))
    else:
        kind = eval(text, namespace)  # what get_type_hints does with an annotation's text
    _ANNOTATIONS[module, text] = kind
    return kind


def _fields(cls: type) -> list[Field[Any]]:
    return [spec for spec in fields(cls) if spec.init]


def _key(cls: type, spec: Field[Any]) -> str:
    return spec.metadata.get(_KEY) or (_camel(spec.name) if getattr(cls, "camel_case", False) else spec.name)


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _optional(kind: Any) -> bool:
    return get_origin(kind) in (Union, types.UnionType) and type(None) in get_args(kind)


def _members(kind: Any) -> tuple[Any, ...]:
    """The types of a union other than None (the type itself if it is no union)."""
    if get_origin(kind) in (Union, types.UnionType):
        return tuple(k for k in get_args(kind) if k is not type(None))
    return (kind,)


# ----------------------------------------------------------------------------------------------- writing


_enum_value = attrgetter("value")


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())


_model_dict = methodcaller("to_dict")  # the model's own, so a model that specialises its JSON is written so


def _dumper(kind: Any) -> Dump | None:
    """How to write a value of `kind` as JSON; None when it already is JSON."""
    members = _members(kind)
    if len(members) > 1:
        found = {_dumper(k) for k in members}
        if len(found) != 1:
            raise TypeError(f"{kind}: a union's members must share one JSON form")
        return found.pop()
    kind = members[0]
    origin, args = get_origin(kind), get_args(kind)
    if origin is tuple:
        items = [_dumper(a) for a in args if a is not Ellipsis]
        if all(item is None for item in items):
            return list
        if len(args) == 2 and args[1] is Ellipsis:
            item = items[0]
            return lambda value: [item(v) for v in value]  # type: ignore[misc]
        return lambda value: [v if f is None else f(v) for f, v in zip(items, value, strict=True)]
    if (origin is not None and issubclass(origin, Mapping)) or kind in (dict, Mapping):
        return dict
    if kind is Any or kind in (str, int, float, bool):
        return None
    if isinstance(kind, type):
        if issubclass(kind, Enum):
            return _enum_value
        if issubclass(kind, datetime):
            return datetime.isoformat
        if issubclass(kind, timedelta):
            return _seconds
        if hasattr(kind, "to_dict"):
            return _model_dict
    raise TypeError(f"{kind}: no JSON form")


# ----------------------------------------------------------------------------------------------- reading


def _expected(what: str, raw: Any, path: str) -> InputError:
    return InputError([f"{path}: expected {what}, got {raw!r}"])


def _loader(kind: Any) -> Load:
    """How to read a value of `kind` from JSON (never None: absent and null keys are the caller's)."""
    members = _members(kind)
    if len(members) > 1:
        if all(isinstance(k, type) and issubclass(k, Enum) for k in members):
            return _enum_loader(members)
        raise TypeError(f"{kind}: only a union of enums can be read")
    kind = members[0]
    origin, args = get_origin(kind), get_args(kind)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _items_loader(_loader(args[0]))
        return _fixed_loader(tuple(_loader(a) for a in args))
    if (origin is not None and issubclass(origin, Mapping)) or kind in (dict, Mapping):
        return _load_object
    if kind is Any:
        return _load_any
    if kind is int:
        return _load_int
    if kind is float:
        return _load_float
    if kind in (str, bool):
        return _exact_loader(kind)
    if isinstance(kind, type):
        if issubclass(kind, Enum):
            return _enum_loader((kind,))
        if issubclass(kind, datetime):
            return _load_time
        if issubclass(kind, timedelta):
            return _load_seconds
        if hasattr(kind, "from_dict"):
            return _model_loader(kind)
    raise TypeError(f"{kind}: cannot be read from JSON")


def _load_any(raw: Any, path: str) -> Any:
    return raw


def _load_int(raw: Any, path: str) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    raise _expected("int", raw, path)


def _load_float(raw: Any, path: str) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    raise _expected("int or float", raw, path)


def _exact_loader(kind: type) -> Load:
    def load_exact(raw: Any, path: str) -> Any:
        if isinstance(raw, kind):
            return raw
        raise _expected(kind.__name__, raw, path)

    return load_exact


def _enum_loader(enums: tuple[type[Enum], ...]) -> Load:
    """By value; for a union of enums (a transition's from/to status), the first enum that has the value."""
    by_value: dict[Any, Enum] = {}
    for enum in enums:
        for member in enum:
            by_value.setdefault(member.value, member)
    allowed = ", ".join(str(v) for v in by_value)

    def load_enum(raw: Any, path: str) -> Enum:
        if not isinstance(raw, str):
            raise _expected("str", raw, path)
        try:
            return by_value[raw]
        except KeyError:
            raise _expected(f"one of {allowed}", raw, path) from None

    return load_enum


def _load_time(raw: Any, path: str) -> datetime:
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            pass
    raise _expected("an ISO 8601 time", raw, path)


def _load_seconds(raw: Any, path: str) -> timedelta:
    return timedelta(seconds=int(_load_float(raw, path)))


def _load_object(raw: Any, path: str) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    raise _expected("an object", raw, path)


def _items_loader(item: Load) -> Load:
    def load_items(raw: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(raw, list | tuple):
            raise _expected("list", raw, path)
        found, problems = [], []
        for index, value in enumerate(raw):
            try:
                found.append(item(value, f"{path}[{index}]"))
            except InputError as error:
                problems += error.problems
        if problems:
            raise InputError(problems)
        return tuple(found)

    return load_items


def _fixed_loader(items: tuple[Load, ...]) -> Load:
    def load_fixed(raw: Any, path: str) -> tuple[Any, ...]:
        if not isinstance(raw, list | tuple) or len(raw) != len(items):
            raise _expected(f"a list of {len(items)}", raw, path)
        return tuple(
            read(value, f"{path}[{index}]") for index, (read, value) in enumerate(zip(items, raw, strict=True))
        )

    return load_fixed


def _model_loader(cls: Any) -> Load:
    def load_model(raw: Any, path: str) -> Any:
        if not isinstance(raw, Mapping):
            raise _expected("an object", raw, path)
        try:
            return cls.from_dict(raw)
        except InputError as error:
            raise InputError([f"{path}.{problem}" for problem in error.problems]) from None

    return load_model


def _custom(convert: Callable[[Any], Any]) -> Load:
    def load_custom(raw: Any, path: str) -> Any:
        try:
            return convert(raw)
        except (TypeError, ValueError) as error:
            raise InputError([f"{path}: {error}"]) from None

    return load_custom
