"""How far Ferry may go in this deployment: a value every layer passes around, read from the settings once.

Only the executor (`ferry.executor`) looks at it to decide whether anything changes.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """`observe` (the default of a fresh deployment) plans, measures and notifies but changes nothing."""

    OBSERVE = "observe"
    ACT = "act"
