"""The one place Ferry acts: carries out reactions and plans, checks the mode, leaves a trace.

Everything else decides; this package does. It is the only place that reads the mode (observe or act) or a
dry-run flag, so "observe mode changes nothing" is true by construction and tested here once. Every action
leaves an audit record (what, why, on which signals, with what result), in that order: an action whose audit
write fails is not reported as done.

Each executor decides in one place, through `may_act`; the services hand it the requested dry run and
build their answers from what it says it did (an `Execution` whose steps are PLANNED, `Outcome.OBSERVED`,
`SnapshotsDone.acted`). tests/unit/test_services_do_not_decide.py keeps the services from deciding again.

- `ferry.executor.reactions`: the detector's reactions (start a runbook, alarm, notify).
- `ferry.executor.plans`: a re-homing plan's actions, journaled and resumable (`effects`: what each does).
- `ferry.executor.nodes`: lifting the out-of-service taint from a fenced node that is healthy again.
- `ferry.executor.snapshots`: the snapshot schedule's snapshots, taken and pruned.

They live apart so that `ingest`, which only reacts, does not import the re-homing planner at cold start.
"""

from __future__ import annotations

from ferry.domain.modes import Mode


def may_act(mode: Mode, *, dry_run: bool = False) -> bool:
    """Whether anything may change: act mode and no dry run. Every caller that changes the world asks here."""
    return mode is Mode.ACT and not dry_run
