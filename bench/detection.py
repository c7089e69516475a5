"""Detector benchmark: CPU time of the pure detector for 10,000 signals over 3 zones and 10 clusters.

The mix is what a region sends in a couple of hours: every minute a probe round per cluster (the API, three
control-plane members, the nodes of each zone), plus AWS events (instance stops, alarms, an AWS Health issue
in one zone and its resolution) and replays. Signals are decided one at a time, as the ingest path does in
the worst case, through the region (static stability) and the cluster's control plane. The target is under
1 s of CPU; the state sizes show that pruning keeps every item far below DynamoDB's 400 KB.
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parent.parent / "layers/ferry/python")
if _LAYER not in sys.path:  # `python -m bench` from the repository root, as `make bench` runs it
    sys.path.insert(0, _LAYER)

from ferry.domain.detection import (  # noqa: E402
    ControlPlaneState,
    DetectionPolicy,
    RegionState,
    detect_control_plane,
    detect_region,
    with_roster,
)
from ferry.domain.detection.control_planes import CONTROL_PLANE_KINDS  # noqa: E402
from ferry.domain.signals import Signal, SignalKind, Source  # noqa: E402

REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
CLUSTERS = tuple(f"cluster-{n}" for n in range(10))
START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SIGNALS = 10_000


def _probe_round(cluster: str, minute: int, rng: random.Random, impaired: bool) -> list[Signal]:
    now = START + timedelta(minutes=minute, seconds=rng.randint(0, 20))
    round_id = f"{cluster}-{minute}"
    signals = [Signal(SignalKind.API_HEALTHY, Source.PROBE, round_id, now, REGION, cluster=cluster)]
    for index, zone in enumerate(ZONES):
        member_ok = not (impaired and zone == ZONES[0])
        signals.append(
            Signal(
                SignalKind.CONTROL_PLANE_MEMBER_HEALTHY if member_ok else SignalKind.CONTROL_PLANE_MEMBER_UNHEALTHY,
                Source.PROBE,
                f"{round_id}/cp{index}",
                now,
                REGION,
                zone=zone,
                cluster=cluster,
                instance=f"i-{cluster}-cp{index}",
            )
        )
        bad = impaired and zone == ZONES[0]
        signals.append(
            Signal(
                SignalKind.NODES_NOT_READY if bad else SignalKind.NODES_READY,
                Source.PROBE,
                round_id,
                now,
                REGION,
                zone=zone,
                cluster=cluster,
                evidence={"nodes": "6", "healthy": "1" if bad else "6", "unhealthy": "5" if bad else "0"},
            )
        )
    return signals


def _aws_events(minute: int, rng: random.Random, impaired: bool) -> list[Signal]:
    now = START + timedelta(minutes=minute, seconds=rng.randint(0, 59))
    events = []
    if rng.random() < 0.5 or impaired:
        zone = ZONES[0] if impaired else rng.choice(ZONES)
        instance = f"i-{rng.randrange(16**8):08x}"
        cluster = rng.choice(CLUSTERS)
        events.append(
            Signal(SignalKind.INSTANCE_DOWN, Source.EC2, f"ec2-{minute}-{instance}", now, REGION, zone=zone,
                   cluster=cluster, instance=instance, evidence={"state": "stopped"})
        )  # fmt: skip
    if impaired and minute % 5 == 0:
        events.append(
            Signal(SignalKind.ALARM_FIRING, Source.CLOUDWATCH, f"alarm-{minute}", now, REGION, zone=ZONES[0],
                   evidence={"alarmName": "ferry-us-east-1a-errors"})
        )  # fmt: skip
    return events


def _health(kind: SignalKind, minute: int) -> Signal:
    at = START + timedelta(minutes=minute)
    evidence = {"eventArn": "arn:aws:health:us-east-1::event/EC2/AWS_EC2_OPERATIONAL_ISSUE/1"}
    return Signal(kind, Source.AWS_HEALTH, f"health-{minute}", at, REGION, zone=ZONES[0], evidence=evidence)


def workload(count: int = SIGNALS, seed: int = 7) -> list[tuple[datetime, Signal]]:
    """`count` signals with the time each is decided at; a zone is impaired from minute 40 to minute 70."""
    rng = random.Random(seed)
    signals: list[Signal] = []
    minute = 0
    while len(signals) < count:
        impaired = 40 <= minute < 70
        for cluster in CLUSTERS:
            signals += _probe_round(cluster, minute, rng, impaired)
        signals += _aws_events(minute, rng, impaired)
        if minute in (40, 70):
            signals.append(_health(SignalKind.HEALTH_ISSUE if minute == 40 else SignalKind.HEALTH_RESOLVED, minute))
        if rng.random() < 0.2 and signals:
            signals.append(rng.choice(signals[-50:]))  # an SQS redelivery
        minute += 1
    signals = signals[:count]
    return [(max(s.observed_at, START) + timedelta(seconds=rng.randint(0, 30)), s) for s in signals]


def detect_all(
    steps: list[tuple[datetime, Signal]], policy: DetectionPolicy
) -> tuple[RegionState, dict[str, ControlPlaneState], int]:
    region = RegionState.new(REGION, ZONES)
    planes = {c: with_roster(ControlPlaneState(c), [f"i-{c}-cp{n}" for n in range(3)]) for c in CLUSTERS}
    transitions = 0
    for now, signal in steps:
        region, made = detect_region(region, (signal,), now, policy)
        transitions += len(made)
        if signal.cluster in planes and signal.kind in CONTROL_PLANE_KINDS:
            planes[signal.cluster], made = detect_control_plane(planes[signal.cluster], (signal,), now, policy)
            transitions += len(made)
    return region, planes, transitions


def run() -> dict[str, float]:
    policy = DetectionPolicy(zones=ZONES)
    steps = workload()
    timings = []
    for _ in range(3):
        started = time.process_time()
        region, planes, transitions = detect_all(steps, policy)
        timings.append(time.process_time() - started)
    cpu = min(timings)
    zone_bytes = max(len(json.dumps(z.to_dict())) for z in region.zones)
    plane_bytes = max(len(json.dumps(p.to_dict())) for p in planes.values())
    return {
        f"detector: {len(steps):,} signals, 3 zones, 10 clusters, CPU (s) [< 1]": round(cpu, 3),
        "detector: per signal, CPU (us)": round(cpu / len(steps) * 1e6, 1),
        "detector: transitions emitted": float(transitions),
        "largest zone state, JSON (bytes) [<< 400 KB]": float(zone_bytes),
        "largest control-plane state, JSON (bytes) [<< 400 KB]": float(plane_bytes),
    }


if __name__ == "__main__":
    for label, value in run().items():
        print(f"{label:<62} {value}")
