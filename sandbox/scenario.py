"""Game-day scenarios: YAML files in `sandbox/scenarios/`, validated into frozen dataclasses.

A scenario is data, so that a new failure drill is a new file, not new code: the world to seed (clusters,
pets, federated apps), the steps to stage at sandbox-time offsets (`at: 60s, action: zone-outage, ...`) and
what must hold at the end (`expect:`). The loader reads the whole file and reports every problem at once,
each with the file, the field path and what was expected:

    sandbox/scenarios/bad.yaml: steps[2].zone: expected one of us-east-1a, us-east-1b, us-east-1c, got 'us-east-1z'

Adding a step or a check: a dataclass here, a `_read_*` entry in `_STEP_READERS` / `_CHECK_READERS`, and its
effect in `sandbox/world.py` (steps) or `sandbox/gameday.py` (checks).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from ferry.domain.detection.transitions import ControlPlaneStatus, ZoneStatus
from ferry.domain.documents import DocumentReader, join_path, parse_duration
from ferry.domain.errors import InputError
from ferry.domain.modes import Mode
from ferry.domain.rehoming.models import RunOutcome
from ferry.domain.runbooks import Runbook
from ferry.domain.signals import SignalKind

SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"
DEFAULT_ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
REGION = "us-east-1"


class ScenarioError(InputError):
    """A scenario file is invalid; every problem reads `<file>: <field path>: expected ..., got ...`."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        super().__init__([f"{file}: {problem}" for problem in problems])

    def __str__(self) -> str:
        return "\n".join(self.problems)


class UnknownScenario(InputError):
    """No scenario of that name; the message lists the ones there are."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = tuple(available)
        super().__init__([f"no scenario named {name!r}; available: {', '.join(self.available) or '(none)'}"])


# --- the model ----------------------------------------------------------------------------------------------


class Rehome(StrEnum):
    SNAPSHOT = "snapshot"
    FRESH = "fresh"
    STAY = "stay"


class Ec2FaultScope(StrEnum):
    ZONE = "zone"  # EC2 calls naming the zone's instances, volumes or the zone fail
    ALL = "all"  # every EC2 call fails


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    name: str
    workers_per_zone: int = 2
    control_planes_per_zone: int = 1

    def nodes(self, zones: Iterable[str]) -> list[NodeSpec]:
        """The cluster's nodes, named `<cluster>-<zone letter>-cp<n>` / `-w<n>` so scenarios can name them."""
        found = []
        for zone in zones:
            letter = zone[-1]
            found += [NodeSpec(f"{self.name}-{letter}-cp{n}", zone, True) for n in range(self.control_planes_per_zone)]
            found += [NodeSpec(f"{self.name}-{letter}-w{n}", zone, False) for n in range(self.workers_per_zone)]
        return found


@dataclass(frozen=True, slots=True)
class NodeSpec:
    name: str
    zone: str
    control_plane: bool


@dataclass(frozen=True, slots=True)
class StatefulSetSpec:
    cluster: str
    namespace: str
    name: str
    replicas: int = 3
    storage_gib: int = 10
    rehome: Rehome = Rehome.SNAPSHOT
    max_rpo: str = "15m"
    snapshot: bool = True  # take a recent snapshot of each pet's volume during seeding

    def claim_name(self, ordinal: int) -> str:
        return f"data-{self.name}-{ordinal}"  # <volumeClaimTemplate>-<statefulset>-<ordinal>


