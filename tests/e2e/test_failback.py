"""FailbackZone end to end on the sandbox: the default game day (act mode) run on past recovery.

Zone a fails (EC2 stops, AWS Health a minute later), EvacuateZone fences and cordons its nodes and moves db-0
to zone b or c. A person had cordoned one of zone a's nodes before the outage, for their own reasons. Zone a
comes back (instances start, kubelets report, Health resolves), the zone is RECOVERING for the ten-minute
hold-down, then RECOVERED, and the detector starts FailbackZone (the synthesized state machine, on the real
runbook steps): every node Ferry cordoned or tainted is given back, the person's cordon stays, and db-0 is
reported living away from its zone with the RehomePet input that would bring it home. The figure: the time
from RECOVERED to every node of the zone schedulable (except the person's).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s

from ferry.domain.conventions import CORDON_MARK, OUT_OF_SERVICE_MARK
from ferry.domain.modes import Mode
from sandbox.gameday import moments
from sandbox.scenario import ZoneOutage, ZoneRecovery, load
from sandbox.world import World

pytestmark = pytest.mark.xdist_group("failback")

ZONE = "us-east-1a"
OUTAGE_AT, RECOVERY_AT, HOLD_DOWN = 60.0, 6 * 60.0, 600.0
END = RECOVERY_AT + 60.0 + HOLD_DOWN + 5 * 60.0
FERRY_TAINTS = {"node.kubernetes.io/out-of-service", "ferry.io/fence-unconfirmed"}


def zone_nodes(world: World) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (cluster, node["metadata"]["name"]): node
        for cluster, kube in world.clusters.items()
        for node in kube.list("Node")
        if node["metadata"].get("labels", {}).get("topology.kubernetes.io/zone") == ZONE
        and "node-role.kubernetes.io/control-plane" not in node["metadata"].get("labels", {})
    }


def schedulable(node: dict[str, Any]) -> bool:
    spec = node.get("spec") or {}
    return not spec.get("unschedulable") and not {t.get("key") for t in spec.get("taints") or []} & FERRY_TAINTS


@pytest.fixture(scope="module")
def drill() -> Iterator[dict[str, Any]]:
    scenario = dataclasses.replace(
        load("az-outage"),
        steps=(
            ZoneOutage(at=OUTAGE_AT, zone=ZONE, send_events=True, health_event_after=60.0),
            ZoneRecovery(at=RECOVERY_AT, zone=ZONE, send_events=True, health_event_after=60.0),
        ),
        duration=END,
        expect=(),
    )
    with World(scenario, mode=Mode.ACT) as world:
        person = sorted(zone_nodes(world))[-1]  # a person's cordon, before anything happens
        k8s.CoreV1Api(world.clusters[person[0]].api_client()).patch_node(person[1], {"spec": {"unschedulable": True}})
        statuses: list[tuple[float, str]] = []
        back_at: float | None = None
        evacuated: dict[tuple[str, str], dict[str, Any]] = {}
        for at in moments(world, END, 15.0):
            world.advance_to(at)
            world.run_due()
            world.deliver_events()
            world.run_runbooks()
            state = world.zone_state(ZONE)
            statuses.append((at, state["status"] if state else "healthy"))
            nodes = zone_nodes(world)
            if RECOVERY_AT - 60 <= at < RECOVERY_AT:
                evacuated = nodes  # as EvacuateZone left them, just before the zone comes back
            others = [n for key, n in nodes.items() if key != person]
            if back_at is None and at > RECOVERY_AT and all(schedulable(n) for n in others):
                back_at = at
        yield {
            "world": world,
            "person": person,
            "statuses": statuses,
            "back_at": back_at,
            "evacuated": evacuated,
            "nodes": zone_nodes(world),
            "failbacks": world.executions("FailbackZone"),
        }


def recovered_at(statuses: list[tuple[float, str]]) -> float:
    return next(at for at, seen in statuses if at > RECOVERY_AT and seen == "healthy")


def test_the_evacuation_had_cordoned_and_tainted_the_zone(drill) -> None:
    evacuated = drill["evacuated"]

    assert evacuated and not any(schedulable(n) for n in evacuated.values())
    marked = [n for key, n in evacuated.items() if key != drill["person"]]
    assert all(CORDON_MARK in n["metadata"].get("annotations", {}) for n in marked)
    assert CORDON_MARK not in drill["evacuated"][drill["person"]]["metadata"].get("annotations", {})


def test_failback_starts_once_at_recovered_and_succeeds(drill) -> None:
    (run,) = drill["failbacks"]

    assert run.name.startswith(f"failback-{ZONE}-")
    assert run.status == "SUCCEEDED"
    assert (run.output or {})["outcome"] == "succeeded"
    assert recovered_at(drill["statuses"]) - RECOVERY_AT >= HOLD_DOWN


def test_ferrys_taints_and_cordons_are_gone_and_a_persons_cordon_stays(drill) -> None:
    nodes, person = drill["nodes"], drill["person"]

    assert all(schedulable(n) for key, n in nodes.items() if key != person)
    assert nodes[person]["spec"].get("unschedulable") is True
    for node in nodes.values():
        annotations = node["metadata"].get("annotations") or {}
        assert CORDON_MARK not in annotations and OUT_OF_SERVICE_MARK not in annotations
        assert not {t.get("key") for t in node["spec"].get("taints") or []} & FERRY_TAINTS


def test_db0_is_reported_living_away_with_the_rehome_pet_input_to_bring_it_home(drill) -> None:
    (run,) = drill["failbacks"]
    summary = (run.output or {})["summary"]

    (line,) = [line for line in summary.splitlines() if "/shop/db-0" in line]
    assert "living-away-from-its-zone" in line
    back = json.loads(line.split("ferry-RehomePet ", 1)[1])
    assert back == {
        "cluster": "east-1",
        "namespace": "shop",
        "statefulSet": "db",
        "ordinal": 0,
        "targetZone": ZONE,
        "reason": f"back to its home zone {ZONE} after failback",
    }
    assert "federated replicas return through FailbackCluster" in summary


def test_every_node_of_the_zone_is_schedulable_soon_after_recovered(drill) -> None:
    recovered, back = recovered_at(drill["statuses"]), drill["back_at"]

    assert back is not None
    print(
        f"\nFIGURE: RECOVERED at {recovered:.0f} s -> every node of {ZONE} schedulable at {back:.0f} s "
        f"({back - recovered:.0f} s of sandbox time, 15 s resolution)"
    )
    assert back - recovered <= 60.0
