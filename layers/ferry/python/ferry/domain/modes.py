"""How far Ferry may go in this deployment: a value every layer passes around, read from the settings once.

Only the executor (`ferry.executor`) looks at it to decide whether anything changes.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """`observe` (the default of a fresh deployment) plans, measures and notifies but changes nothing;
    `supervised` lets the automatic runs plan, then pauses each before its first change until a person decides
    (ferry-Decide: approve or reject; on no decision, the `onTimeout` setting); `act` goes on by itself."""

    OBSERVE = "observe"
    SUPERVISED = "supervised"
    ACT = "act"