@dataclass(frozen=True, slots=True)
class FederatedAppSpec:
    name: str
    namespace: str
    total_replicas: int
    weights: Mapping[str, int] = field(hash=False)

    def replicas(self) -> dict[str, int]:
        """Each member's share of the total by weight; the remainder goes to the first members, in order."""
        total_weight = sum(self.weights.values())
        shares = {c: self.total_replicas * w // total_weight for c, w in self.weights.items()}
        for cluster in list(self.weights)[: self.total_replicas - sum(shares.values())]:
            shares[cluster] += 1
        return shares


# steps: what happens, at an offset (seconds) from the start of the game day


@dataclass(frozen=True, slots=True)
class ZoneOutage:
    at: float
    zone: str
    ec2_api_failing: bool = False
    ec2_api_scope: Ec2FaultScope = Ec2FaultScope.ZONE
    send_events: bool = True  # the EC2 state changes AWS sends at once
    health_event_after: float | None = 60.0  # the AWS Health issue, later; None (`never`): AWS stays silent


@dataclass(frozen=True, slots=True)
class ZoneRecovery:
    at: float
    zone: str
    send_events: bool = True
    health_event_after: float | None = 60.0


@dataclass(frozen=True, slots=True)
class InstanceStop:
    at: float
    cluster: str
    node: str
    send_events: bool = True


@dataclass(frozen=True, slots=True)
class ControlPlaneOutage:
    at: float
    cluster: str
    down: bool = True


@dataclass(frozen=True, slots=True)
class ApiErrors:
    at: float
    cluster: str
    rate: float
    codes: tuple[int, ...] = (429, 500)


@dataclass(frozen=True, slots=True)
class ApiLatency:
    at: float
    cluster: str
    seconds: float


Step = ZoneOutage | ZoneRecovery | InstanceStop | ControlPlaneOutage | ApiErrors | ApiLatency

# checks: what must hold at the end, besides the safety invariants every game day checks


@dataclass(frozen=True, slots=True)
class ZoneObserved:
    """Ferry recorded signals of trouble for the zone, from at least `min_sources` distinct sources."""

    zone: str
    min_sources: int = 1
    kinds: tuple[str, ...] = ()  # each of these signal kinds was recorded


@dataclass(frozen=True, slots=True)
class SignalSources:
    """At most `max_sources` distinct sources spoke of trouble in the zone (a noisy signal stays one voice)."""

    zone: str
    max_sources: int


@dataclass(frozen=True, slots=True)
class ZoneQuiet:
    """No signal of trouble was recorded about the zone (routine healthy reports are fine)."""

    zone: str


@dataclass(frozen=True, slots=True)
class NodesNotReady:
    """Kubernetes marked every node of the zone NotReady (in `cluster`, or in every cluster)."""

    zone: str
    cluster: str | None = None


@dataclass(frozen=True, slots=True)
class NodesReady:
    zone: str
    cluster: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneState:
    """The detector's verdict for the zone (`ZONE#<region>#<zone>` / `STATE`, its `status`) is one of `states`.

    A zone the detector never wrote about counts as healthy.
    """

    zone: str
    states: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ControlPlaneState:
    """The detector's verdict on a cluster's control plane (`CLUSTER#<cluster>` / `CONTROL_PLANE`) is one of
    `states`; never written about counts as up."""

    cluster: str
    states: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PetsRehomed:
    """Every pet that ran in `zone` before the drill runs at the end in another zone the detector calls
    healthy, on a new volume restored from a snapshot of its old one, and all of them were Running there
    within `within` seconds (sandbox time) of the zone's IMPAIRED: issue 5's promise, "back with their data"."""

    zone: str
    within: float


@dataclass(frozen=True, slots=True)
class PetsUnmoved:
    """Every pet is at the end on the node and the volume it started on (observe mode moves nothing)."""


@dataclass(frozen=True, slots=True)
class ReadinessKept:
    """The outage did what the readiness report printed before it said: every pet the report said would move
    to zone Z runs in Z at the end (restored from a snapshot the report named, so with the data loss it
    announced), and every pet it said would stay down or be skipped did not move."""

    zone: str


@dataclass(frozen=True, slots=True)
class FederatedReplicas:
    """At the end, the federated app's Deployment in `cluster` wants `replicas` and has them all ready."""

    app: str  # the app's name, as in `federated`
    cluster: str
    replicas: int


@dataclass(frozen=True, slots=True)
class RunbookRuns:
    """The runbook's state machine was started exactly `count` times (two reports of one failure start one
    run); if `outcomes` is given, every run that ended reported one of them."""

    runbook: str
    count: int
    outcomes: tuple[str, ...] = ()


Check = (
    ZoneObserved
    | SignalSources
    | ZoneQuiet
    | NodesNotReady
    | NodesReady
    | ZoneState
    | ControlPlaneState
    | PetsRehomed
    | PetsUnmoved
    | ReadinessKept
    | RunbookRuns
    | FederatedReplicas
)
ZONE_STATES = tuple(status.value for status in ZoneStatus)
CONTROL_PLANE_STATES = tuple(status.value for status in ControlPlaneStatus)
# The signals that speak of trouble, as the checks count voices: the probe's routine "all is well" reports
# (nodes-ready, api-healthy) are not a voice about a failure. The checks' own oracle, kept apart from the
# detector's tables on purpose.
TROUBLE_KINDS = frozenset(
    kind.value
    for kind in (
        SignalKind.HEALTH_ISSUE,
        SignalKind.HEALTH_SCHEDULED_CHANGE,
        SignalKind.INSTANCE_DOWN,
        SignalKind.SPOT_INTERRUPTION,
        SignalKind.REBALANCE_RECOMMENDATION,
        SignalKind.ASG_TERMINATING,
        SignalKind.ALARM_FIRING,
        SignalKind.ZONAL_SHIFT_STARTED,
        SignalKind.NODES_NOT_READY,
        SignalKind.API_UNREACHABLE,
        SignalKind.CONTROL_PLANE_MEMBER_UNHEALTHY,
        SignalKind.EVACUATION_REQUESTED,
    )
)
# What a subject the detector never wrote about counts as.
UNWRITTEN_ZONE = ZoneStatus.HEALTHY.value
UNWRITTEN_CONTROL_PLANE = ControlPlaneStatus.UP.value


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    file: Path
    region: str
    mode: Mode  # Ferry's mode for the drill: observe (a fresh deployment's) changes nothing; act runs runbooks
    zones: tuple[str, ...]
    clusters: tuple[ClusterSpec, ...]
    statefulsets: tuple[StatefulSetSpec, ...]
    federated: tuple[FederatedAppSpec, ...]
    steps: tuple[Step, ...]
    expect: tuple[Check, ...]
    duration: float

    def cluster(self, name: str) -> ClusterSpec:
        return next(c for c in self.clusters if c.name == name)

    @property
    def acts(self) -> bool:
        """Whether the game day lets Ferry act (and so runs its runbooks): act, or supervised (its runs wait for
        a decision the game day's operator gives with ferry-Decide)."""
        return self.mode is not Mode.OBSERVE


# --- loading ------------------------------------------------------------------------------------------------


def available() -> list[str]:
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.yaml"))


def load(name_or_path: str | Path) -> Scenario:
    """Load a scenario by name (`az-outage`) or by path; raise ScenarioError / UnknownScenario."""
    path = Path(name_or_path)
    if path.suffix not in {".yaml", ".yml"}:
        path = SCENARIOS_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise UnknownScenario(str(name_or_path), available())
    return load_file(path)


def load_file(path: Path) -> Scenario:
    shown = _display(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ScenarioError(shown, [f"cannot read: {error.strerror}"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ScenarioError(shown, [f"{where}not valid YAML ({getattr(error, 'problem', error)})"]) from None
    reader = _Reader(shown)
    scenario = reader.scenario(raw, path)
    if reader.problems or scenario is None:
        raise ScenarioError(shown, reader.problems)
    return scenario


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class _Reader(DocumentReader):
    """The scenario's sections, read with the generic fields of `DocumentReader`."""

    # sections

    def scenario(self, raw: object, file: Path) -> Scenario | None:
        top = self.mapping(
            raw,
            "",
            (
                "name",
                "description",
                "mode",
                "zones",
                "clusters",
                "statefulsets",
                "federated",
                "steps",
                "duration",
                "expect",
            ),
        )
        if top is None:
            return None
        name = self.name(top, "name", "")
        description = " ".join(self.text(top, "description", "", "").split())
        mode = Mode(self.choice(top, "mode", "", [m.value for m in Mode], Mode.OBSERVE.value) or Mode.OBSERVE.value)
        zones = self.zones(top)
        clusters = tuple(c for p, d in self.items(top, "clusters", "", required=True) if (c := self.cluster(d, p)))
        self.unique([c.name for c in clusters], "clusters", "cluster names")
        ctx = _Context(
            zones=zones,
            clusters=tuple(dict.fromkeys(c.name for c in clusters)),
            nodes={c.name: {n.name for n in c.nodes(zones)} for c in clusters},
        )
        statefulsets = tuple(
            sts for p, d in self.items(top, "statefulsets", "") if (sts := self.statefulset(d, p, ctx))
        )
        federated = tuple(app for p, d in self.items(top, "federated", "") if (app := self.federated(d, p, ctx)))
        steps = tuple(step for p, d in self.items(top, "steps", "", required=True) if (step := self.step(d, p, ctx)))
        last = max((step.at for step in steps), default=0.0)
        duration = self.duration(top, "duration", "", last + 120.0)
        if steps and duration < last:
            self.fail("duration", f"at least the last step's time ({last:g}s)", top.get("duration"))
        return Scenario(
            name=name,
            description=description,
            file=file,
            region=REGION,
            mode=mode,
            zones=zones,
            clusters=clusters,
            statefulsets=statefulsets,
            federated=federated,
            steps=tuple(sorted(steps, key=lambda step: step.at)),
            expect=tuple(check for p, d in self.items(top, "expect", "") if (check := self.check(d, p, ctx))),
            duration=duration,
        )

    def zones(self, top: Mapping[str, Any]) -> tuple[str, ...]:
        value = top.get("zones", list(DEFAULT_ZONES))
        if not isinstance(value, list) or not value:
            self.fail("zones", "a non-empty list of zone names", value)
            return DEFAULT_ZONES
        for n, zone in enumerate(value):
            if not isinstance(zone, str) or not re.fullmatch(rf"{REGION}[a-f]", zone):
                self.fail(f"zones[{n}]", f"a zone of {REGION} ({REGION}a to {REGION}f)", zone)
        self.unique(value, "zones", "zones")
        return tuple(str(z) for z in value)

    def cluster(self, data: object, path: str) -> ClusterSpec | None:
        fields = self.mapping(data, path, ("name", "workers_per_zone", "control_planes_per_zone"))
        if fields is None:
            return None
        return ClusterSpec(
            name=self.name(fields, "name", path),
            workers_per_zone=self.integer(fields, "workers_per_zone", path, 2, low=1),
            control_planes_per_zone=self.integer(fields, "control_planes_per_zone", path, 1),
        )

    def statefulset(self, data: object, path: str, ctx: _Context) -> StatefulSetSpec | None:
        allowed = ("cluster", "namespace", "name", "replicas", "storage_gib", "rehome", "max_rpo", "snapshot")
        fields = self.mapping(data, path, allowed)
        if fields is None:
            return None
        max_rpo = self.text(fields, "max_rpo", path, "15m")
        if max_rpo and parse_duration(max_rpo) is None:
            self.fail(join_path(path, "max_rpo"), "a duration like 15m", max_rpo)
        return StatefulSetSpec(
            cluster=self.choice(fields, "cluster", path, ctx.clusters),
            namespace=self.name(fields, "namespace", path),
            name=self.name(fields, "name", path),
            replicas=self.integer(fields, "replicas", path, 3, low=1),
            storage_gib=self.integer(fields, "storage_gib", path, 10, low=1),
            rehome=Rehome(self.choice(fields, "rehome", path, [r.value for r in Rehome], "snapshot") or "snapshot"),
            max_rpo=max_rpo,
            snapshot=self.flag(fields, "snapshot", path, True),
        )

    def federated(self, data: object, path: str, ctx: _Context) -> FederatedAppSpec | None:
        fields = self.mapping(data, path, ("name", "namespace", "total_replicas", "weights"))
        if fields is None:
            return None
        weights_path = join_path(path, "weights")
        raw_weights = self.mapping(self.get(fields, "weights", path, {}), weights_path, ctx.clusters) or {}
        weights = {c: self.integer(raw_weights, c, weights_path, low=1) for c in raw_weights if c in ctx.clusters}
        if not raw_weights:
            self.fail(weights_path, "at least one member cluster with its weight (weights: {east-1: 1})")
        return FederatedAppSpec(
            name=self.name(fields, "name", path),
            namespace=self.name(fields, "namespace", path),
            total_replicas=self.integer(fields, "total_replicas", path, low=1),
            weights=weights,
        )

    def step(self, data: object, path: str, ctx: _Context) -> Step | None:
        if not isinstance(data, dict):
            self.fail(path, "a mapping with `at` and `action`", data)
            return None
        action = self.choice(data, "action", path, _STEP_READERS)
        if not action:
            return None
        reader, allowed = _STEP_READERS[action]
        fields = self.mapping(data, path, ("at", "action", *allowed)) or {}
        return reader(self, fields, path, ctx, self.duration(fields, "at", path))

    def check(self, data: object, path: str, ctx: _Context) -> Check | None:
        if not isinstance(data, dict):
            self.fail(path, "a mapping with `check`", data)
            return None
        kind = self.choice(data, "check", path, _CHECK_READERS)
        if not kind:
            return None
        reader, allowed = _CHECK_READERS[kind]
        return reader(self, self.mapping(data, path, ("check", *allowed)) or {}, path, ctx)


@dataclass(frozen=True, slots=True)
class _Context:
    """What later sections are validated against: the zones, clusters and node names declared earlier."""

    zones: tuple[str, ...]
    clusters: tuple[str, ...]
    nodes: Mapping[str, set[str]]


def _zone(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> str:
    return r.choice(f, "zone", p, ctx.zones)


def _zone_outage(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context, at: float) -> Step:
    return ZoneOutage(
        at=at,
        zone=_zone(r, f, p, ctx),
        ec2_api_failing=r.flag(f, "ec2_api_failing", p, False),
        ec2_api_scope=Ec2FaultScope(
            r.choice(f, "ec2_api_scope", p, [s.value for s in Ec2FaultScope], "zone") or "zone"
        ),
        send_events=r.flag(f, "send_events", p, True),
        health_event_after=r.optional_duration(f, "health_event_after", p, 60.0),
    )


def _zone_recovery(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context, at: float) -> Step:
    return ZoneRecovery(
        at=at,
        zone=_zone(r, f, p, ctx),
        send_events=r.flag(f, "send_events", p, True),
        health_event_after=r.optional_duration(f, "health_event_after", p, 60.0),
    )


def _instance_stop(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context, at: float) -> Step:
    cluster = r.choice(f, "cluster", p, ctx.clusters)
    node = r.choice(f, "node", p, sorted(ctx.nodes.get(cluster, ()))) if cluster else ""
    return InstanceStop(at=at, cluster=cluster, node=node, send_events=r.flag(f, "send_events", p, True))


def _control_plane_outage(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context, at: float) -> Step:
    return ControlPlaneOutage(at=at, cluster=r.choice(f, "cluster", p, ctx.clusters), down=r.flag(f, "down", p, True))


def _api_errors(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context, at: float) -> Step:
    codes = f.get("codes", [429, 500])
    if not isinstance(codes, list) or not all(isinstance(c, int) and 400 <= c <= 599 for c in codes):
        r.fail(join_path(p, "codes"), "a list of HTTP error statuses (400-599)", codes)
        codes = [500]
    return ApiErrors(
        at=at,
        cluster=r.choice(f, "cluster", p, ctx.clusters),
        rate=r.number(f, "rate", p, 0.0, 1.0),
        codes=tuple(codes),
    )


def _api_latency(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context, at: float) -> Step:
    return ApiLatency(
        at=at, cluster=r.choice(f, "cluster", p, ctx.clusters), seconds=r.number(f, "seconds", p, 0.0, 30.0)
    )


_STEP_READERS: dict[str, tuple[Callable[[_Reader, Mapping[str, Any], str, _Context, float], Step], tuple[str, ...]]] = {
    "zone-outage": (
        _zone_outage,
        ("zone", "ec2_api_failing", "ec2_api_scope", "send_events", "health_event_after"),
    ),
    "zone-recovery": (_zone_recovery, ("zone", "send_events", "health_event_after")),
    "instance-stop": (_instance_stop, ("cluster", "node", "send_events")),
    "control-plane-outage": (_control_plane_outage, ("cluster", "down")),
    "api-errors": (_api_errors, ("cluster", "rate", "codes")),
    "api-latency": (_api_latency, ("cluster", "seconds")),
}


def _optional_cluster(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> str | None:
    return r.choice(f, "cluster", p, ctx.clusters) if "cluster" in f else None


def _zone_observed(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    kinds = f.get("kinds", [])
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        r.fail(join_path(p, "kinds"), "a list of signal kinds (health-issue, instance-down, ...)", kinds)
        kinds = []
    return ZoneObserved(
        zone=_zone(r, f, p, ctx), min_sources=r.integer(f, "min_sources", p, 1, low=1), kinds=tuple(kinds)
    )


def _signal_sources(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return SignalSources(zone=_zone(r, f, p, ctx), max_sources=r.integer(f, "max_sources", p))


def _zone_quiet(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return ZoneQuiet(zone=_zone(r, f, p, ctx))


def _nodes_not_ready(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return NodesNotReady(zone=_zone(r, f, p, ctx), cluster=_optional_cluster(r, f, p, ctx))


def _nodes_ready(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return NodesReady(zone=_zone(r, f, p, ctx), cluster=_optional_cluster(r, f, p, ctx))


def _states(r: _Reader, f: Mapping[str, Any], p: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    states = f.get("in")
    if not isinstance(states, list) or not states or not all(s in allowed for s in states):
        r.fail(join_path(p, "in"), f"a non-empty list of {', '.join(allowed)}", states)
        return ()
    return tuple(states)


def _zone_state(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return ZoneState(zone=_zone(r, f, p, ctx), states=_states(r, f, p, ZONE_STATES))


def _control_plane_state(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    cluster = r.choice(f, "cluster", p, ctx.clusters)
    return ControlPlaneState(cluster=cluster, states=_states(r, f, p, CONTROL_PLANE_STATES))


def _pets_rehomed(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return PetsRehomed(zone=_zone(r, f, p, ctx), within=r.duration(f, "within", p))


def _pets_unmoved(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return PetsUnmoved()


def _readiness_kept(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return ReadinessKept(zone=_zone(r, f, p, ctx))


def _runbook_runs(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    outcomes = f.get("outcomes", [])
    allowed = [o.value for o in RunOutcome]
    if not isinstance(outcomes, list) or not all(o in allowed for o in outcomes):
        r.fail(join_path(p, "outcomes"), f"a list of {', '.join(allowed)}", outcomes)
        outcomes = []
    return RunbookRuns(
        runbook=r.choice(f, "runbook", p, [b.value for b in Runbook]),
        count=r.integer(f, "count", p),
        outcomes=tuple(outcomes),
    )


def _federated_replicas(r: _Reader, f: Mapping[str, Any], p: str, ctx: _Context) -> Check:
    return FederatedReplicas(
        app=r.text(f, "app", p), cluster=r.choice(f, "cluster", p, ctx.clusters), replicas=r.integer(f, "replicas", p)
    )


_CHECK_READERS: dict[str, tuple[Callable[[_Reader, Mapping[str, Any], str, _Context], Check], tuple[str, ...]]] = {
    "zone-observed": (_zone_observed, ("zone", "min_sources", "kinds")),
    "signal-sources": (_signal_sources, ("zone", "max_sources")),
    "zone-quiet": (_zone_quiet, ("zone",)),
    "nodes-not-ready": (_nodes_not_ready, ("zone", "cluster")),
    "nodes-ready": (_nodes_ready, ("zone", "cluster")),
    "zone-state": (_zone_state, ("zone", "in")),
    "control-plane-state": (_control_plane_state, ("cluster", "in")),
    "pets-rehomed": (_pets_rehomed, ("zone", "within")),
    "pets-unmoved": (_pets_unmoved, ()),
    "readiness-kept": (_readiness_kept, ("zone",)),
    "runbook-runs": (_runbook_runs, ("runbook", "count", "outcomes")),
    "federated-replicas": (_federated_replicas, ("app", "cluster", "replicas")),
}
