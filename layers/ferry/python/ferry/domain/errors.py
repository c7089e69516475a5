"""Ferry's one error hierarchy.

Every failure that crosses a module boundary is one of these, so that callers decide by type: a malformed
input (`EventParseError`, `InputError`) is never retried, a transient one (`TransientError` and its
subclasses) is retried with backoff, and anything else is a bug that surfaces as it is.
"""

from __future__ import annotations


class FerryError(Exception):
    """Base of every error Ferry raises on purpose."""


class EventParseError(FerryError):
    """An incoming event is malformed: a required field is missing or has the wrong type or value.

    `field` is a dotted path into the event (``detail.instance-id``), so the log line and the DLQ
    reason point at the exact problem.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InputError(FerryError):
    """A request (state machine input, scenario file, setting) is invalid; `problems` names each field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class ConfigError(FerryError):
    """A setting is missing or outside its allowed range; raised at cold start so a bad deploy fails fast."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"setting {setting}: {problem}")


class NotFound(FerryError):
    """The resource does not exist (Kubernetes 404, EC2 *.NotFound)."""


class Conflict(FerryError):
    """A write lost a race: stale resourceVersion (409), failed DynamoDB condition, existing name."""


class Forbidden(FerryError):
    """Ferry's credentials are not allowed to do this (401/403, AccessDenied): not retried."""


class Invalid(FerryError):
    """The API refused the request as invalid (Kubernetes 422: an immutable field changed, a value out of
    range): the same request gets the same answer, so it is reported, never retried."""


class TransientError(FerryError):
    """Worth retrying with backoff: the same call may succeed later."""


class Throttled(TransientError):
    """Rate limited (429, ThrottlingException); `retry_after` seconds if the server said so."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class Unavailable(TransientError):
    """The service did not answer or answered 5xx: timeouts, connection refused, 500/503, a TLS handshake that
    failed (a wrong or rotated CA)."""


class StepPending(TransientError):
    """Not yet: the step is waiting on the world (a volume still creating, a pod not Running yet, another
    executor holding the pet). Step Functions retries it (error name `StepPending`, more attempts than other
    transient errors); nothing is wrong."""


class Refused(FerryError):
    """Acting now would break a safety invariant (a PV not yet Retain, a fence EC2 no longer confirms, a claim
    bound to a volume Ferry did not expect): the action is not taken, and its subject stops there."""


class DecisionTimedOut(FerryError):
    """A supervised run's wait for a decision ended without one and `onTimeout` is abort: the run stops before
    its first change (the error's name is what its state machine catches, ferry.domain.conventions)."""
