"""What a federated app is: its identity, its total, and how each member cluster takes part (pure).

The per-cluster settings follow KubeFed's ReplicaSchedulingPreference, which operators already know: a map from
cluster name to `{weight, min, max}`, where the cluster `*` stands for every member cluster not named; without
`*` the app lives only in the clusters it names. A missing `max` is no limit.

`check_app` names every problem of one app at once, each as `<field>: expected ..., got ...` relative to the
app's entry, so that the configuration loader can prefix its file and entry and the distribution can refuse one
app while the others proceed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ferry.domain.serialization import JsonModel

DEFAULT_CLUSTER = "*"  # the placement of every member cluster the app does not name


class WorkloadKind(StrEnum):
    # StatefulSet slices are out of scope (see the package's docstring): a Deployment's replicas are
    # interchangeable, so moving them is scaling, not re-homing.
    DEPLOYMENT = "Deployment"


@dataclass(frozen=True, slots=True)
class Placement(JsonModel):
    """How one member cluster (or `*`, every other one) takes part in the app."""

    cluster: str
    weight: int = 1
    min: int = 0
    max: int | None = None  # no limit

    def ceiling(self, capacity: int | None) -> int | None:
        """The most replicas this cluster may run: its max, lowered to the room it has (None: no limit)."""
        bounds = [b for b in (self.max, capacity) if b is not None]
        return min(bounds) if bounds else None


@dataclass(frozen=True, slots=True)
class Traffic(JsonModel):
    """Route 53 weighted records, one per member cluster's ingress (set identifier = cluster name), meant to follow
    the distribution (raised after a scale-up is available, lowered before a scale-down). Declared and stored
    today; nothing moves traffic yet (planned with the ShiftReplicas runbook)."""

    hosted_zone_id: str
    record_name: str
    ttl: int = 60


@dataclass(frozen=True, slots=True)
class FederatedApp(JsonModel):
    namespace: str
    name: str
    replicas: int  # the total over every member cluster
    clusters: tuple[Placement, ...]
    kind: WorkloadKind = WorkloadKind.DEPLOYMENT
    traffic: Traffic | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def members(self, registered: Iterable[str]) -> dict[str, Placement]:
        """Each member cluster's placement, by cluster name in order: the named ones, and with `*` every other
        registered cluster under the `*` placement itself (its `cluster` stays `*`)."""
        named = {p.cluster: p for p in self.clusters}
        default = named.pop(DEFAULT_CLUSTER, None)
        if default is not None:
            named = {cluster: named.get(cluster, default) for cluster in registered} | named
        order = list(named)
        return named if order == sorted(order) else dict(sorted(named.items()))


def check_app(app: FederatedApp, registered: Collection[str]) -> tuple[str, ...]:
    """Every problem of the app against the registered clusters, relative to its entry; empty when it is sound."""
    return member_problems(app, app.members(registered), registered)


def member_problems(
    app: FederatedApp, members: Mapping[str, Placement], registered: Collection[str]
) -> tuple[str, ...]:
    """`check_app` with the app's members already resolved (`app.members(registered)`): the distribution's
    per-app cost, paid once."""
    problems: list[str] = []
    if app.replicas < 0:
        problems.append(f"replicas: expected a whole number >= 0, got {app.replicas!r}")
    if len({p.cluster for p in app.clusters}) < len(app.clusters):
        twice = sorted({p.cluster for p in app.clusters if [q.cluster for q in app.clusters].count(p.cluster) > 1})
        problems.append(f"clusters: expected each cluster once, got {', '.join(twice)} more than once")
    for placement in app.clusters:
        cluster, weight, low, high = placement.cluster, placement.weight, placement.min, placement.max
        if cluster != DEFAULT_CLUSTER and cluster not in registered:
            known = ", ".join(registered) or "none registered"
            problems.append(f"clusters.{cluster}: expected a member cluster ({known})")
        for name, value in (("weight", weight), ("min", low), ("max", high)):
            if value is not None and value < 0:
                problems.append(f"clusters.{cluster}.{name}: expected a whole number >= 0, got {value!r}")
        if high is not None and low > high:
            problems.append(f"clusters.{cluster}.min: expected at most max ({high}), got {low}")
    if not members:
        problems.append("clusters: expected at least one member cluster, got none")
    elif sum(p.weight for p in members.values()) <= 0:
        problems.append("clusters: expected weights summing to more than zero, got 0")
    minimums = sum(p.min for p in members.values())  # a negative one is reported above
    if 0 <= app.replicas < minimums:
        problems.append(
            f"replicas: expected at least the sum of the members' minimums ({minimums}), got {app.replicas}"
        )
    return tuple(problems)
