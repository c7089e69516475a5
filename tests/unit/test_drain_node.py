"""DrainNode (issue 13): a warned node is cordoned and each of its pods evicted as `kubectl drain` does it.

The plan (pure) leaves DaemonSet and mirror pods and never forces or touches a claim; the effect asks a
budget again until the deadline and then reports the pod not evicted with the budget's answer; the node's
report and the run's outcome say per pod what happened."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ferry.domain.errors import Throttled
from ferry.domain.rehoming import reports
from ferry.domain.rehoming.inventory import Node, Resident
from ferry.domain.rehoming.manifests import parse_resident
from ferry.domain.rehoming.models import NodeReport, PodEviction, ReportInput, RunOutcome
from ferry.domain.rehoming.planner import DRAIN_WINDOW, plan_drain
from ferry.domain.rehoming.plans import ActionKind, CompleteLifecycleAction, Cordon, DrainPod, NodePlan, Plan
from ferry.domain.runbooks import Runbook
from ferry.executor.effects import ClusterEffects
from tests.unit.rehoming_builders import NOW, request
from tests.unit.test_rehoming_effects import FakeFencer, FakeKube, FakeVolumes

C = "east-1"
NODE = Node(name="b-w1", zone="us-east-1b", instance_id="i-0b1", ready=True)
DEADLINE = NOW + timedelta(minutes=2)


def resident(name: str, owner: str | None = "ReplicaSet", **flags: bool) -> Resident:
    return Resident(namespace="shop", name=name, uid=f"uid-{name}", owner_kind=owner, **flags)


def drain(*residents: Resident, deadline: Any = DEADLINE, node: Node | None = NODE) -> Plan:
    return plan_drain(C, node, residents, request(), node_name="b-w1", deadline=deadline)


# --- the plan -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "evicted", "left_because"),
    [
        pytest.param(resident("web-1"), True, None, id="replicaset-pod-evicted"),
        pytest.param(resident("db-0", "StatefulSet"), True, None, id="pet-evicted-its-claim-untouched"),
        pytest.param(resident("bare", None), True, None, id="unowned-pod-evicted"),
        pytest.param(resident("agent-x", "DaemonSet"), False, "daemonset-pod", id="daemonset-pod-left"),
        pytest.param(resident("kube-proxy-b", "Node", mirror=True), False, "mirror-pod", id="mirror-pod-left"),
        pytest.param(resident("old", deleting=True), False, "pod-deleting", id="terminating-pod-left"),
    ],
)
def test_a_drain_cordons_then_evicts_each_pod_kubectl_drain_would(
    pod: Resident, evicted: bool, left_because: str | None
) -> None:
    plan = drain(pod)

    (node,) = plan.nodes
    assert node.drains and isinstance(node.actions[0], Cordon), "cordoned first, so nothing lands back on it"
    evictions = [a for a in node.actions if isinstance(a, DrainPod)]
    assert [(a.pod, a.uid) for a in evictions] == ([(pod.name, pod.uid)] if evicted else [])
    assert [s.reason.value for s in plan.skipped] == ([left_because] if left_because else [])
    kinds = {a.kind for a in node.actions}
    assert kinds <= {ActionKind.CORDON, ActionKind.DRAIN_POD}, "no fence, no force, no claim deleted"


@pytest.mark.parametrize(
    ("deadline", "until"),
    [
        pytest.param(DEADLINE, DEADLINE, id="spot-two-minutes"),
        pytest.param(None, NOW + DRAIN_WINDOW, id="none-given-the-window"),
        pytest.param(NOW + timedelta(days=14), NOW + DRAIN_WINDOW, id="retirement-in-two-weeks-the-window"),
    ],
)
def test_budgets_are_asked_until_the_deadline_or_the_window_whichever_comes_first(deadline: Any, until: Any) -> None:
    (node,) = drain(resident("web-1"), deadline=deadline).nodes
    (evict,) = [a for a in node.actions if isinstance(a, DrainPod)]
    assert evict.deadline == until.isoformat()


def test_the_plan_is_deterministic_and_survives_the_journal() -> None:
    pods = [resident("web-2"), resident("web-1"), resident("db-0", "StatefulSet")]
    first, again = drain(*pods), drain(*reversed(pods))
    assert first == again
    (node,) = first.nodes
    assert NodePlan.from_dict(node.to_dict()) == node
    assert [a.pod for a in node.actions if isinstance(a, DrainPod)] == ["db-0", "web-1", "web-2"]


def test_an_unknown_node_is_skipped_not_planned() -> None:
    plan = drain(resident("web-1"), node=None)
    assert plan.nodes == () and [s.subject for s in plan.skipped] == [f"{C}/node/b-w1"]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        pytest.param(
            {
                "metadata": {
                    "name": "p",
                    "namespace": "n",
                    "uid": "u",
                    "ownerReferences": [{"kind": "DaemonSet", "controller": True}],
                }
            },
            Resident("n", "p", "u", "DaemonSet"),
            id="controller-kind",
        ),
        pytest.param(
            {"metadata": {"name": "p", "uid": "u", "annotations": {"kubernetes.io/config.mirror": "h"}}},
            Resident("default", "p", "u", None, mirror=True),
            id="mirror-annotation",
        ),
        pytest.param(
            {
                "metadata": {
                    "name": "p",
                    "uid": "u",
                    "deletionTimestamp": "2026-12-03T12:00:00Z",
                    "ownerReferences": [{"kind": "Job"}],
                }
            },
            Resident("default", "p", "u", None, deleting=True),
            id="deleting-and-a-non-controller-owner",
        ),
    ],
)
def test_pods_are_read_for_a_drain(manifest: dict[str, Any], expected: Resident) -> None:
    assert parse_resident(manifest) == expected


# --- the effect -----------------------------------------------------------------------------------------------

REFUSAL = "429 Too Many Requests: Cannot evict pod as it would violate the pod's disruption budget."


def effects(kube: FakeKube, now: Any = NOW) -> ClusterEffects:
    return ClusterEffects(
        kube=kube,  # type: ignore[arg-type]
        fencer=FakeFencer(),  # type: ignore[arg-type]
        volumes=FakeVolumes(),  # type: ignore[arg-type]
        fence_wait=timedelta(seconds=1),
        clock=lambda: now,
    )


@pytest.mark.parametrize(
    ("pod", "refused", "now", "done", "result"),
    [
        pytest.param({"metadata": {"uid": "p1"}}, False, NOW, True, {"evicted": True, "changed": True}, id="evicted"),
        pytest.param(None, False, NOW, True, {"evicted": True, "changed": False}, id="already-gone"),
        pytest.param(
            {"metadata": {"uid": "new"}}, False, NOW, True, {"evicted": True, "changed": False}, id="recreated"
        ),
        pytest.param(
            {"metadata": {"uid": "p1"}},
            True,
            NOW,
            False,
            {"evicted": False, "pending": True},
            id="refused-before-deadline",
        ),
        pytest.param({"metadata": {"uid": "p1"}}, True, DEADLINE, True, {"evicted": False}, id="refused-at-deadline"),
    ],
)
def test_an_eviction_is_asked_again_until_the_deadline_then_reported_never_forced(
    pod: Any, refused: bool, now: Any, done: bool, result: dict[str, Any]
) -> None:
    kube = FakeKube()
    if pod is not None:
        kube.pods["web-1"] = pod
    if refused:
        kube.evictions.append(Throttled(REFUSAL))
    action = DrainPod(cluster=C, namespace="shop", pod="web-1", uid="p1", deadline=DEADLINE.isoformat())

    performed = effects(kube, now).perform(action, {})

    assert performed.done is done
    assert {k: v for k, v in performed.result.items() if k != "reason"} == result
    if refused:
        assert "disruption budget" in performed.result["reason"]
    assert all(not call.startswith(("delete", "force")) for call in kube.calls)


# --- the report -----------------------------------------------------------------------------------------------


def test_the_node_report_lists_each_pod_evicted_or_not_and_why() -> None:
    (node,) = drain(resident("web-1"), resident("web-2"), resident("web-3")).nodes
    steps = [a.step_id for a in node.actions]
    statuses = dict.fromkeys(steps, "done")
    results = {
        steps[1]: {"evicted": True},
        steps[2]: {"evicted": False, "reason": "PodDisruptionBudget refused the eviction until the deadline"},
        steps[3]: {"evicted": True},
    }

    report = reports.drain_report(node, statuses, results)

    assert report.cordoned and not report.fenced
    assert [(e.pod, e.evicted) for e in report.evictions] == [("web-1", True), ("web-2", False), ("web-3", True)]
    assert "until the deadline" in (report.evictions[1].reason or "")
    assert NodeReport.from_dict(report.to_dict()) == report


def test_a_dry_run_drain_reports_every_pod_planned_and_nothing_done() -> None:
    (node,) = drain(resident("web-1")).nodes
    report = reports.drain_report(node, dict.fromkeys((a.step_id for a in node.actions), "planned"), {})
    assert not report.cordoned and report.reason == "dry run: nothing done"
    assert report.evictions == (PodEviction("shop", "web-1", False, "dry run: nothing done"),)


def _node(*evictions: PodEviction, cordoned: bool = True) -> NodeReport:
    return NodeReport(C, "b-w1", "i-0b1", False, None, None, cordoned, None, evictions)


@pytest.mark.parametrize(
    ("nodes", "outcome"),
    [
        pytest.param((_node(PodEviction("shop", "web-1", True)),), RunOutcome.SUCCEEDED, id="all-evicted"),
        pytest.param((_node(),), RunOutcome.SUCCEEDED, id="nothing-to-evict"),
        pytest.param((_node(PodEviction("shop", "web-1", False, "budget")),), RunOutcome.PARTIAL, id="one-left"),
        pytest.param((_node(cordoned=False),), RunOutcome.PARTIAL, id="not-cordoned"),
        pytest.param((), RunOutcome.PARTIAL, id="no-such-node"),
    ],
)
def test_a_drain_succeeds_when_the_node_is_cordoned_and_every_pod_evicted(
    nodes: tuple[NodeReport, ...], outcome: RunOutcome
) -> None:
    request_ = ReportInput("drain-1", Runbook.DRAIN_NODE, {"reason": "spot", "dryRun": False}, nodes=nodes)
    result = reports.run_report(request_)
    assert result.outcome is outcome
    assert ("not evicted: budget" in result.summary) is (
        outcome is RunOutcome.PARTIAL and bool(nodes) and bool(nodes[0].evictions)
    )


# --- an Auto Scaling terminate hook ---------------------------------------------------------------------------

HOOK = {
    "autoScalingGroupName": "east-1-workers-b",
    "lifecycleHookName": "ferry-drain-and-fence",
    "lifecycleActionToken": "19cc4d4a-e450-4d1c-b448-0de67EXAMPLE",
}


def test_a_terminate_hook_is_completed_last_after_every_eviction() -> None:
    plan = plan_drain(C, NODE, [resident("web-1"), resident("web-2")], request(), node_name="b-w1", lifecycle=HOOK)
    (node,) = plan.nodes
    last = node.actions[-1]
    assert isinstance(last, CompleteLifecycleAction)
    assert (last.group, last.hook, last.token, last.instance_id) == (*HOOK.values(), "i-0b1")
    assert last.after == tuple(a.step_id for a in node.actions if isinstance(a, DrainPod))
    assert NodePlan.from_dict(node.to_dict()) == node


class FakeLifecycle:
    def __init__(self) -> None:
        self.completed: list[str] = []

    def complete(self, *, group: str, hook: str, token: str, instance_id: str) -> bool:
        self.completed.append(instance_id)
        return True


@pytest.mark.parametrize(
    ("eviction", "done"),
    [
        pytest.param({"evicted": True}, True, id="after-the-drain"),
        pytest.param({"evicted": False, "reason": "budget until the deadline"}, True, id="at-the-deadline"),
        pytest.param({"evicted": False, "pending": True}, False, id="not-before-the-deadline"),
    ],
)
def test_continue_is_sent_once_no_eviction_waits_for_its_deadline(eviction: dict[str, Any], done: bool) -> None:
    lifecycle = FakeLifecycle()
    action = CompleteLifecycleAction(
        cluster=C, node="b-w1", group="g", hook="h", token="t", instance_id="i-0b1", after=("east-1/drain-pod/x",)
    )
    performed = ClusterEffects(
        kube=FakeKube(),  # type: ignore[arg-type]
        fencer=FakeFencer(),  # type: ignore[arg-type]
        volumes=FakeVolumes(),  # type: ignore[arg-type]
        fence_wait=timedelta(seconds=1),
        clock=lambda: NOW,
        lifecycle=lifecycle,  # type: ignore[arg-type]
    ).perform(action, {"east-1/drain-pod/x": eviction})

    assert performed.done is done
    assert lifecycle.completed == (["i-0b1"] if done else [])
