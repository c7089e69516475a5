"""Ferry's Kubernetes writes against the sandbox API server: each write is one the server accepts, each is
idempotent or guarded by a uid, taints are never lost to a concurrent writer, and the RBAC manifest grants
exactly the calls the adapters make."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from ferry.adapters.kube import Credentials
from ferry.adapters.kube_writes import KubeWriter
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.conventions import CORDON_MARK, OUT_OF_SERVICE_MARK
from ferry.domain.errors import Conflict, NotFound, Throttled
from ferry.domain.federation import shifting
from ferry.domain.federation.shifting import BEFORE_SHIFT_ANNOTATION
from ferry.domain.readiness_inputs import REQUIRED, REVIEW_NAMESPACE, parse_rules_review
from ferry.domain.rehoming import manifests
from ferry.domain.rehoming.inventory import Taint
from sandbox.kube import KubeCluster, SandboxClock

ROOT = Path(__file__).resolve().parents[2]
RBAC = ROOT / "deploy" / "kubernetes" / "ferry-rbac.yaml"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
GROUPS = {
    "statefulsets": "apps",
    "deployments": "apps",
    "volumeattachments": "storage.k8s.io",
    "leases": "coordination.k8s.io",
    "poddisruptionbudgets": "policy",
    "selfsubjectrulesreviews": "authorization.k8s.io",
}


def statefulset(name: str = "db", replicas: int = 3) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "shop", "annotations": {"ferry.io/rehome": "snapshot"}},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "postgres:16"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "ebs-sc",
                        "resources": {"requests": {"storage": "10Gi"}},
                    },
                }
            ],
        },
    }


def deployment(name: str = "web", replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name, "image": "nginx"}]}},
        },
    }


@pytest.fixture(scope="module")
def cluster() -> Iterator[KubeCluster]:
    with KubeCluster("east-1", clock=SandboxClock()) as running:
        for zone in ZONES:
            for index in range(2):
                running.add_node(f"{zone[-1]}-w{index}", zone, instance_id=f"i-{zone[-1]}{index:016d}")
        running.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        running.apply(statefulset())
        running.apply(deployment())
        running.apply(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "db", "namespace": "shop"},
                "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "db"}}},
            }
        )
        running.settle()
        yield running


def writer(cluster: KubeCluster) -> KubeWriter:
    registration = ClusterRegistration(
        name=cluster.name,
        kind=ClusterKind.SELF_MANAGED,
        endpoint=cluster.url,
        region="us-east-1",
        zones=ZONES,
        credentials_secret="ferry/east-1",
    )
    return KubeWriter(registration, Credentials(token=cluster.token), timeout=5)


def test_reads_return_the_pets_and_their_storage(cluster: KubeCluster) -> None:
    with writer(cluster) as kube:
        pods = sorted(filter(None, map(manifests.parse_pod, kube.pet_pods())), key=lambda p: p.ordinal)
        claims = {c.name: c for c in map(manifests.parse_claim, kube.claim_objects())}
        volumes = {v.name: v for v in map(manifests.parse_volume, kube.volume_objects())}
        (sts,) = map(manifests.parse_statefulset, kube.statefulset_objects())

    assert [(p.name, p.ordinal, p.claims) for p in pods] == [(f"db-{n}", n, (f"data-db-{n}",)) for n in range(3)]
    assert all(p.node and p.phase == "Running" for p in pods)
    bound = volumes[claims["data-db-0"].volume_name or ""]
    assert bound.is_ebs and bound.zone in ZONES and bound.claim == ("shop", "data-db-0")
    assert sts.annotations["ferry.io/rehome"] == "snapshot" and sts.claim_templates[0].name == "data"


def test_cordon_and_taints_are_idempotent_and_keep_other_taints(cluster: KubeCluster) -> None:
    with writer(cluster) as kube:
        assert kube.cordon("c-w1") is True
        assert kube.cordon("c-w1") is False
        first = Taint("example.com/other", "NoSchedule", "x")
        assert kube.add_taint("c-w1", first) is True
        assert kube.add_taint("c-w1", Taint("node.kubernetes.io/out-of-service", "NoExecute", "nodeshutdown"))
        assert kube.add_taint("c-w1", first) is False
        node = manifests.parse_node(kube.node_object("c-w1") or {})

    assert node.unschedulable
    assert {(t.key, t.effect) for t in node.taints} >= {
        ("example.com/other", "NoSchedule"),
        ("node.kubernetes.io/out-of-service", "NoExecute"),
    }


def test_failback_lifts_what_ferry_marked_on_a_real_api_and_keeps_a_persons(cluster: KubeCluster) -> None:
    oos = Taint("node.kubernetes.io/out-of-service", "NoExecute", "nodeshutdown")
    api = k8s.CoreV1Api(cluster.api_client())
    with writer(cluster) as kube:
        assert kube.cordon("a-w1") is True  # Ferry's: marked
        assert kube.add_marked_taint("a-w1", oos, OUT_OF_SERVICE_MARK) is True
        api.patch_node("b-w0", {"spec": {"unschedulable": True, "taints": [oos.to_dict()]}})  # a person's
        assert kube.cordon("b-w0") is False and kube.add_marked_taint("b-w0", oos, OUT_OF_SERVICE_MARK) is False
        marked = (kube.node_object("a-w1") or {})["metadata"]["annotations"]
        ferrys, persons = kube.lift("a-w1"), kube.lift("b-w0")
        after = {n: kube.node_object(n) or {} for n in ("a-w1", "b-w0")}

    assert {CORDON_MARK, OUT_OF_SERVICE_MARK} <= marked.keys()
    assert (ferrys.uncordon, ferrys.taints) == (True, ("node.kubernetes.io/out-of-service",))
    assert not after["a-w1"]["spec"].get("unschedulable")
    assert "node.kubernetes.io/out-of-service" not in {t["key"] for t in after["a-w1"]["spec"].get("taints") or []}
    assert not {CORDON_MARK, OUT_OF_SERVICE_MARK} & (after["a-w1"]["metadata"].get("annotations") or {}).keys()
    assert (persons.uncordon, persons.taints, persons.kept_cordon) == (False, (), True)
    assert after["b-w0"]["spec"]["unschedulable"] is True
    assert "node.kubernetes.io/out-of-service" in {t["key"] for t in after["b-w0"]["spec"]["taints"]}


def test_release_lifts_only_ferrys_out_of_service_taint_on_a_real_api(cluster: KubeCluster) -> None:
    oos = Taint("node.kubernetes.io/out-of-service", "NoExecute", "nodeshutdown")
    api = k8s.CoreV1Api(cluster.api_client())
    with writer(cluster) as kube:
        assert kube.cordon("a-w0") is True
        assert kube.add_marked_taint("a-w0", oos, OUT_OF_SERVICE_MARK) is True  # Ferry's fence
        api.patch_node(
            "c-w0", {"spec": {"taints": [oos.to_dict(), {"key": "example.com/disk", "effect": "NoSchedule"}]}}
        )
        ferrys, persons = kube.release("a-w0"), kube.release("c-w0")
        after = {n: kube.node_object(n) or {} for n in ("a-w0", "c-w0")}

    assert ferrys.taints == ("node.kubernetes.io/out-of-service",) and not ferrys.uncordon
    assert "node.kubernetes.io/out-of-service" not in {t["key"] for t in after["a-w0"]["spec"].get("taints") or []}
    assert after["a-w0"]["spec"]["unschedulable"] is True, "Ferry's cordon stays until failback"
    assert OUT_OF_SERVICE_MARK not in after["a-w0"]["metadata"]["annotations"]
    assert CORDON_MARK in after["a-w0"]["metadata"]["annotations"]
    assert persons.taints == ()
    assert {t["key"] for t in after["c-w0"]["spec"]["taints"]} >= {
        "node.kubernetes.io/out-of-service",
        "example.com/disk",
    }


def test_a_taint_written_on_a_stale_read_is_refused_not_lost(cluster: KubeCluster) -> None:
    with writer(cluster) as kube:
        stale = kube.node_object("c-w0")
        kube.add_taint("c-w0", Taint("example.com/first", "NoSchedule"))

        class Stale(KubeWriter):
            def _get(self, method: Any, *args: Any) -> Any:
                return stale

        kube.__class__ = Stale
        with pytest.raises(Conflict):
            kube.add_taint("c-w0", Taint("example.com/second", "NoSchedule"))
        kube.__class__ = KubeWriter
        keys = {t.key for t in manifests.parse_node(kube.node_object("c-w0") or {}).taints}

    assert "example.com/first" in keys and "example.com/second" not in keys


def test_retain_static_volume_and_claims(cluster: KubeCluster) -> None:
    with writer(cluster) as kube:
        old = manifests.parse_claim(kube.claim_object("shop", "data-db-2") or {})
        assert kube.retain(old.volume_name or "") is True
        assert kube.retain(old.volume_name or "") is False
        with pytest.raises(NotFound):
            kube.retain("no-such-pv")
        body = manifests.static_volume(
            name="ferry-static",
            volume_id="vol-0123456789abcdef0",
            zone="us-east-1b",
            zone_key="topology.kubernetes.io/zone",
            capacity="10Gi",
            storage_class="ebs-sc",
            access_modes=("ReadWriteOnce",),
            fs_type="ext4",
            volume_mode="Filesystem",
            claim_namespace="shop",
            claim_name="restored",
            labels={"ferry.io/managed": "true"},
        )
        kube.create_volume_object(body)
        with pytest.raises(Conflict):
            kube.create_volume_object(body)
        claim = manifests.claim_body(
            namespace="shop",
            name="restored",
            storage_class="ebs-sc",
            access_modes=("ReadWriteOnce",),
            request="10Gi",
            labels={"app": "db"},
            volume_name="ferry-static",
        )
        kube.create_claim("shop", claim)
        cluster.settle()
        restored = manifests.parse_claim(kube.claim_object("shop", "restored") or {})
        pv = manifests.parse_volume(kube.volume_object("ferry-static") or {})
        with pytest.raises(Conflict):
            kube.delete_claim("shop", "restored", "not-its-uid")
        assert kube.delete_claim("shop", "restored", restored.uid) is True
        cluster.settle()  # the protection finalizer goes once no pod uses the claim
        assert kube.delete_claim("shop", "restored", restored.uid) is False

    assert (pv.volume_id, pv.zone, pv.reclaim_policy, pv.claim) == (
        "vol-0123456789abcdef0",
        "us-east-1b",
        "Retain",
        ("shop", "restored"),
    )
    assert cluster.get("PersistentVolume", old.volume_name or "") is not None


def test_a_leftover_pv_is_released_only_at_the_version_read_and_then_binds_no_claim(cluster: KubeCluster) -> None:
    with writer(cluster) as kube:
        body = manifests.static_volume(
            name="ferry-leftover",
            volume_id="vol-0fedcba9876543210",
            zone="us-east-1b",
            zone_key="topology.kubernetes.io/zone",
            capacity="10Gi",
            storage_class="ebs-sc",
            access_modes=("ReadWriteOnce",),
            fs_type="ext4",
            volume_mode="Filesystem",
            claim_namespace="shop",
            claim_name="left",
            labels={manifests.MANAGED_LABEL: "true"},
        )
        made = kube.create_volume_object(body)
        cluster.settle()
        current = kube.volume_object("ferry-leftover") or {}
        with pytest.raises(Conflict):  # the binder (here: the status write) came first: read again
            kube.release_volume("ferry-leftover", claim_uid="x", resource_version=made["metadata"]["resourceVersion"])
        kube.release_volume(
            "ferry-leftover",
            claim_uid=manifests.RELEASED_CLAIM_UID,
            resource_version=current["metadata"]["resourceVersion"],
        )
        kube.create_claim(
            "shop",
            manifests.claim_body(
                namespace="shop", name="left", storage_class="ebs-sc", access_modes=("ReadWriteOnce",),
                request="10Gi", labels={},
            ),
        )  # fmt: skip
        cluster.settle()
        released = manifests.parse_volume(kube.volume_object("ferry-leftover") or {})
        claim = manifests.parse_claim(kube.claim_object("shop", "left") or {})

    assert (released.claim, released.claim_uid, released.managed) == (("shop", "left"), "released-by-ferry", True)
    assert not released.pre_bound_to("shop", "left") and claim.volume_name != "ferry-leftover"
    assert (cluster.get("PersistentVolume", "ferry-leftover") or {})["status"]["phase"] == "Released"


def test_eviction_respects_the_budget_and_force_delete_needs_the_right_uid(cluster: KubeCluster) -> None:
    with writer(cluster) as kube:
        pod = manifests.parse_pod(kube.pod_object("shop", "db-1") or {})
        assert pod is not None
        with pytest.raises(Throttled):
            kube.evict("shop", "db-1", pod.uid)
        assert kube.force_delete_pod("shop", "db-1", "not-its-uid") is False
        assert kube.pods_on_node(pod.node or "")
        assert kube.force_delete_pod("shop", "db-1", pod.uid) is True
        assert kube.evict("shop", "db-1", pod.uid) is False  # gone
        attachments = kube.attachments_on_node(pod.node or "")
        for attachment in attachments:
            assert kube.delete_volume_attachment(attachment["metadata"]["name"]) in (True, False)
        assert kube.delete_volume_attachment("no-such-attachment") is False


def test_a_deployment_is_scaled_through_its_scale_subresource_and_read_with_its_availability(
    cluster: KubeCluster,
) -> None:
    cluster.apply(deployment("api", 1))
    cluster.settle()
    writes = len(cluster.scale_writes())
    with writer(cluster) as kube:
        assert shifting.member_from("east-1", kube.deployment_object("shop", "api")) == shifting.Member("east-1", 1, 1)
        kube.annotate_deployment("shop", "api", {BEFORE_SHIFT_ANNOTATION: "1"})
        kube.scale_deployment("shop", "api", 4)
        kube.scale_deployment("shop", "api", 4)  # absolute: the second call changes nothing
        cluster.settle()
        read = kube.deployment_object("shop", "api") or {}
        missing = kube.deployment_object("shop", "no-such-app")

    assert shifting.member_from("east-1", read) == shifting.Member("east-1", 4, 4)
    assert shifting.before_shift(read) == 1
    assert read["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"  # nothing else written
    assert shifting.member_from("east-1", missing).issue is shifting.MemberIssue.MISSING
    assert [(w.name, w.replicas) for w in cluster.scale_writes()[writes:]] == [("api", 4), ("api", 4)]


class Recorder:
    """Remembers which adapter methods were called, so a new one cannot escape this test."""

    def __init__(self, target: KubeWriter) -> None:
        self.target, self.called = target, set()

    def __getattr__(self, name: str) -> Any:
        self.called.add(name)
        return getattr(self.target, name)


def _granted() -> tuple[set[tuple[str, str, str]], set[tuple[str, str]]]:
    resources, urls = set(), set()
    for document in yaml.safe_load_all(RBAC.read_text()):
        if document["kind"] not in ("ClusterRole", "Role"):
            continue
        for rule in document["rules"]:
            for verb in rule["verbs"]:
                urls |= {(verb, url) for url in rule.get("nonResourceURLs", [])}
                resources |= {(g, r, verb) for g in rule.get("apiGroups", []) for r in rule.get("resources", [])}
    return resources, urls


def test_the_rbac_manifest_grants_exactly_what_the_adapters_use(cluster: KubeCluster) -> None:
    before = cluster.request_count()
    with writer(cluster) as client:
        kube = Recorder(client)
        kube.readyz()
        kube.server_version()
        list(kube.nodes())
        kube.lease_renewals()
        kube.node_objects()
        kube.node_object("a-w0")
        kube.cordon("b-w1")
        kube.add_taint("b-w1", Taint("example.com/rbac", "NoSchedule"))
        kube.add_marked_taint("b-w1", Taint("node.kubernetes.io/out-of-service", "NoExecute"), OUT_OF_SERVICE_MARK)
        kube.release("b-w1")
        kube.lift("b-w1")
        kube.pet_pods()
        kube.pods_in_namespace("shop", "app=db")
        kube.pods_on_node("b-w1")
        kube.pod_object("shop", "db-0")
        kube.force_delete_pod("shop", "no-such-pod", "x")
        kube.evict("shop", "no-such-pod", "x")
        kube.statefulset_objects()
        kube.statefulset_object("shop", "db")
        kube.claim_objects()
        kube.claim_object("shop", "data-db-0")
        kube.delete_claim("shop", "no-such-claim", "x")
        kube.create_claim(
            "shop",
            manifests.claim_body(
                namespace="shop",
                name="rbac",
                storage_class="ebs-sc",
                access_modes=("ReadWriteOnce",),
                request="1Gi",
                labels={},
            ),
        )
        kube.volume_objects()
        kube.volume_object("x")
        pv = manifests.parse_claim(kube.claim_object("shop", "data-db-0") or {}).volume_name or ""
        kube.retain(pv)
        kube.create_volume_object(
            manifests.static_volume(
                name="ferry-rbac",
                volume_id="vol-0aaaaaaaaaaaaaaaa",
                zone="us-east-1a",
                zone_key="topology.kubernetes.io/zone",
                capacity="1Gi",
                storage_class="ebs-sc",
                access_modes=("ReadWriteOnce",),
                fs_type=None,
                volume_mode="Filesystem",
                claim_namespace="shop",
                claim_name="rbac-static",
                labels={},
            )
        )
        cluster.settle()  # the PV controller has written the new PV's phase: its resourceVersion stays
        version = (kube.volume_object("ferry-rbac") or {})["metadata"]["resourceVersion"]
        kube.release_volume("ferry-rbac", claim_uid=manifests.RELEASED_CLAIM_UID, resource_version=version)
        kube.attachments_on_node("b-w1")
        kube.delete_volume_attachment("no-such-attachment")
        kube.pod_objects()
        kube.disruption_budget_objects()
        kube.rules_review("kube-node-lease")
        kube.deployment_object("shop", "web")
        kube.annotate_deployment("shop", "web", {BEFORE_SHIFT_ANNOTATION: "2"})
        kube.scale_deployment("shop", "web", 2)
    after = cluster.request_count()
    used = {k for k in after if after[k] > before.get(k, 0)}
    public = {n for n in dir(KubeWriter) if not n.startswith("_") and callable(getattr(KubeWriter, n))}
    assert public - {"close"} <= kube.called, "a new adapter call: exercise it here and grant it in ferry-rbac.yaml"

    resources, urls = _granted()
    used_urls = {tuple(k.split(" ", 1)) for k in used if " /" in k}
    used_resources = set()
    for entry in used - {" ".join(u) for u in used_urls}:
        verb, resource = entry.split(" ", 1)
        used_resources.add((GROUPS.get(resource.split("/")[0], ""), resource, verb))
    assert used_urls == urls
    assert used_resources == resources


def test_a_rules_review_lists_what_the_manifest_grants_and_the_required_permissions_are_all_there(
    cluster: KubeCluster,
) -> None:
    with writer(cluster) as kube:
        review = kube.rules_review(REVIEW_NAMESPACE)

    permissions = parse_rules_review(review)
    assert permissions.missing() == () and not permissions.incomplete


def test_the_required_permissions_are_exactly_the_manifests_rules() -> None:
    resources, urls = _granted()
    required = {(n.group, n.resource, n.verb) for n in REQUIRED if not n.resource.startswith("/")}
    assert required == resources
    assert {(n.verb, n.resource) for n in REQUIRED if n.resource.startswith("/")} == urls
