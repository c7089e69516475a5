"""Making AWS clients and turning their errors into Ferry's.

Clients are created by the caller at cold start (never on import) with short timeouts and adaptive retries;
endpoints come from the standard configuration (`AWS_ENDPOINT_URL`, the region), so the same code runs
against AWS and against the sandbox without knowing which.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ferry.domain.errors import Conflict, FerryError, Forbidden, NotFound, Throttled, Unavailable

_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "adaptive", "max_attempts": 5},
)

_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "SlowDown",
}
_CONFLICT = {"ConditionalCheckFailedException", "TransactionCanceledException", "IdempotentParameterMismatch"}
_FORBIDDEN = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"}


_session: boto3.session.Session | None = None


def session() -> boto3.session.Session:
    """One boto3 session per process: sessions are costly to make and share their loaded service models."""
    global _session  # noqa: PLW0603
    if _session is None:
        _session = boto3.session.Session()
    return _session


def client(service: str, region: str | None = None) -> Any:
    """A boto3 client with Ferry's timeouts and retry policy."""
    return session().client(service, region_name=region, config=_CONFIG)


class LazyClient:
    """A boto3 client made on first use. Creating one costs 40-140 ms (the EC2 model is the largest): a
    function that may not need a service in an invocation should not pay for it at cold start."""

    def __init__(self, service: str, region: str | None = None) -> None:
        self._service = service
        self._region = region
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = client(self._service, self._region)
        return getattr(self._client, name)


def translate_error(error: Exception) -> FerryError:
    """Map a botocore error to Ferry's hierarchy, keeping the AWS code and message."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = f"{code}: {error.response.get('Error', {}).get('Message', '')}"
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLING:
            return Throttled(message)
        if code in _CONFLICT:
            return Conflict(message)
        if code in _FORBIDDEN:
            return Forbidden(message)
        if code.endswith(".NotFound") or code.endswith("NotFoundException") or code == "ResourceNotFoundException":
            return NotFound(message)
        if status >= 500 or code in {"InternalError", "ServiceUnavailable", "Unavailable", "InternalFailure"}:
            return Unavailable(message)
        return FerryError(message)
    if isinstance(error, BotoCoreError):
        return Unavailable(str(error))
    return FerryError(str(error))
