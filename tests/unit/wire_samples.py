"""Representative instances of every model with a `to_dict`, each pinned to a JSON file under tests/unit/wire/.

The files were written from the hand-written converters, before the generic one replaced them
(`tests/unit/test_wire_formats.py` checks every model still writes exactly these bytes and reads them back).
Each model appears with its optional fields both set and unset, since that is where the formats differ
(a key left out, or written as null). To add a model or a case: add it to `SAMPLES`, then write its file with
`PYTHONPATH=layers/ferry/python:. python -m tests.unit.wire_samples <name>...` and read the diff before committing.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.detection.control_planes import ControlPlaneState, Member, Reading
from ferry.domain.detection.facts import SignalRef
from ferry.domain.detection.regions import RegionState
from ferry.domain.detection.transitions import (
    ControlPlaneStatus,
    Handoff,
    SubjectKind,
    Transition,
    TransitionReason,
    ZoneStatus,
)
from ferry.domain.detection.zones import Authority, Observation, Witness, ZoneState
from ferry.domain.reactions import Reaction, react
from ferry.domain.rehoming.inventory import Taint
from ferry.domain.rehoming.models import (
    FencedBy,
    IdentityFreed,
    NodeJob,
    NodeReport,
    PetJob,
    PetReport,
    PetStatus,
    PlanOutput,
    PodEviction,
    ReportInput,
    RunOutcome,
    RunReport,
    SkippedItem,
    StepError,
)
from ferry.domain.rehoming.planner import plan_evacuation
from ferry.domain.rehoming.plans import (
    AskEviction,
    AwaitPodReleased,
    BindClaim,
    ClaimMove,
    Condition,
    Cordon,
    CreatePersistentVolume,
    CreateVolume,
    DeleteClaim,
    DeleteVolumeAttachments,
    Evict,
    Fence,
    ForceDeletePods,
    MarkOutOfService,
    PetPlan,
    Plan,
    Quarantine,
    RecreateClaim,
    ReleasePersistentVolume,
    RetainPersistentVolume,
    Skipped,
    SkipReason,
    TagOldVolume,
    VerifyRunning,
)
from ferry.domain.rehoming.policies import RehomePolicy
from ferry.domain.runbooks import Runbook
from ferry.domain.signals import Signal, SignalKind, Source
from tests.unit.rehoming_builders import RUN, ZONES, request, three_pets

WIRE = Path(__file__).resolve().parent / "wire"
AT = datetime(2026, 11, 26, 10, 2, 30, 123456, tzinfo=UTC)

# --- the re-homing steps (camelCase: what the state machines pass between Tasks) -------------------------------

NODE_JOB = NodeJob(RUN, "east-1", "a-w0", "i-0a1b2c3d4e5f", ZONES[0], False)
NODE_REPORT = NodeReport(
    "east-1", "a-w0", "i-0a1b2c3d4e5f", True, FencedBy.STOPPED_BY_FERRY, IdentityFreed.OUT_OF_SERVICE_TAINT, True
)
NODE_REPORT_UNFENCED = NodeReport("east-1", "a-w1", "i-9f8e7d", False, None, None, True, "EC2 still reports running")
NODE_REPORT_DRAINED = NodeReport(
    "east-1",
    "b-w0",
    "i-0b1c2d3e4f5a",
    False,
    None,
    None,
    True,
    "1 of 2 pod(s) not evicted (never forced)",
    (
        PodEviction("shop", "db-1", False, "PodDisruptionBudget refused the eviction until the deadline"),
        PodEviction("shop", "queue-1", True),
    ),
)
PET_JOB = PetJob(
    RUN, "east-1", "shop", "db", 0, "db-0", "a-w0", RehomePolicy.SNAPSHOT, ZONES[0], ZONES[1], dry_run=False
)
PET_JOB_NO_NODE = PetJob(RUN, "east-1", "shop", "db", 2, "db-2", None, RehomePolicy.FRESH, None, None, dry_run=True)
PET_REPORT = PetReport(
    "east-1",
    "shop",
    "db-0",
    RehomePolicy.SNAPSHOT,
    PetStatus.MOVED,
    from_zone=ZONES[0],
    to_zone=ZONES[1],
    old_volume="vol-old",
    snapshot="snap-1",
    new_volume="vol-new",
    rpo_seconds=61.5,
    rpo_breached=False,
    time_to_running_seconds=20.0,
)
PET_REPORT_FAILED = PetReport(
    "east-1", "shop", "db-1", RehomePolicy.STAY, PetStatus.FAILED, rpo_breached=True, reason="fence kept failing"
)
SKIPPED_ITEM = SkippedItem("east-1/node/a-cp0", "control-plane-node: control-plane nodes are replaced, not fenced")
STEP_ERROR = StepError("States.TaskFailed", '{"errorMessage": "boom"}')
PLAN_OUTPUT = PlanOutput(
    RUN,
    Runbook.EVACUATE_ZONE,
    False,
    ZONES[0],
    "AWS Health reports an EC2 issue",
    (NODE_JOB,),
    (PET_JOB, PET_JOB_NO_NODE),
    (SKIPPED_ITEM,),
    {"zone": ZONES[0], "nodes": {"east-1/a-w0": ["fence a-w0"]}},
)
PLAN_OUTPUT_NO_ZONE = PlanOutput(RUN, Runbook.FENCE_NODE, True, None, "by hand", (NODE_JOB,), (), ())
REPORT_INPUT = ReportInput(
    RUN,
    Runbook.EVACUATE_ZONE,
    {"zone": ZONES[0], "reason": "x", "dryRun": False},
    PLAN_OUTPUT,
    (NODE_REPORT, NODE_REPORT_UNFENCED),
    (PET_REPORT, PET_REPORT_FAILED),
    STEP_ERROR,
)
REPORT_INPUT_BARE = ReportInput(RUN, Runbook.REHOME_PET, {"cluster": "east-1"})
RUN_REPORT = RunReport(
    RUN,
    Runbook.EVACUATE_ZONE,
    False,
    RunOutcome.PARTIAL,
    "EvacuateZone run: partial\nnodes: 1/2 fenced",
    (NODE_REPORT, NODE_REPORT_UNFENCED),
    (PET_REPORT, PET_REPORT_FAILED),
    STEP_ERROR,
)
RUN_REPORT_BARE = RunReport(RUN, Runbook.FENCE_NODE, True, RunOutcome.DRY_RUN, "nothing")

# --- plans (the journal's form: one action of each kind, and plans the planner made) ---------------------------

FENCE = Fence(cluster="east-1", node="a-w0", instance_id="i-0a1b2c3d4e5f", zone=ZONES[0])
GATED: dict[str, Any] = {"when": Condition.FENCED, "gate": FENCE.step_id}
ACTIONS: dict[str, Any] = {
    "fence": FENCE,
    "cordon": Cordon(cluster="east-1", node="a-w0"),
    "out-of-service": MarkOutOfService(cluster="east-1", node="a-w0", **GATED),
    "force-delete-pods": ForceDeletePods(cluster="east-1", node="a-w0", **GATED),
    "delete-volume-attachments": DeleteVolumeAttachments(cluster="east-1", node="a-w0", **GATED),
    "quarantine": Quarantine(cluster="east-1", node="a-w0", when=Condition.NOT_FENCED, gate=FENCE.step_id),
    "await-pod-released": AwaitPodReleased(cluster="east-1", namespace="shop", pod="db-0", uid="uid-db-0", **GATED),
    "create-volume": CreateVolume(
        cluster="east-1",
        run_id=RUN,
        namespace="shop",
        claim="data-db-0",
        snapshot_id="snap-1",
        zone=ZONES[1],
        volume_type="gp3",
        size_gib=10,
        iops=3000,
        throughput=125,
        encrypted=True,
        kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k",
        tags=(("ferry:managed", "true"), ("team", "shop")),
        **GATED,
    ),
    "create-volume-plain": CreateVolume(
        cluster="east-1",
        run_id=RUN,
        namespace="shop",
        claim="data-db-1",
        snapshot_id="snap-2",
        zone=ZONES[2],
        volume_type="gp2",
        size_gib=20,
    ),
    "create-volume-reused": CreateVolume(
        cluster="east-1",
        run_id=RUN,
        namespace="shop",
        claim="data-db-0",
        snapshot_id="snap-1",
        zone=ZONES[1],
        volume_type="gp3",
        size_gib=10,
        reuse_volume_id="vol-restored",
    ),
    "tag-old-volume": TagOldVolume(cluster="east-1", volume_id="vol-old", created_by="east-1/create-volume/x"),
    "create-pv": CreatePersistentVolume(
        cluster="east-1",
        name="ferry-pv",
        created_by="east-1/create-volume/x",
        zone=ZONES[1],
        zone_key="topology.kubernetes.io/zone",
        capacity="10Gi",
        storage_class="ebs-sc",
        access_modes=("ReadWriteOnce",),
        fs_type=None,
        volume_mode="Filesystem",
        claim_namespace="shop",
        claim_name="data-db-0",
    ),
    "retain-pv": RetainPersistentVolume(cluster="east-1", name="pvc-1"),
    "release-pv": ReleasePersistentVolume(
        cluster="east-1", name="ferry-old", claim_namespace="shop", claim_name="data-db-0", volume_id="vol-left"
    ),
    "delete-pvc": DeleteClaim(cluster="east-1", namespace="shop", name="data-db-0", uid="uid-c", volume_name="pvc-1"),
    "bind-pvc": BindClaim(
        cluster="east-1",
        namespace="shop",
        name="data-db-0",
        volume_name="ferry-pv",
        storage_class="ebs-sc",
        access_modes=("ReadWriteOnce", "ReadOnlyMany"),
        request="10Gi",
        labels=(("app", "db"),),
    ),
    "recreate-pvc": RecreateClaim(
        cluster="east-1", namespace="shop", name="data-db-2", storage_class=None, access_modes=(), request="5Gi"
    ),
    "ask-eviction": AskEviction(cluster="east-1", namespace="shop", pod="db-1", uid="uid-db-1"),
    "evict": Evict(cluster="east-1", namespace="shop", pod="db-1", uid="uid-db-1"),
    "verify-running": VerifyRunning(
        cluster="east-1", namespace="shop", pod="db-0", zones=(ZONES[1], ZONES[2]), old_uid="uid-db-0"
    ),
}
CLAIM_MOVE = ClaimMove("data-db-0", "pvc-1", "vol-old", "snap-1", AT)
CLAIM_MOVE_BARE = ClaimMove("data-db-2", "pvc-2", None)
PET_PLAN_BY_HAND = PetPlan(
    "east-1",
    "shop",
    "db",
    2,
    "db-2",
    None,
    RehomePolicy.FRESH,
    None,
    None,
    (CLAIM_MOVE_BARE,),
    None,
    (ACTIONS["recreate-pvc"],),
)
EVACUATION = plan_evacuation(ZONES[0], [three_pets().build()], request())
SKIPPED = Skipped("east-1/node/a-cp0", SkipReason.CONTROL_PLANE, "control-plane nodes are replaced, not fenced")

# --- detection state (snake_case: the form stored in DynamoDB) ------------------------------------------------

REF = SignalRef("evt-1", SignalKind.INSTANCE_DOWN, Source.EC2, AT)
REF_PROBE = SignalRef("round-7", SignalKind.API_UNREACHABLE, Source.PROBE, AT + timedelta(minutes=1))
SIGNAL = Signal(
    SignalKind.INSTANCE_DOWN,
    Source.EC2,
    "evt-1",
    AT,
    "us-east-1",
    ZONES[0],
    "use1-az1",
    "east-1",
    "i-0a1b2c3d4e5f",
    {"state": "stopped", "role": "control-plane"},
)
SIGNAL_BARE = Signal(SignalKind.SCHEDULE_TICK, Source.SCHEDULER, "tick-1", AT, "us-east-1")
ZONE_STATE = ZoneState(
    ZONES[0],
    ZoneStatus.RECOVERING,
    since=AT,
    updated_at=AT + timedelta(minutes=3),
    held=True,
    impaired_since=AT - timedelta(minutes=10),
    evacuation="evacuate-us-east-1a-1764151200",
    recovering_from=AT,
    recovered_at=AT - timedelta(days=1),
    last_bad=REF,
    last_good=REF_PROBE,
    request=REF,
    request_execution="by-hand-1",
    authorities=(Authority("arn:aws:health:x", True, REF),),
    observations=(
        Observation(Witness.FLEET, "i-0a1b2c3d4e5f", True, REF),
        Observation(Witness.NODES, "east-1", False, REF_PROBE),
    ),
)
READING = Reading(False, REF_PROBE)
MEMBER = Member("i-cp0", True, (READING, Reading(True, REF)), Reading(False, REF), AT, "i-cp9")
CONTROL_PLANE = ControlPlaneState(
    "east-1",
    ControlPlaneStatus.DOWN,
    since=AT,
    updated_at=AT,
    api=(READING,),
    members=(MEMBER, Member("i-cp1")),
    down_since=AT,
    failover="failover-east-1-1764151350",
)
ZONE_TRANSITION = Transition(
    SubjectKind.ZONE,
    ZONES[0],
    ZoneStatus.SUSPECT,
    ZoneStatus.IMPAIRED,
    AT,
    TransitionReason.QUORUM,
    (REF, REF_PROBE),
    Handoff.EVACUATE_ZONE,
    "evacuate-us-east-1a-1764151350",
)
MEMBER_TRANSITION = Transition(
    SubjectKind.CONTROL_PLANE,
    "east-1",
    ControlPlaneStatus.UP,
    ControlPlaneStatus.DEGRADED,
    AT,
    TransitionReason.MEMBER_UNHEALTHY,
    member="i-cp0",
)
HELD = Transition(
    SubjectKind.ZONE, ZONES[1], ZoneStatus.HEALTHY, ZoneStatus.SUSPECT, AT, TransitionReason.STATIC_STABILITY
)

SAMPLES: dict[str, Any] = {
    "node-job": NODE_JOB,
    "node-report": NODE_REPORT,
    "node-report-unfenced": NODE_REPORT_UNFENCED,
    "node-report-drained": NODE_REPORT_DRAINED,
    "pet-job": PET_JOB,
    "pet-job-no-node": PET_JOB_NO_NODE,
    "pet-report": PET_REPORT,
    "pet-report-failed": PET_REPORT_FAILED,
    "skipped-item": SKIPPED_ITEM,
    "step-error": STEP_ERROR,
    "plan-output": PLAN_OUTPUT,
    "plan-output-no-zone": PLAN_OUTPUT_NO_ZONE,
    "report-input": REPORT_INPUT,
    "report-input-bare": REPORT_INPUT_BARE,
    "run-report": RUN_REPORT,
    "run-report-bare": RUN_REPORT_BARE,
    **{f"action-{name}": action for name, action in ACTIONS.items()},
    "claim-move": CLAIM_MOVE,
    "claim-move-bare": CLAIM_MOVE_BARE,
    "node-plan": EVACUATION.nodes[0],
    "pet-plan": EVACUATION.pets[0],
    "pet-plan-by-hand": PET_PLAN_BY_HAND,
    "plan": EVACUATION,
    "plan-empty": Plan(None),
    "skipped": SKIPPED,
    "signal": SIGNAL,
    "signal-bare": SIGNAL_BARE,
    "signal-ref": REF,
    "zone-state": ZONE_STATE,
    "zone-state-new": ZoneState(ZONES[2]),
    "authority": ZONE_STATE.authorities[0],
    "observation": ZONE_STATE.observations[0],
    "region-state": RegionState.new("us-east-1", ZONES, [ZONE_STATE]),
    "reading": READING,
    "member": MEMBER,
    "member-bare": Member("i-cp1"),
    "control-plane-state": CONTROL_PLANE,
    "control-plane-state-new": ControlPlaneState("east-2"),
    "transition-zone": ZONE_TRANSITION,
    "transition-member": MEMBER_TRANSITION,
    "reaction": react(ZONE_TRANSITION),
    "reaction-member": react(MEMBER_TRANSITION),
    "reaction-alarm": react(HELD),
    "reaction-by-hand": Reaction(HELD, "subject", "summary", raise_alarm=True),
    "cluster-eks": ClusterRegistration(
        "east-1",
        ClusterKind.EKS,
        "https://east-1.eks.example",
        "us-east-1",
        ZONES,
        eks_cluster_name="east-1",
        control_plane_instances=("i-cp0", "i-cp1"),
        member_endpoints=(("i-cp0", "https://10.0.0.1:6443"), ("i-cp1", "https://10.0.0.2:6443")),
    ),
    "cluster-self-managed": ClusterRegistration(
        "east-2", ClusterKind.SELF_MANAGED, "http://127.0.0.1:6443", "us-east-1", ZONES[:1], credentials_secret="s"
    ),
    "taint": Taint("ferry.io/fence-unconfirmed", "NoSchedule", "true"),
    "taint-no-value": Taint("node.kubernetes.io/out-of-service", "NoExecute"),
}


def wire_text(model: Any) -> str:
    """A model's JSON exactly as pinned: key order kept (no sort_keys), two-space indent, newline at the end."""
    return json.dumps(model.to_dict(), indent=2) + "\n"


def main(names: list[str]) -> None:
    WIRE.mkdir(exist_ok=True)
    for name in names or SAMPLES:
        (WIRE / f"{name}.json").write_text(wire_text(SAMPLES[name]))


if __name__ == "__main__":
    main(sys.argv[1:])
