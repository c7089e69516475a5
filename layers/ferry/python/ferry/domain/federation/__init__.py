"""Federated replicas (pure): what a federated app is, and how its replicas are spread over member clusters.

A federated app is one Deployment present in several member clusters under the same namespace and name, with
a total replica count that Ferry keeps spread over the clusters by weight, within each cluster's minimum and
maximum (`apps`). When a cluster's control plane is down or a zone is impaired, `distribution` computes where
the replicas go instead: a pure, deterministic function of the app, the clusters' health, the zone verdicts
and the room left in each cluster. The shift itself (make before break, through the scale subresource) is the
executor's; this package only decides.

StatefulSet slices are out of scope: a federated StatefulSet would need its ordinals split between clusters
and its data moved with them, which is what re-homing (`ferry.domain.rehoming`) does within one cluster.

Import from the modules themselves: the CDK app reads `apps` (the configuration file's models) without
loading the distribution and the detector's vocabulary it needs.
"""
