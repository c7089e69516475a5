"""Sandbox time: every time-based behaviour of the sandbox cluster reads this clock, never the system's.

A real cluster waits 40 s before it calls a silent node Unknown and 300 s before it evicts its pods. Tests
and the game day cannot wait that long, so they run on a manual clock and fast-forward it with `advance()`;
the demo can run on real time (optionally fast-forwarded too).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """A UTC clock that only moves when told to (manual), or with real time plus any advances (realtime)."""

    def __init__(self, start: datetime | None = None, *, realtime: bool = False) -> None:
        base = start or datetime.now(UTC).replace(microsecond=0)
        if base.tzinfo is None:
            raise ValueError("SandboxClock start must be timezone-aware (UTC)")
        self._base = base.astimezone(UTC)
        self._offset = 0.0
        self._realtime = realtime
        self._started = time.monotonic()
        self._lock = threading.Lock()

    @property
    def realtime(self) -> bool:
        return self._realtime

    def now(self) -> datetime:
        with self._lock:
            elapsed = self._offset + (time.monotonic() - self._started if self._realtime else 0.0)
        return self._base + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> None:
        """Move the clock forward; a negative value is refused (time never runs backwards in a cluster)."""
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards ({seconds} s)")
        with self._lock:
            self._offset += seconds
