"""The failure detector: Signals in, verdicts out, per zone and per control plane (pure: no I/O, no logging).

Ferry acts on a verdict, never on a single event: an authoritative signal (an AWS Health zonal issue, an ARC
zonal shift, a person's EvacuateZone request) or a quorum of independent witnesses makes a zone IMPAIRED;
recovery needs a quiet hold-down; and static stability refuses to evacuate more than `max_impaired_zones`
zones, or every zone, at once. Each function takes the previous state, the signals, the time and the
policy, and returns the new state and the transitions: `ferry.services.verdicts` splits a batch by state
(`batches`), decides it and writes it back through the store adapter (`ferry.adapters.states`, conditional
writes in DynamoDB), and hands transitions off to state machines.

- `zones`: one zone's machine, HEALTHY -> SUSPECT -> IMPAIRED -> RECOVERING -> HEALTHY.
- `regions`: all zones of a region, with static stability.
- `control_planes`: one cluster's control plane, UP -> DEGRADED -> DOWN -> UP.
- `transitions`: statuses, reasons, hand-offs and deterministic execution names; `policy`: the settings.
- `batches`: which state (a watched region's zones, a cluster's control plane) each signal is decided against.

Bad input is handled by rule, never by accident (each rule has a test in tests/unit/test_detection*.py):

- Out of order: facts are merged by observed time ("the newest word wins"), never by arrival; a late signal
  still counts if it is inside the window, and a late signal older than what is known changes nothing. The
  detector's clock is `max(now, the state's last update)`: time never moves backwards.
- Duplicates: replaying a signal (same source_id and kind) leaves the state exactly as one delivery did,
  because every merge is idempotent (newest-wins by a total order, or a union keyed by signal identity).
- Unknown zones and regions: a signal for a zone not in the region's zone list is ignored (UNKNOWN_ZONE);
  the zone list is an input, so a typo or a foreign region can neither impair a zone nor change what "every
  zone" means. Unknown clusters: the pure detector ignores signals for another cluster (OTHER_CLUSTER); the
  verdicts service ignores clusters that have no registration, so no FailoverCluster starts for a cluster
  Ferry does not protect.
- Future timestamps: up to `future_skew` (default 2 min) ahead they are believed and clamped to the clock;
  further ahead they are ignored (FUTURE): a fact stamped in the future would outrank every later one.
- Stale: an observation (probe, EC2, Auto Scaling, alarm) or the opening of an authority (a Health issue,
  an ARC shift, a person's request) older than the window when it arrives is ignored (STALE); once applied,
  an authority holds until it is closed. Closings (a resolution, a shift's end) are applied whatever their
  age: a late resolution still resolves.
- Zone-less signals: ignored by the zone detector (NO_ZONE); the ingest path resolves zones upstream. One
  exception: an AWS Health resolution whose zone could not be found closes the issue of its event ARN in
  every zone of the region where that issue is open (the zone states key Health issues by ARN).
- Evidence the rule needs that is missing or not a count (a NODES_NOT_READY without node counts) is
  ignored (MALFORMED_EVIDENCE) rather than guessed.

`screen_region_signal` and `screen_control_plane_signal` tell the caller why a signal was left out, for its
metrics: nothing is dropped silently.
"""

from __future__ import annotations

from ferry.domain.detection.control_planes import (
    ControlPlaneState,
    Member,
    Reading,
    detect_control_plane,
    screen_control_plane_signal,
    step_control_plane,
    with_roster,
)
from ferry.domain.detection.facts import IgnoreReason, SignalRef
from ferry.domain.detection.policy import DetectionPolicy
from ferry.domain.detection.regions import RegionState, detect_region, screen_region_signal, step_region
from ferry.domain.detection.transitions import (
    ControlPlaneStatus,
    Handoff,
    SubjectKind,
    Transition,
    TransitionReason,
    ZoneStatus,
)
from ferry.domain.detection.zones import (
    Authority,
    Observation,
    Witness,
    ZoneState,
    detect_zone,
    stale_on_arrival,
    step_zone,
)

__all__ = [
    "Authority",
    "ControlPlaneState",
    "ControlPlaneStatus",
    "DetectionPolicy",
    "Handoff",
    "IgnoreReason",
    "Member",
    "Observation",
    "Reading",
    "RegionState",
    "SignalRef",
    "SubjectKind",
    "Transition",
    "TransitionReason",
    "Witness",
    "ZoneState",
    "ZoneStatus",
    "detect_control_plane",
    "detect_region",
    "detect_zone",
    "screen_control_plane_signal",
    "screen_region_signal",
    "stale_on_arrival",
    "step_control_plane",
    "step_region",
    "step_zone",
    "with_roster",
]
