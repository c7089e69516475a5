"""API errors as the real API server reports them: `Status` bodies with the same codes, reasons and messages.

Clients decide what to do from `reason` and `code` (and kubectl shows `message`), so every error the sandbox
returns is built here, worded as `k8s.io/apimachinery/pkg/api/errors` words it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.kube.resources import ResourceType

OPTIMISTIC_LOCK_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again"


class ApiError(Exception):
    """An error response: the HTTP code and the `Status` object the server sends with it."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


@dataclass(frozen=True)
class FieldError:
    """One validation failure, as `k8s.io/apimachinery/pkg/util/validation/field.Error`."""

    field: str
    type: str  # Required, Invalid, Forbidden, NotSupported, Duplicate, NotFound, TooLong
    detail: str = ""
    value: Any = None

    _REASONS = {
        "Required": ("FieldValueRequired", "Required value"),
        "Invalid": ("FieldValueInvalid", "Invalid value"),
        "Forbidden": ("FieldValueForbidden", "Forbidden"),
        "NotSupported": ("FieldValueNotSupported", "Unsupported value"),
        "Duplicate": ("FieldValueDuplicate", "Duplicate value"),
        "NotFound": ("FieldValueNotFound", "Not found"),
        "TooLong": ("FieldValueTooLong", "Too long"),
    }

    def body(self) -> str:
        """The message without the field path: "Invalid value: \"x\": must be ..."."""
        label = self._REASONS[self.type][1]
        parts = [label]
        if self.type in ("Invalid", "NotSupported", "Duplicate", "NotFound"):
            parts.append(_go_value(self.value))
        if self.detail:
            parts.append(self.detail)
        return ": ".join(parts)

    def error(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": self._REASONS[self.type][0], "message": self.body(), "field": self.field}


class GoValue(str):
    """A value already rendered the way Go's `%#v` prints it (`map[string]string{"app":"web"}`)."""


def go_map(labels: dict[str, str]) -> GoValue:
    inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(labels.items()))
    return GoValue(f"map[string]string{{{inner}}}")


def _go_value(value: Any) -> str:
    if isinstance(value, GoValue):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _details(rt: ResourceType | None, name: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name} if name else {}
    if rt is not None:
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
    details.update(extra)
    return details


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.group_resource} "{name}" not found', _details(rt, name))


def no_such_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.group_resource} "{name}" already exists', _details(rt, name))


def conflict(rt: ResourceType, name: str, problem: str = OPTIMISTIC_LOCK_MESSAGE, *, resource: str = "") -> ApiError:
    what = resource or rt.group_resource
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {what} "{name}": {problem}', _details(rt, name))


def precondition_failed(problem: str) -> ApiError:
    return ApiError(409, "Conflict", f"Precondition failed: {problem}", {})


def uid_precondition_failed(kind: str, name: str, expected: str, actual: str) -> ApiError:
    """A delete (or an eviction) naming an object by a uid it no longer has: it was deleted and recreated."""
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {kind} "{name}": the UID in the precondition ({expected}) does not '
        f"match the UID in record ({actual}). The object might have been deleted and then recreated",
        {"name": name, "kind": kind},
    )


def invalid(qualified_kind: str, group: str, name: str, errors: list[FieldError]) -> ApiError:
    summary = errors[0].error() if len(errors) == 1 else "[" + ", ".join(error.error() for error in errors) + "]"
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = qualified_kind.split(".", 1)[0]
    details["causes"] = [error.cause() for error in errors]
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)


def invalid_object(rt: ResourceType, name: str, errors: list[FieldError]) -> ApiError:
    return invalid(rt.qualified_kind, rt.group, name, errors)


def rejected_patch(problem: str) -> ApiError:
    """422 for a JSON patch that does not apply (a failed `test`, a missing path), as the real server says it."""
    return ApiError(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        {"causes": [{"reason": "UnexpectedServerResponse", "message": problem}]},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(rt: ResourceType, name: str, problem: str, causes: list[dict[str, str]] | None = None) -> ApiError:
    subject = f'{rt.group_resource} "{name}"' if name else rt.group_resource
    extra = {"causes": causes} if causes else {}
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {problem}", _details(rt, name, **extra))


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


def unsupported_media_type(content_type: str, accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
        {},
    )


def too_many_requests(message: str, *, retry_after: int = 0, causes: list[dict[str, str]] | None = None) -> ApiError:
    details: dict[str, Any] = {}
    if causes:
        details["causes"] = causes
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return ApiError(429, "TooManyRequests", message, details, headers)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def internal(message: str) -> ApiError:
    return ApiError(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})


def service_unavailable(message: str = "the server is currently unable to handle the request") -> ApiError:
    return ApiError(503, "ServiceUnavailable", message, {})


def timeout(message: str = "Timeout: request did not complete within the allotted timeout") -> ApiError:
    return ApiError(504, "Timeout", message, {})


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message, {})
