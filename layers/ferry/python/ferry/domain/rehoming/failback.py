"""What failback gives back to a node of a recovered zone, and only that (pure).

EvacuateZone cordoned the zone's nodes, tainted the fenced ones `node.kubernetes.io/out-of-service` (or
quarantined those whose fence EC2 would not confirm). Once the zone has been quiet for the hold-down,
FailbackZone undoes exactly that on every node whose kubelet is back (Ready, lease fresh): the quarantine
taint (its key is Ferry's own), the out-of-service taint and the cordon when Ferry's mark says Ferry put them
there (`ferry.domain.conventions.CORDON_MARK`, `OUT_OF_SERVICE_MARK`, written in the same write as the cordon
or the taint). A person's cordon or taint carries no mark and is never touched; a node a person cordoned
before Ferry came stays cordoned (Ferry's cordon step found it cordoned and wrote no mark).

`lift_change` is the read-modify-write the adapter applies to the node as read, with its resourceVersion, so
a concurrent writer makes it read again (409) rather than lose their change; `release_change` is its part the
probe applies early, on a fenced node whose kubelet is back (Ferry's out-of-service taint only: the cordon and
the quarantine wait for failback); `cordon_change` puts Ferry's cordon back on a node whose zone relapsed while
it was being given back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ferry.domain.conventions import CORDON_MARK, OUT_OF_SERVICE_MARK
from ferry.domain.detection.transitions import ZoneStatus
from ferry.domain.rehoming.inventory import OUT_OF_SERVICE_TAINT, QUARANTINE_TAINT, ClusterInventory
from ferry.domain.rehoming.models import NodeReport
from ferry.domain.rehoming.plans import LiftNode, NodePlan, Plan, Skipped, SkipReason

Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Lift:
    """What comes off one node: taint keys, the cordon, and Ferry's marks that recorded them."""

    taints: tuple[str, ...] = ()
    uncordon: bool = False
    marks: tuple[str, ...] = ()
    kept_cordon: bool = False  # the node is cordoned, not by Ferry: that cordon stays

    def __bool__(self) -> bool:
        return bool(self.taints or self.uncordon or self.marks)

    def describe(self) -> list[str]:
        return [*(f"taint {k}" for k in self.taints), *([UNCORDONED] if self.uncordon else [])]


UNCORDONED = "Ferry's cordon"  # how a report says the cordon was lifted


def _annotations(node: Obj) -> Mapping[str, str]:
    return (node.get("metadata") or {}).get("annotations") or {}


def lift_of(node: Obj) -> Lift:
    """What of Ferry's is on `node` (a Node as the API returns it): only that is lifted."""
    marks = _annotations(node)
    spec = node.get("spec") or {}
    keys = {t.get("key") for t in spec.get("taints") or []}
    taints = [QUARANTINE_TAINT] if QUARANTINE_TAINT in keys else []
    if OUT_OF_SERVICE_MARK in marks and OUT_OF_SERVICE_TAINT in keys:
        taints.append(OUT_OF_SERVICE_TAINT)
    cordoned = bool(spec.get("unschedulable"))
    return Lift(
        taints=tuple(taints),
        uncordon=cordoned and CORDON_MARK in marks,
        marks=tuple(m for m in (CORDON_MARK, OUT_OF_SERVICE_MARK) if m in marks),
        kept_cordon=cordoned and CORDON_MARK not in marks,
    )


def release_of(node: Obj) -> Lift:
    """What the probe gives back from a fenced node whose kubelet is back: Ferry's out-of-service taint (and its
    mark) when the mark says Ferry put it there, nothing else. A person's out-of-service taint carries no mark
    and stays; Ferry's cordon and quarantine stay until failback."""
    lift = lift_of(node)
    return Lift(
        taints=tuple(k for k in lift.taints if k == OUT_OF_SERVICE_TAINT),
        marks=tuple(m for m in lift.marks if m == OUT_OF_SERVICE_MARK),
    )


def lift_change(node: Obj) -> dict[str, Any] | None:
    """The merge patch that gives Ferry's work back (None: nothing of Ferry's is there). Taints are written as
    a whole list, so the patch is only valid against the resourceVersion it was computed from."""
    return _change(node, lift_of(node))


def release_change(node: Obj) -> dict[str, Any] | None:
    """The merge patch of `release_of` (None: no mark of Ferry's out-of-service taint on the node)."""
    return _change(node, release_of(node))


def _change(node: Obj, lift: Lift) -> dict[str, Any] | None:
    if not lift:
        return None
    spec: dict[str, Any] = {}
    if lift.taints:
        spec["taints"] = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") not in lift.taints]
    if lift.uncordon:
        spec["unschedulable"] = None  # merge patch: remove the field (what `kubectl uncordon` does)
    return {"metadata": {"annotations": dict.fromkeys(lift.marks)}, **({"spec": spec} if spec else {})}


def cordon_change(node: Obj) -> dict[str, Any] | None:
    """Ferry's cordon with its mark; None when the node is already unschedulable (then it is not Ferry's)."""
    if (node.get("spec") or {}).get("unschedulable"):
        return None
    return {"metadata": {"annotations": {CORDON_MARK: "true"}}, "spec": {"unschedulable": True}}


