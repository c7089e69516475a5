"""Distribution benchmark: CPU time to distribute 1,000 federated apps over 10 member clusters (target < 50 ms).

The apps mix what a federation holds: totals from 3 to 60, a `*` default with per-app weights, one cluster
named per app with its own weight, minimum and maximum. The clusters span three zones; one zone is impaired and
one cluster's control plane is down, so that every app is redistributed rather than split evenly. The figure
is the best of five runs of CPU time (the machine is shared: wall time measures the neighbours).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parent.parent / "layers/ferry/python")
if _LAYER not in sys.path:  # `python -m bench` from the repository root, as `make bench` runs it
    sys.path.insert(0, _LAYER)

from ferry.domain.detection.transitions import ControlPlaneStatus, ZoneStatus  # noqa: E402
from ferry.domain.federation.apps import FederatedApp, Placement  # noqa: E402
from ferry.domain.federation.distribution import ClusterHealth, ZoneNodes, distribute_all  # noqa: E402

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CLUSTERS = tuple(f"cluster-{n}" for n in range(10))
APPS = 1_000


def workload(seed: int = 11) -> tuple[list[FederatedApp], dict[str, ClusterHealth], dict[str, ZoneStatus]]:
    rng = random.Random(seed)
    health = {
        cluster: ClusterHealth(
            ControlPlaneStatus.DOWN if n == 3 else ControlPlaneStatus.UP,
            tuple(ZoneNodes(zone, 6, 6) for zone in ZONES),
        )
        for n, cluster in enumerate(CLUSTERS)
    }
    apps = []
    for n in range(APPS):
        named = Placement(rng.choice(CLUSTERS), rng.randint(1, 4), rng.randint(0, 2), rng.choice([None, 8, 20]))
        default = Placement("*", rng.randint(1, 5), 0, None)
        apps.append(FederatedApp("shop", f"app-{n}", rng.randint(3, 60), (default, named)))
    return apps, health, {ZONES[0]: ZoneStatus.IMPAIRED}


def run() -> dict[str, float]:
    apps, health, zones = workload()
    times = []
    for _ in range(5):
        started = time.process_time()
        distributions = distribute_all(apps, health, zones)
        times.append(time.process_time() - started)
    replicas = sum(sum(d.counts().values()) for d in distributions)
    return {
        f"distribute {APPS} apps over {len(CLUSTERS)} clusters, CPU (ms) [< 50]": round(min(times) * 1000, 1),
        "  median of 5 runs (ms)": round(sorted(times)[2] * 1000, 1),
        "  replicas placed": float(replicas),
        "  shortfall (replicas)": float(sum(d.shortfall for d in distributions)),
        "  apps refused": float(sum(1 for d in distributions if d.problems)),
    }


if __name__ == "__main__":
    for label, value in run().items():
        print(f"{label:<62} {value}")
