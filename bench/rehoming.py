"""Re-homing benchmarks: planning a big zone, and moving 100 pets out of a failed zone on the sandbox.

- Plan: a zone of 300 nodes holding 200 pets (20 StatefulSets), planned by the pure planner. Target < 1 s;
  also the size of the plan step's output, which a Step Functions state caps at 256 KB.
- Re-home: a cluster with 300 pets (10 StatefulSets of 30, one in three per zone), zone a dark, then the
  EvacuateZone state machine as the stack synthesizes it (sandbox/stepfunctions.py: moto's interpreter runs
  it, plan, fence Map, re-home Map of 10 at once, report, with its own Retry), each Task run by the step
  services in this process. Sandbox time moves only when every execution waits on a retry's backoff, so
  the sandbox time from the outage to every pet Running elsewhere is what the state machine's waits make it.
  Kubernetes, EC2 and DynamoDB calls are counted per pet, with the listings (which must not grow with the
  pets) counted apart. The sandbox's API server, controllers, moto and its interpreter share this process
  (and its two cores) with Ferry, and the Tasks run one at a time, so the run's wall time is mostly theirs:
  Ferry's own time is the CPU its threads use.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# isort: off
from sandbox import lambdas  # noqa: F401  (first: puts Ferry's layer on sys.path for `python -m bench`)

# isort: on
from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.rehoming.inventory import (
    Claim,
    ClaimTemplate,
    ClusterInventory,
    EbsSnapshot,
    EbsVolume,
    Instance,
    InstanceState,
    Node,
    PersistentVolume,
    Pod,
    StatefulSet,
    ZoneSpread,
    key,
)
from ferry.domain.rehoming.models import RunReport
from ferry.domain.rehoming.planner import Request, plan_evacuation
from ferry.domain.rehoming.policies import RehomeLimits
from ferry.domain.runbooks import Runbook
from ferry.services.rehoming import plan_output
from sandbox.scenario import ClusterSpec, StatefulSetSpec
from sandbox.stepfunctions import Runbooks, in_process
from tests.e2e.rehoming_world import ZONE_A, drill_world, steps_in_process, zone_outage

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def synthetic(nodes_per_zone: int = 300, statefulsets: int = 20, pets_in_zone: int = 200) -> ClusterInventory:
    nodes = {
        f"{z[-1]}-{n}": Node(f"{z[-1]}-{n}", z, f"i-{i:017x}", z != ZONE_A)
        for i, (z, n) in enumerate((z, n) for z in ZONES for n in range(nodes_per_zone))
    }
    instances = {
        n.instance_id or "": Instance(n.instance_id or "", n.zone or "", InstanceState.STOPPED) for n in nodes.values()
    }
    per_set = pets_in_zone // statefulsets
    sets, pods, claims, pvs, ebs, snaps = {}, [], {}, {}, {}, {}
    for s in range(statefulsets):
        name = f"app{s}"
        sets[key("shop", name)] = StatefulSet(
            "shop", name, {"ferry.io/rehome": "snapshot", "ferry.io/max-rpo": "15m"},
            claim_templates=(ClaimTemplate("data", "ebs-sc", "10Gi"),), selector={"app": name},
            spread=ZoneSpread(1, honor_taints=True),
        )  # fmt: skip
        for ordinal in range(per_set * 3):
            zone = ZONES[ordinal % 3]
            pod, claim, volume = f"{name}-{ordinal}", f"data-{name}-{ordinal}", f"vol-{s:05x}{ordinal:012x}"
            node = f"{zone[-1]}-{(s * per_set + ordinal) % nodes_per_zone}"
            pods.append(Pod("shop", pod, f"uid-{pod}", name, ordinal, node, "Running", (claim,)))
            claims[key("shop", claim)] = Claim("shop", claim, f"uid-{claim}", f"pv-{claim}", "ebs-sc", "10Gi")
            pvs[f"pv-{claim}"] = PersistentVolume(
                f"pv-{claim}", "Delete", "ebs-sc", "10Gi", volume_id=volume, driver="ebs.csi.aws.com", zone=zone,
                zone_key="topology.kubernetes.io/zone", fs_type="ext4", claim=("shop", claim),
            )  # fmt: skip
            ebs[volume] = EbsVolume(volume, zone, "in-use", "gp3", 10, 3000, 125)
            snaps[volume] = (EbsSnapshot(f"snap-{volume[4:]}", volume, "completed", NOW - timedelta(minutes=4)),)
    return ClusterInventory(
        cluster="east-1", server_version=(1, 31), nodes=nodes, pods=tuple(pods), statefulsets=sets, claims=claims,
        volumes=pvs, instances=instances, ebs_volumes=ebs, snapshots=snaps, zones={ZONE_A: ZoneStatus.IMPAIRED},
    )  # fmt: skip


def plan_figures() -> dict[str, Any]:
    inventory = synthetic()
    request = Request(run_id="evacuate-us-east-1a-1764151200", now=NOW, limits=RehomeLimits(max_fences_per_run=500))
    timings, plan = [], None
    for _ in range(5):
        began = time.perf_counter()
        plan = plan_evacuation(ZONE_A, [inventory], request)
        timings.append(time.perf_counter() - began)
    assert plan is not None
    output = plan_output(request.run_id, Runbook.EVACUATE_ZONE, False, {"reason": "bench"}, plan)
    size = len(json.dumps(output.to_dict()))
    return {
        "plan: zone of 300 nodes, 200 pets, median of 5 (s) [< 1]": round(statistics.median(timings), 3),
        "plan: nodes / pets planned": f"{len(plan.nodes)} / {len(plan.pets)}",
        "plan: step output size (KB) [< 256]": round(size / 1024, 1),
    }


@dataclass
class Busy:
    """CPU seconds spent in Ferry's own threads (the sandbox's servers and controllers run in this process too,
    on other threads: their time is the simulated APIs', not Ferry's)."""

    cpu: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float) -> None:
        with self._lock:
            self.cpu += seconds


def _measure(steps: Any) -> Busy:
    busy = Busy()
    for name in ("plan", "fence", "rehome", "report"):
        method = getattr(steps, name)

        def timed(*args: Any, _method: Any = method) -> Any:
            began = time.thread_time()
            try:
                return _method(*args)
            finally:
                busy.add(time.thread_time() - began)

        setattr(steps, name, timed)
    return busy


def sandbox_figures(pets_per_set: int = 30, sets: int = 10) -> dict[str, Any]:
    statefulsets = tuple(StatefulSetSpec("east-1", "shop", f"app{n}", replicas=pets_per_set) for n in range(sets))
    world = drill_world(statefulsets, clusters=(ClusterSpec("east-1", workers_per_zone=6),), settle_seconds=300)
    try:
        zone_outage(world)
        outage_at = world.offset()
        ec2_calls: Counter[str] = Counter()
        ddb_calls: Counter[str] = Counter()
        ec2 = world.aws.client("ec2", through_proxy=True, max_attempts=5)
        ec2.meta.events.register("before-call.ec2", lambda model, **_: ec2_calls.update([model.name]))
        world.aws.client("dynamodb").meta.events.register(
            "before-call.dynamodb", lambda model, **_: ddb_calls.update([model.name])
        )
        steps = steps_in_process(world, ec2=ec2)
        busy = _measure(steps)
        kube_before = world.clusters["east-1"].request_count()
        began = time.monotonic()
        with Runbooks(world, in_process(steps)) as runbooks:
            execution = runbooks.run(
                Runbook.EVACUATE_ZONE.value,
                {"zone": ZONE_A, "reason": "bench", "dryRun": False, "maxConcurrency": 10},
                "evacuate-bench",
            )
        elapsed = time.monotonic() - began
        running_at = world.offset()
        if execution.output is None:
            raise RuntimeError(f"the evacuation ended {execution.status}: {execution.error} {execution.cause}")
        report = RunReport.from_dict(execution.output)
        kube_after = world.clusters["east-1"].request_count()
        kube = Counter({k: kube_after[k] - kube_before.get(k, 0) for k in kube_after})
        moved = sum(1 for p in report.pets if p.status.value == "moved")
        failures = Counter(
            f"{p.status.value}: {(p.reason or '')[:60]}" for p in report.pets if p.status.value != "moved"
        )
        listings = sum(v for k, v in kube.items() if k.startswith("list "))
        return {
            "re-home: pets moved / planned [100 / 100]": f"{moved} / {len(report.pets)}",
            "re-home: outcome": report.outcome.value,
            "re-home: Ferry's own time, 100 pets: CPU in its threads (s) [< 30]": round(busy.cpu, 1),
            "re-home: whole run's wall time, Kubernetes and the in-process sandbox included (s)": round(elapsed, 1),
            "re-home: Kubernetes calls per pet (all)": round(sum(kube.values()) / max(1, moved), 1),
            "re-home: Kubernetes listings in the whole run (not per pet)": listings,
            "re-home: EC2 calls per pet": round(sum(ec2_calls.values()) / max(1, moved), 1),
            "re-home: DynamoDB calls per pet (journal, audit, lock, plan)": round(
                sum(ddb_calls.values()) / max(1, moved), 1
            ),
            "re-home: sandbox time, zone dark to every pet Running elsewhere (Tasks take none) (s)": round(
                running_at - outage_at, 0
            ),
            **({"re-home: pets not moved, by reason": dict(failures)} if failures else {}),
        }
    finally:
        world.stop()


def run() -> dict[str, Any]:
    return {**plan_figures(), **sandbox_figures()}


if __name__ == "__main__":
    for label, value in run().items():
        print(f"{label:<72} {value}")