def marked_taint_change(node: Obj, taint: Mapping[str, str], mark: str) -> dict[str, Any] | None:
    """Add `taint` with Ferry's mark for it; None when a taint of its key and effect is there already (then it
    is someone else's, or Ferry's from before, and keeps whatever mark it has)."""
    taints = list((node.get("spec") or {}).get("taints") or [])
    if any(t.get("key") == taint["key"] and t.get("effect") == taint["effect"] for t in taints):
        return None
    return {"metadata": {"annotations": {mark: "true"}}, "spec": {"taints": [*taints, dict(taint)]}}


def relapsed(status: str | None) -> bool:
    """A zone impaired again (or not yet recovered) is not failed back: its evacuation goes on instead."""
    return status in (ZoneStatus.IMPAIRED, ZoneStatus.RECOVERING)


# --- the plan -------------------------------------------------------------------------------------------------

# Kubernetes' node-monitor-grace-period: a kubelet whose Lease is older is not back, whatever its Ready says.
LEASE_GRACE = timedelta(seconds=40)


def plan_failback(
    zone: str,
    inventories: Iterable[ClusterInventory],
    *,
    status: str | None,
    leases: Mapping[str, Mapping[str, datetime | None]],
    moved: Mapping[str, Mapping[str, str]],
    now: datetime,
) -> Plan:
    """FailbackZone over the zone's clusters.

    `status`: the detector's word on the zone now (a relapse plans nothing); `leases`: per cluster, each
    node's last Lease renewal; `moved`: per cluster, new volume -> old volume for the pets whose old volume in
    this zone carries `ferry:rehomed-to` (they live away from home). Per node of the zone with a cordon or one
    of Ferry's taints: Ready with a fresh lease -> give it back (`LiftNode`); not back -> left and said so.
    Pets away stay where their data is now: each is reported with the RehomePet input that would bring it
    home, for a person to run.
    """
    if relapsed(status):
        detail = f"{zone} is {status} again: nothing is given back, its evacuation goes on"
        return Plan(zone=zone, skipped=(Skipped(f"zone/{zone}", SkipReason.ZONE_RELAPSED, detail),))
    nodes: list[NodePlan] = []
    skipped: list[Skipped] = []
    for inventory in sorted(inventories, key=lambda i: i.cluster):
        renewed = leases.get(inventory.cluster, {})
        for node in sorted((n for n in inventory.nodes.values() if n.zone == zone), key=lambda n: n.name):
            if not (node.unschedulable or {t.key for t in node.taints} & {OUT_OF_SERVICE_TAINT, QUARANTINE_TAINT}):
                continue  # nothing on it that Ferry could have put there
            lease = renewed.get(node.name)
            if not node.ready or lease is None or now - lease > LEASE_GRACE:
                why = "not Ready" if not node.ready else "its kubelet's lease is not fresh"
                detail = f"{why}: it keeps its cordon and taints until its kubelet is back"
                skipped.append(Skipped(f"{inventory.cluster}/node/{node.name}", SkipReason.NODE_NOT_READY, detail))
                continue
            lift = LiftNode(cluster=inventory.cluster, node=node.name, zone=zone)
            nodes.append(NodePlan(inventory.cluster, node.name, node.instance_id or "", zone, (lift,)))
        skipped += _living_away(zone, inventory, moved.get(inventory.cluster, {}))
    # Planned stage (issue 15, FailbackCluster): the zone's share of federated replicas returns in steps. Not
    # built yet; said in every report so nobody takes its absence for "nothing to return".
    skipped.append(
        Skipped(
            f"zone/{zone}/federated-replicas",
            SkipReason.PLANNED_STAGE,
            "federated replicas return through FailbackCluster (issue 15), not built yet",
        )
    )
    return Plan(zone=zone, nodes=tuple(nodes), skipped=tuple(skipped))


def _living_away(zone: str, inventory: ClusterInventory, moved: Mapping[str, str]) -> list[Skipped]:
    away = []
    for pod in sorted(inventory.pods, key=lambda p: (p.namespace, p.name)):
        for name in pod.claims:
            claim = inventory.claims.get(f"{pod.namespace}/{name}")
            pv = inventory.volumes.get(claim.volume_name or "") if claim else None
            old = moved.get(pv.volume_id or "") if pv else None
            if pv is None or old is None:
                continue
            back = {
                "cluster": inventory.cluster,
                "namespace": pod.namespace,
                "statefulSet": pod.statefulset,
                "ordinal": pod.ordinal,
                "targetZone": zone,
                "reason": f"back to its home zone {zone} after failback",
            }
            detail = (
                f"lives in {pv.zone} on {pv.volume_id} (its volume in {zone} was {old}); "
                f"to bring it home: ferry-RehomePet {json.dumps(back, sort_keys=True)}"
            )
            away.append(Skipped(f"{inventory.cluster}/{pod.namespace}/{pod.name}", SkipReason.LIVING_AWAY, detail))
            break
    return away


def cordon_again(nodes: Iterable[NodeReport], status: str | None) -> tuple[NodeReport, ...]:
    """The nodes this run made schedulable that must be cordoned again: all of them once the zone relapsed
    (whenever the relapse came, so failback leaves no node of an impaired zone schedulable), none otherwise."""
    return tuple(n for n in nodes if not n.cordoned) if relapsed(status) else ()
