"""Fault injection for the API server: outages, error rates, timeouts and latency, as a sick control plane shows.

Ferry must keep its promises when the API server it talks to is down, throttling or slow, so the game day
and the end-to-end tests set these on a cluster and the HTTP layer applies them to every request.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from enum import StrEnum


class Fault(StrEnum):
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Decision:
    fault: Fault | None
    code: int = 0
    latency: float = 0.0


class Faults:
    """The current fault settings; `decide()` rolls the dice for one request (seedable, thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random()
        self.outage = False
        self.error_rate = 0.0
        self.error_codes: tuple[int, ...] = (429, 500)
        self.retry_after = 1
        self.timeout_rate = 0.0
        self.hang_seconds = 60.0
        self.latency = 0.0

    def set_error_rate(self, rate: float, codes: tuple[int, ...], retry_after: int, seed: int | None) -> None:
        _check_rate("error rate", rate)
        if not codes or any(code < 400 or code > 599 for code in codes):
            raise ValueError(f"error codes must be HTTP error codes (400-599), got {codes}")
        with self._lock:
            self.error_rate, self.error_codes, self.retry_after = rate, tuple(codes), retry_after
            if seed is not None:
                self._random.seed(seed)

    def set_timeout_rate(self, rate: float, hang_seconds: float) -> None:
        _check_rate("timeout rate", rate)
        with self._lock:
            self.timeout_rate, self.hang_seconds = rate, hang_seconds

    def set_latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"latency must be >= 0 s, got {seconds}")
        self.latency = seconds

    def decide(self) -> Decision:
        with self._lock:
            if self.timeout_rate and self._random.random() < self.timeout_rate:
                return Decision(Fault.TIMEOUT, latency=self.latency)
            if self.error_rate and self._random.random() < self.error_rate:
                return Decision(Fault.ERROR, self._random.choice(self.error_codes), self.latency)
            return Decision(None, latency=self.latency)


def _check_rate(what: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{what} must be between 0 and 1, got {rate}")
