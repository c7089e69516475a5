"""The time Ferry's services run on, passed in rather than read wherever it is needed.

Each Lambda handler is its function's composition root: it owns one `clock` and passes it to the service it
builds, which passes it on to the executor and to every pure decision (as `now`). In AWS that clock is the
system's; a local runtime that simulates time (the sandbox's game day) sets the handler's `clock` before the
first invocation, and every decision then sees the simulated time without anything being patched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, timezone-aware UTC: the one place the Ferry package reads the system's time of day."""
    return datetime.now(UTC)
