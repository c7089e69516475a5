"""Ferry's configuration as code: the member clusters and the federated apps, read from one document (pure).

The file (`ferry.yaml` at the repository's root, see its comments) is what `cdk deploy` writes into Ferry's
registry, so that a cluster or an app is added, changed or removed by a reviewed change rather than by a
hand-typed `aws dynamodb put-item`. It is checked as a whole before anything is built (`make synth`, and the
tests): every problem at once, each as `<entry path>.<field>: expected ..., got ...`, so that the caller
prefixes its file name and a person fixes everything in one pass.

    clusters:                      # one registration each (ferry.domain.clusters.ClusterRegistration)
      - name: east-1
        kind: self-managed         # or eks: eks_cluster_name (and optionally eks_role_arn) instead of
                                   # endpoint and credentials_secret (EKS DescribeCluster gives those)
        ...
    apps:                          # federated Deployments (ferry.domain.federation)
      - namespace: shop
        name: web
        kind: Deployment           # the only kind: StatefulSet slices are out of scope
        replicas: 6                # the total over every member cluster
        clusters:                  # KubeFed-style: `*` is every member cluster not named
          "*": {weight: 1}
          east-1: {weight: 2, min: 1, max: 5}
        traffic: {hosted_zone_id: Z0123456789ABC, record_name: web.example.com, ttl: 60}   # optional, not yet used

The field names of a cluster are those of its registration as stored (snake_case), so the file and the
registry read alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ferry.domain.clusters import ClusterRegistration
from ferry.domain.documents import NAME, DocumentReader, join_path
from ferry.domain.errors import InputError
from ferry.domain.federation.apps import DEFAULT_CLUSTER, FederatedApp, Placement, Traffic, WorkloadKind, check_app

_CLUSTER_FIELDS = tuple(f.name for f in fields(ClusterRegistration))
_APP_FIELDS = ("namespace", "name", "kind", "replicas", "clusters", "traffic")
_PLACEMENT_FIELDS = ("weight", "min", "max")
_TRAFFIC_FIELDS = ("hosted_zone_id", "record_name", "ttl")


@dataclass(frozen=True, slots=True)
class Configuration:
    clusters: tuple[ClusterRegistration, ...] = ()
    apps: tuple[FederatedApp, ...] = ()


def read_configuration(raw: object) -> Configuration:
    """The configuration in a parsed document; InputError naming every problem (paths relative to the file)."""
    reader = _ConfigurationReader("")
    configuration = reader.configuration({} if raw is None else raw)  # an empty file: nothing declared yet
    if reader.problems:
        raise InputError(reader.problems)
    return configuration


class _ConfigurationReader(DocumentReader):
    def configuration(self, raw: object) -> Configuration:
        top = self.mapping(raw, "", ("clusters", "apps"))
        if top is None:
            return Configuration()
        entries = self.items(top, "clusters", "")
        clusters = tuple(c for path, data in entries if (c := self.cluster(data, path)))
        self.unique([c.name for c in clusters], "clusters", "cluster names")
        # Apps are checked against every cluster the file declares, a wrong one included: its own problems are
        # named above, and an app naming it is not wrong for that.
        names = tuple(
            dict.fromkeys(d["name"] for _, d in entries if isinstance(d, dict) and isinstance(d.get("name"), str))
        )
        apps = tuple(a for path, data in self.items(top, "apps", "") if (a := self.app(data, path, names)))
        self.unique([a.key for a in apps], "apps", "apps (namespace/name)")
        return Configuration(clusters, apps)

    def cluster(self, data: object, path: str) -> ClusterRegistration | None:
        entry = self.mapping(data, path, _CLUSTER_FIELDS)
        if entry is None:
            return None
        name = entry.get("name")
        bad_name = isinstance(name, str) and bool(name) and not NAME.match(name)
        if bad_name:  # it keys the cluster's registry item and its resource in the stack: a DNS-1123 label
            self.fail(join_path(path, "name"), "a DNS-1123 name (lowercase letters, digits, '-')", name)
        try:
            registration = ClusterRegistration.from_dict(entry)
        except InputError as error:
            # ClusterRegistration names its fields ("endpoint: expected ..."): the path says which entry.
            self.problems += [join_path(path, problem) for problem in error.problems]
            return None
        return None if bad_name else registration

    def app(self, data: object, path: str, clusters: tuple[str, ...]) -> FederatedApp | None:
        entry = self.mapping(data, path, _APP_FIELDS)
        if entry is None:
            return None
        before = len(self.problems)
        kind = self.choice(entry, "kind", path, [k.value for k in WorkloadKind], WorkloadKind.DEPLOYMENT.value)
        if entry.get("kind") == "StatefulSet":
            self.problems[-1] += " (StatefulSet slices are not supported: re-homing moves pets within a cluster)"
        app = FederatedApp(
            namespace=self.name(entry, "namespace", path),
            name=self.name(entry, "name", path),
            replicas=self.integer(entry, "replicas", path),
            clusters=self.placements(entry, join_path(path, "clusters")),
            kind=WorkloadKind(kind or WorkloadKind.DEPLOYMENT.value),
            traffic=self.traffic(entry, path),
        )
        if len(self.problems) > before:
            # A field of the wrong type was read as its default: the app's own checks would judge that default.
            return None
        problems = check_app(app, clusters)
        self.problems += [join_path(path, problem) for problem in problems]
        return None if problems else app

    def placements(self, entry: Mapping[str, Any], path: str) -> tuple[Placement, ...]:
        value = entry.get("clusters", {DEFAULT_CLUSTER: {}})
        if not isinstance(value, dict) or not value:
            self.fail(
                path, f"a mapping of member clusters ({DEFAULT_CLUSTER!r} for every one) to weight, min, max", value
            )
            return ()
        placements = []
        for cluster, settings in value.items():
            where = join_path(path, cluster)  # a cluster the file does not declare: check_app names it
            fields = self.mapping({} if settings is None else settings, where, _PLACEMENT_FIELDS)
            if fields is None:
                continue
            high = fields.get("max")
            placements.append(
                Placement(
                    cluster=str(cluster),
                    weight=self.integer(fields, "weight", where, 1),
                    min=self.integer(fields, "min", where, 0),
                    max=None if high is None else self.integer(fields, "max", where),
                )
            )
        return tuple(placements)

    def traffic(self, entry: Mapping[str, Any], path: str) -> Traffic | None:
        if entry.get("traffic") is None:
            return None
        where = join_path(path, "traffic")
        fields = self.mapping(entry["traffic"], where, _TRAFFIC_FIELDS)
        if fields is None:
            return None
        zone = self.text(fields, "hosted_zone_id", where)
        if zone and not zone.startswith("Z"):
            self.fail(join_path(where, "hosted_zone_id"), "a Route 53 hosted zone id (Z...)", zone)
        return Traffic(zone, self.text(fields, "record_name", where), self.integer(fields, "ttl", where, 60, low=1))
