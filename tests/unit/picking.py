"""Cheap hypothesis generation for large random inputs: one draw, many small choices.

Each `draw` of a strategy costs hypothesis' bookkeeping (about 0.1 ms), so a random cluster built from a
hundred draws spends most of a property test's time generating. Drawing one integer per entity and reading its
mixed-radix digits keeps the same variety for a fraction of the cost; hypothesis still shrinks the integer
(towards zero, which picks the first choice of every digit: the simplest entity).
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

VARIANTS = st.integers(0, 2**63)


class Picker:
    """Successive small choices out of one integer (mixed-radix digits)."""

    def __init__(self, value: int) -> None:
        self._value = value

    def __call__(self, choices: int) -> int:
        self._value, digit = divmod(self._value, choices)
        return digit

    def one_of[T](self, options: Sequence[T]) -> T:
        return options[self(len(options))]
