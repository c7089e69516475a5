"""The one place Ferry acts: carries out reactions and plans, checks the mode, leaves a trace.

Everything else decides; this package does. It is the only place that reads the mode (observe, supervised
or act) or a
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
- `ferry.executor.decisions`: supervised mode's pauses: recorded and told, decided and resumed (task tokens).

They live apart so that `ingest`, which only reacts, does not import the re-homing planner at cold start.
"""

from __future__ import annotations

from ferry.domain.modes import Mode


def may_act(mode: Mode, *, dry_run: bool = False) -> bool:
    """Whether anything may change: act or supervised mode, and no dry run. Every caller that changes the world
    asks here. In supervised mode the runbooks that pause (`must_wait`) reach their first change only once a
    person approved (their state machine waits for the decision before it)."""
    return mode in (Mode.ACT, Mode.SUPERVISED) and not dry_run


def must_wait(mode: Mode, *, dry_run: bool, approved: bool, pausable: bool, changes: bool) -> bool:
    """Whether a run pauses for a person's decision before its first change: supervised mode, a runbook that
    pauses (`ferry.domain.conventions.SUPERVISED_RUNBOOKS`), something to change, and nobody approved it at
    start (`"approved": true`: the person who started it is the approval)."""
    return may_act(mode, dry_run=dry_run) and mode is Mode.SUPERVISED and pausable and changes and not approved
