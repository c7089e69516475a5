"""Sandbox benchmarks: how long the game day's world takes to come up, which bounds `make demo` and the e2e tests.

World start is moto + the fault proxy, the default scenario's clusters with their nodes (one EC2 instance
each), workloads settled, pets' volumes provisioned and snapshotted, clusters registered. AWS alone is moto and
the proxy with Ferry's table, topic and queues.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from sandbox import lambdas  # noqa: F401  (first: puts Ferry's layer on sys.path)
from sandbox.aws import AwsSandbox
from sandbox.scenario import load
from sandbox.world import World


def _start_times(make: Callable[[], AwsSandbox | World], runs: int = 3) -> list[float]:
    figures = []
    for _ in range(runs):
        sandbox = make()
        began = time.perf_counter()
        sandbox.start()
        figures.append(time.perf_counter() - began)
        sandbox.stop()
    return figures


def run() -> dict[str, float]:
    scenario = load("az-outage")
    aws = _start_times(AwsSandbox)
    world = _start_times(lambda: World(scenario))
    return {
        "sandbox AWS start: moto + proxy + Ferry's resources, median of 3 (s) [< 2]": round(statistics.median(aws), 2),
        "sandbox world start, az-outage (2 clusters, 18 nodes), first (s) [< 5]": round(world[0], 2),
        "sandbox world start, az-outage, median of 3 (s) [< 5]": round(statistics.median(world), 2),
    }


if __name__ == "__main__":
    for label, value in run().items():
        print(f"{label:<78} {value}")
