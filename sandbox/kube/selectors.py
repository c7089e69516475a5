"""Label and field selectors: the `labelSelector`/`fieldSelector` query syntax and `metav1.LabelSelector`.

The grammar follows `k8s.io/apimachinery/pkg/labels` (equality, `in`/`notin`, exists, `!key`, `>`/`<`) and
`pkg/fields` (`=`, `==`, `!=` with backslash escapes). Field values come from the same per-kind field label
functions the real server registers, so `spec.nodeName=` matches unscheduled pods, as it does there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.kube.objects import Obj

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SPECIAL = set("=!(),<> \t")


class SelectorError(ValueError):
    """A selector that does not parse; the REST layer answers 400 BadRequest with its message."""


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return "prefix part must be non-empty"
    if prefix and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > 63:
        return "must be no more than 63 characters"
    if not _VALUE.match(value):
        return (
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    return None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if not present:
            return False
        try:
            actual, bound = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return actual > bound if self.operator == "Gt" else actual < bound


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; `nothing` is the nil selector, which matches no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.nothing and all(req.matches(labels) for req in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.requirements


NOTHING = LabelSelector(nothing=True)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t":
            i += 1
        elif text.startswith(("==", "!="), i):
            tokens.append(text[i : i + 2])
            i += 2
        elif char in "=!(),<>":
            tokens.append(char)
            i += 1
        else:
            start = i
            while i < len(text) and text[i] not in _SPECIAL:
                i += 1
            tokens.append(text[start:i])
    return tokens


def parse_label_selector(text: str) -> LabelSelector:
    """Parse `labelSelector=` query text; SelectorError when it does not parse or names invalid labels."""
    tokens = _tokens(text)
    requirements: list[Requirement] = []
    pos = 0

    def fail(problem: str) -> SelectorError:
        return SelectorError(f"unable to parse requested label selector {text!r}: {problem}")

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise fail("unexpected end of selector")
        pos += 1
        return tokens[pos - 1]

    def key_token() -> str:
        key = take()
        if key in "=!(),<>" or key in ("==", "!="):
            raise fail(f"found '{key}', expected: identifier")
        problem = label_key_problem(key)
        if problem:
            raise fail(f"invalid label key {key!r}: {problem}")
        return key

    def value_token() -> str:
        value = tokens[pos] if pos < len(tokens) else ""
        if value in ("", ",", ")") or value in "=!(<>":
            return ""
        take()
        problem = label_value_problem(value)
        if problem:
            raise fail(f"invalid label value: {value!r}: {problem}")
        return value

    while pos < len(tokens):
        if tokens[pos] == "!":
            pos += 1
            requirements.append(Requirement(key_token(), "DoesNotExist"))
        else:
            key = key_token()
            operator = tokens[pos] if pos < len(tokens) else ","
            if operator == ",":
                requirements.append(Requirement(key, "Exists"))
            elif operator in ("=", "=="):
                pos += 1
                requirements.append(Requirement(key, "In", (value_token(),)))
            elif operator == "!=":
                pos += 1
                requirements.append(Requirement(key, "NotIn", (value_token(),)))
            elif operator in (">", "<"):
                pos += 1
                bound = take()
                if not re.fullmatch(r"-?[0-9]+", bound):
                    raise fail(f"for 'Gt', 'Lt' operators, the value must be an integer, not {bound!r}")
                requirements.append(Requirement(key, "Gt" if operator == ">" else "Lt", (bound,)))
            elif operator in ("in", "notin"):
                pos += 1
                if take() != "(":
                    raise fail("found end of set, expected: '('")
                values: list[str] = []
                while True:
                    values.append(value_token())
                    closing = take()
                    if closing == ")":
                        break
                    if closing != ",":
                        raise fail(f"found '{closing}', expected: ',' or ')'")
                requirements.append(Requirement(key, "In" if operator == "in" else "NotIn", tuple(values)))
            else:
                raise fail(f"found '{operator}', expected: '=', '!=', '==', 'in', notin'")
        if pos < len(tokens):
            if tokens[pos] != ",":
                raise fail(f"found '{tokens[pos]}', expected: ',' or 'end of string'")
            pos += 1
            if pos >= len(tokens):
                raise fail("found '', expected: identifier after ','")
    return LabelSelector(tuple(requirements))


def from_label_selector(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A `metav1.LabelSelector` object; None selects nothing, `{}` selects everything (as in policy/v1)."""
    if selector is None:
        return NOTHING
    requirements = [Requirement(key, "In", (str(value),)) for key, value in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        operator = expression.get("operator")
        values = tuple(expression.get("values") or ())
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise SelectorError(f'"{operator}" is not a valid label selector operator')
        requirements.append(Requirement(expression.get("key", ""), operator, values))
    return LabelSelector(tuple(requirements))


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """The text form of a LabelSelector, as `status.selector` of a Scale reports it."""
    if not selector:
        return ""
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key} {operator.lower()} ({','.join(sorted(values))})")
    return ",".join(parts)


# --- fields -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    equal: bool


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current) + ("\\" if escaped else ""))
    return parts


def _unescape(value: str) -> str:
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise SelectorError(f"invalid field selector: unescaped {char!r} in value")
        else:
            out.append(char)
    if escaped:
        raise SelectorError("invalid field selector: unterminated escape sequence")
    return "".join(out)


def parse_field_selector(text: str) -> tuple[FieldRequirement, ...]:
    requirements = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        for operator, equal in (("!=", False), ("==", True), ("=", True)):
            index = term.find(operator)
            if index > 0:
                field = term[:index]
                requirements.append(FieldRequirement(field, _unescape(term[index + len(operator) :]), equal))
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
    return tuple(requirements)


def _path(*keys: str) -> Callable[[Obj], str]:
    def extract(obj: Obj) -> str:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return extract


def field_value(obj: Obj, label: str) -> str:
    """The value of a supported field label on an object (missing fields read as "" or "false")."""
    if label in ("spec.unschedulable", "spec.hostNetwork"):
        return _path(*label.split("."))(obj) or "false"
    if label == "source":
        return _path("source", "component")(obj)
    return _path(*label.split("."))(obj)


def fields_match(obj: Obj, requirements: tuple[FieldRequirement, ...]) -> bool:
    return all((field_value(obj, req.field) == req.value) == req.equal for req in requirements)
