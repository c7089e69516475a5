"""EC2 describe calls in batches that survive one failing zone.

During a zone outage EC2 may fail every request that names something in that zone. A batch that mixes
healthy and failing ids would then hide the healthy ones too, so a batch that fails transiently is retried
id by id, and only the ids that still fail are left out (the caller treats them as unknown).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ferry.domain.errors import TransientError

BATCH = 200  # ids per filter value list, well under EC2's limits


def describe_in_batches[V](ids: Iterable[str], describe: Callable[[list[str]], dict[str, V]]) -> dict[str, V]:
    wanted = sorted(set(ids))
    found: dict[str, V] = {}
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        try:
            found |= describe(batch)
        except TransientError:
            for one in batch if len(batch) > 1 else ():
                try:
                    found |= describe([one])
                except TransientError:
                    continue
    return found
