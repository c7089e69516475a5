"""Each re-homing effect checks the world before it acts, with fakes for Kubernetes, EC2 and EBS: the guards
that keep the invariants even when the plan's assumptions went stale (EC2 changed its mind, a PV lost its
Retain, the StatefulSet controller recreated a claim first, a PodDisruptionBudget says no)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ferry.adapters.fencing import FenceResult
from ferry.domain.errors import Refused, StepPending, Throttled
from ferry.domain.rehoming.inventory import EbsVolume, InstanceState
from ferry.domain.rehoming.plans import (
    BindClaim,
    CreatePersistentVolume,
    CreateVolume,
    DeleteClaim,
    Evict,
    Fence,
    MarkOutOfService,
    ReleasePersistentVolume,
    VerifyRunning,
)
from ferry.executor.effects import ClusterEffects
from tests.unit.rehoming_builders import NOW

C = "east-1"


class FakeKube:
    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {
            "a-w0": {"metadata": {"name": "a-w0"}, "spec": {"providerID": "aws:///us-east-1a/i-0a"}},
            "b-w0": {"metadata": {"name": "b-w0", "labels": {"topology.kubernetes.io/zone": "us-east-1b"}}, "spec": {}},
        }
        self.pods: dict[str, dict[str, Any]] = {}
        self.claims: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.evictions: list[Exception] = []

    def node_object(self, name: str) -> dict[str, Any] | None:
        return self.nodes.get(name)

    def add_taint(self, node: str, taint: Any) -> bool:
        self.calls.append(f"taint {node} {taint.key}")
        return True

    def pod_object(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.pods.get(name)

    def claim_object(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.claims.get(name)

    def volume_object(self, name: str) -> dict[str, Any] | None:
        return self.volumes.get(name)

    def delete_claim(self, namespace: str, name: str, uid: str) -> bool:
        self.calls.append(f"delete claim {name} {uid}")
        self.claims.pop(name, None)
        return True

    def create_claim(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(f"create claim {body['metadata']['name']} -> {body['spec'].get('volumeName')}")
        return body

    def create_volume_object(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(f"create pv {body['metadata']['name']}")
        return body

    def release_volume(self, volume: str, *, claim_uid: str, resource_version: str) -> None:
        self.calls.append(f"release pv {volume} uid={claim_uid} at {resource_version}")

    def evict(self, namespace: str, name: str, uid: str) -> bool:
        if self.evictions:
            raise self.evictions.pop(0)
        self.calls.append(f"evict {name}")
        return True


class FakeFencer:
    def __init__(self, state: InstanceState = InstanceState.STOPPED) -> None:
        self.now = state

    def state(self, instance_id: str) -> InstanceState:
        return self.now

    def fence(self, instance_id: str, wait: timedelta) -> FenceResult:
        return FenceResult(instance_id, self.now.fenced, False, self.now, "" if self.now.fenced else "running")


class FakeVolumes:
    def __init__(self, state: str = "available", tags: dict[str, str] | None = None) -> None:
        self.state = state
        self.tags = tags or {}

    def describe(self, ids: Any) -> dict[str, EbsVolume]:
        return {i: EbsVolume(i, "us-east-1b", self.state, "gp3", 10, tags=self.tags) for i in ids}


def effects(kube: FakeKube, fencer: FakeFencer | None = None, volumes: FakeVolumes | None = None) -> ClusterEffects:
    return ClusterEffects(
        kube=kube,  # type: ignore[arg-type]
        fencer=fencer or FakeFencer(),  # type: ignore[arg-type]
        volumes=volumes or FakeVolumes(),  # type: ignore[arg-type]
        fence_wait=timedelta(seconds=1),
        clock=lambda: NOW,
    )


def test_nothing_is_freed_if_ec2_no_longer_confirms_the_fence() -> None:
    kube = FakeKube()
    fenced = effects(kube, FakeFencer(InstanceState.STOPPED)).perform(
        Fence(cluster=C, node="a-w0", instance_id="i-0a", zone="us-east-1a"), {}
    )
    assert fenced.done and fenced.result["fenced"]

    with pytest.raises(Refused, match="EC2 now reports i-0a running"):
        effects(kube, FakeFencer(InstanceState.RUNNING)).perform(MarkOutOfService(cluster=C, node="a-w0"), {})
    assert kube.calls == []


def test_an_unconfirmed_fence_is_not_done() -> None:
    performed = effects(FakeKube(), FakeFencer(InstanceState.RUNNING)).perform(
        Fence(cluster=C, node="a-w0", instance_id="i-0a", zone="us-east-1a"), {}
    )
    assert not performed.done and performed.result["fenced"] is False


@pytest.mark.parametrize(
    ("policy", "deleted"),
    [pytest.param("Delete", False, id="pv-delete-refused"), pytest.param("Retain", True, id="pv-retain-deletes")],
)
def test_a_claim_is_deleted_only_while_its_volume_is_retained(policy: str, deleted: bool) -> None:
    kube = FakeKube()
    kube.claims["data-db-0"] = {"metadata": {"uid": "u1"}, "spec": {"volumeName": "pv-0"}}
    kube.volumes["pv-0"] = {"spec": {"persistentVolumeReclaimPolicy": policy}}
    action = DeleteClaim(cluster=C, namespace="shop", name="data-db-0", uid="u1", volume_name="pv-0")

    if deleted:
        effects(kube).perform(action, {})
        assert kube.calls == ["delete claim data-db-0 u1"]
    else:
        with pytest.raises(Refused, match="not Retain"):
            effects(kube).perform(action, {})
        assert kube.calls == []


def test_a_newer_claim_of_the_same_name_is_never_deleted() -> None:
    kube = FakeKube()
    kube.claims["data-db-0"] = {"metadata": {"uid": "u2"}, "spec": {"volumeName": "ferry-x"}}
    effects(kube).perform(DeleteClaim(cluster=C, namespace="shop", name="data-db-0", uid="u1", volume_name="pv-0"), {})
    assert kube.calls == []


def bind() -> BindClaim:
    return BindClaim(
        cluster=C,
        namespace="shop",
        name="data-db-0",
        volume_name="ferry-x",
        storage_class="ebs-sc",
        access_modes=("ReadWriteOnce",),
        request="10Gi",
    )


def test_binding_waits_for_the_old_claim_then_writes_ours() -> None:
    kube = FakeKube()
    kube.claims["data-db-0"] = {"metadata": {"uid": "u1", "deletionTimestamp": "x"}, "spec": {"volumeName": "pv-0"}}
    with pytest.raises(StepPending, match="still being deleted"):
        effects(kube).perform(bind(), {})

    del kube.claims["data-db-0"]
    effects(kube).perform(bind(), {})
    assert kube.calls == ["create claim data-db-0 -> ferry-x"]


@pytest.mark.parametrize(
    ("claim_ref", "waits"),
    [
        pytest.param({"namespace": "shop", "name": "data-db-0"}, True, id="pv-pre-bound-by-name"),
        pytest.param({"namespace": "shop", "name": "data-db-0", "uid": "u3"}, True, id="pv-bound-to-it-already"),
        pytest.param({"namespace": "shop", "name": "data-db-0", "uid": "u1"}, False, id="pv-released"),
        pytest.param({"namespace": "shop", "name": "data-db-9"}, False, id="pv-reserved-for-another"),
    ],
)
def test_a_claim_the_statefulset_made_again_is_left_to_the_pv_controller_never_deleted(
    claim_ref: dict[str, str], waits: bool
) -> None:
    kube = FakeKube()
    kube.claims["data-db-0"] = {"metadata": {"uid": "u3"}, "spec": {}}  # the StatefulSet controller was first
    kube.volumes["ferry-x"] = {"spec": {"claimRef": claim_ref}}
    if waits:  # the PV controller binds it to ours, the only PV reserved for its name
        with pytest.raises(StepPending, match="the PV controller binds it to ours"):
            effects(kube).perform(bind(), {})
    else:
        with pytest.raises(Refused, match="not reserved for it"):
            effects(kube).perform(bind(), {})
    assert kube.calls == []


def test_a_claim_bound_elsewhere_is_left_alone() -> None:
    kube = FakeKube()
    kube.claims["data-db-0"] = {"metadata": {"uid": "u4"}, "spec": {"volumeName": "pvc-someone-else"}}
    with pytest.raises(Refused, match="left alone"):
        effects(kube).perform(bind(), {})
    assert kube.calls == []


def pv() -> CreatePersistentVolume:
    return CreatePersistentVolume(
        cluster=C,
        name="ferry-x",
        created_by="east-1/create-volume/shop/data-db-0",
        zone="us-east-1b",
        zone_key="topology.kubernetes.io/zone",
        capacity="10Gi",
        storage_class="ebs-sc",
        access_modes=("ReadWriteOnce",),
        fs_type="ext4",
        volume_mode="Filesystem",
        claim_namespace="shop",
        claim_name="data-db-0",
    )


def test_the_pv_waits_for_the_volume_and_a_pv_of_another_volume_is_refused() -> None:
    created = {"east-1/create-volume/shop/data-db-0": {"volumeId": "vol-new"}}
    kube = FakeKube()
    with pytest.raises(StepPending, match="creating"):
        effects(kube, volumes=FakeVolumes("creating")).perform(pv(), created)
    with pytest.raises(Refused, match="has not completed"):
        effects(kube).perform(pv(), {})
    effects(kube).perform(pv(), created)
    assert kube.calls == ["create pv ferry-x"]

    kube.volumes["ferry-x"] = {"spec": {"csi": {"volumeHandle": "vol-other"}}}
    with pytest.raises(Refused, match="exists for vol-other"):
        effects(kube).perform(pv(), created)

    kube.volumes["ferry-x"] = {"spec": {"csi": {"volumeHandle": "vol-new"}, "claimRef": {"name": "data-db-9"}}}
    with pytest.raises(Refused, match="no longer reserved for shop/data-db-0"):
        effects(kube).perform(pv(), created)


def reuse() -> CreateVolume:
    return CreateVolume(
        cluster=C,
        run_id="rehome-db-0-2",
        namespace="shop",
        claim="data-db-0",
        snapshot_id="snap-1",
        zone="us-east-1b",
        volume_type="gp3",
        size_gib=10,
        reuse_volume_id="vol-left",
    )


@pytest.mark.parametrize(
    ("state", "restored_from", "reused"),
    [
        pytest.param("available", "snap-1", True, id="still-the-same-restore"),
        pytest.param("in-use", "snap-1", False, id="attached-since"),
        pytest.param("available", "snap-0", False, id="another-snapshot"),
    ],
)
def test_a_volume_an_earlier_run_restored_is_taken_only_if_ec2_still_says_it_fits(
    state: str, restored_from: str, reused: bool
) -> None:
    tags = {"ferry:pet": "shop/data-db-0", "ferry:restored-from": restored_from}
    acting = effects(FakeKube(), volumes=FakeVolumes(state, tags))
    if reused:
        done = acting.perform(reuse(), {})
        assert done.result["volumeId"] == "vol-left" and done.result["reused"]
    else:
        with pytest.raises(Refused, match="no longer reusable"):
            acting.perform(reuse(), {})


def leftover(ref: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "ferry-old", "resourceVersion": "7"},
        "spec": {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-left"}, "claimRef": ref},
    }


@pytest.mark.parametrize(
    ("found", "released"),
    [
        pytest.param(leftover({"namespace": "shop", "name": "data-db-0"}), True, id="pre-bound-released"),
        pytest.param(leftover({"namespace": "shop", "name": "data-db-0", "uid": "u9"}), False, id="bound-since"),
        pytest.param(leftover({"namespace": "shop", "name": "data-db-7"}), False, id="another-claims"),
        pytest.param(None, False, id="gone"),
    ],
)
def test_a_leftover_pv_is_released_only_while_it_is_still_only_pre_bound(found: Any, released: bool) -> None:
    kube = FakeKube()
    if found is not None:
        kube.volumes["ferry-old"] = found
    action = ReleasePersistentVolume(
        cluster=C, name="ferry-old", claim_namespace="shop", claim_name="data-db-0", volume_id="vol-left"
    )
    done = effects(kube).perform(action, {})

    assert done.done and done.result["changed"] is released
    assert kube.calls == (["release pv ferry-old uid=released-by-ferry at 7"] if released else [])


def test_an_eviction_a_budget_refuses_is_asked_again_later() -> None:
    kube = FakeKube()
    kube.pods["db-1"] = {"metadata": {"uid": "p1"}}
    kube.evictions.append(
        Throttled("429 Too Many Requests: Cannot evict pod as it would violate the pod's disruption budget.")
    )
    action = Evict(cluster=C, namespace="shop", pod="db-1", uid="p1")

    with pytest.raises(StepPending, match="PodDisruptionBudget"):
        effects(kube).perform(action, {})
    effects(kube).perform(action, {})
    assert kube.calls == ["evict db-1"]


def test_running_in_the_wrong_zone_is_refused_and_not_yet_running_is_pending() -> None:
    kube = FakeKube()
    action = VerifyRunning(cluster=C, namespace="shop", pod="db-0", zones=("us-east-1c",), old_uid="old")
    kube.pods["db-0"] = {"metadata": {"uid": "old"}, "spec": {"nodeName": "a-w0"}, "status": {"phase": "Running"}}
    with pytest.raises(StepPending, match="not been recreated"):
        effects(kube).perform(action, {})
    kube.pods["db-0"] = {"metadata": {"uid": "new"}, "spec": {}, "status": {"phase": "Pending"}}
    with pytest.raises(StepPending, match="Pending"):
        effects(kube).perform(action, {})
    kube.pods["db-0"] = {"metadata": {"uid": "new"}, "spec": {"nodeName": "b-w0"}, "status": {"phase": "Running"}}
    with pytest.raises(Refused, match="runs in us-east-1b"):
        effects(kube).perform(action, {})
