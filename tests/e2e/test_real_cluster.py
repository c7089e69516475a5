"""Ferry's Kubernetes side on a real control plane (the real tier: FERRY_KUBE_ASSETS, `sandbox/realkube.py`).

The double is fast and lets the other end-to-end tests move time; these run Ferry's adapters against the real
kube-apiserver, controller manager and scheduler, with stand-in kubelets and EBS driver: the probe's reads over
TLS with the registration's CA, a stale eviction refused, a budget refusing a voluntary move, and the fenced
pet's hand-over: out-of-service taint, pod GC, claim replaced, the pet Running in another zone on the volume
Ferry restored, because the PV Ferry writes is pre-bound to the claim's name before the claim goes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from ferry.adapters.kube import Credentials, KubeApi
from ferry.adapters.kube_writes import KubeWriter
from ferry.domain.errors import Throttled
from ferry.domain.readiness_inputs import REVIEW_NAMESPACE, parse_budget, parse_rules_review
from ferry.domain.rehoming.inventory import OUT_OF_SERVICE_TAINT, Taint
from ferry.domain.rehoming.manifests import static_volume

pytestmark = pytest.mark.real_kube

ZONE_KEY = "topology.kubernetes.io/zone"
_names = itertools.count()


def wait_for(what: str, done: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = done()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


@pytest.fixture
def namespace(real_cluster: Any) -> Iterator[str]:
    name = f"real-{next(_names)}"
    core = client.CoreV1Api(real_cluster.api_client())
    core.create_namespace({"metadata": {"name": name}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def writer(real_cluster: Any) -> Iterator[KubeWriter]:
    registration = real_cluster.control_plane.registration(("us-east-1a", "us-east-1b", "us-east-1c"))
    credentials = Credentials(token=real_cluster.token, ca_pem=real_cluster.control_plane.ca_pem)
    with KubeWriter(registration, credentials, timeout=10) as kube:
        yield kube


def pets(name: str, **pod_spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "db", "image": "postgres:16"}], **pod_spec},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
                }
            ],
        },
    }


def running(core: client.CoreV1Api, namespace: str, name: str, *, not_uid: str = "") -> client.V1Pod | None:
    try:
        pod = core.read_namespaced_pod(name, namespace)
    except client.ApiException:
        return None
    fresh = pod.metadata.uid != not_uid and pod.metadata.deletion_timestamp is None
    return pod if fresh and pod.status.phase == "Running" else None


def test_the_probe_reads_the_real_cluster_over_tls_with_its_registration(real_cluster: Any) -> None:
    registration = real_cluster.control_plane.registration(("us-east-1a", "us-east-1b", "us-east-1c"))
    credentials = Credentials(token=real_cluster.token, ca_pem=real_cluster.control_plane.ca_pem)

    with KubeApi(registration, credentials, timeout=5) as api:
        nodes = {node.name: node for node in api.nodes()}
        renewals = api.lease_renewals()
        ready, version = api.readyz(), api.server_version()

    assert {n.zone for n in nodes.values()} >= {"us-east-1a", "us-east-1b", "us-east-1c"}
    assert nodes["us-east-1a-node-0"].instance_id == "i-a0000000000000000" and nodes["us-east-1a-node-0"].ready
    assert renewals["us-east-1a-node-0"] is not None
    assert (ready, version) == (True, (1, 36))


def test_a_stale_eviction_is_refused_and_the_recreated_pet_stays(
    real_cluster: Any, writer: KubeWriter, namespace: str
) -> None:
    core, apps = client.CoreV1Api(real_cluster.api_client()), client.AppsV1Api(real_cluster.api_client())
    apps.create_namespaced_stateful_set(namespace, pets("stale"))
    first = wait_for("stale-0 Running", lambda: running(core, namespace, "stale-0"))
    core.delete_namespaced_pod("stale-0", namespace, grace_period_seconds=0)
    second = wait_for("stale-0 recreated", lambda: running(core, namespace, "stale-0", not_uid=first.metadata.uid))

    evicted = writer.evict(namespace, "stale-0", first.metadata.uid)

    assert evicted is False
    survivor = core.read_namespaced_pod("stale-0", namespace)
    assert (survivor.metadata.uid, survivor.metadata.deletion_timestamp) == (second.metadata.uid, None)


def test_a_budget_refuses_a_voluntary_move(real_cluster: Any, writer: KubeWriter, namespace: str) -> None:
    core, apps = client.CoreV1Api(real_cluster.api_client()), client.AppsV1Api(real_cluster.api_client())
    apps.create_namespaced_stateful_set(namespace, pets("kept"))
    client.PolicyV1Api(real_cluster.api_client()).create_namespaced_pod_disruption_budget(
        namespace,
        {"metadata": {"name": "kept"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "kept"}}}},
    )
    pod = wait_for("kept-0 Running", lambda: running(core, namespace, "kept-0"))
    wait_for(
        "the budget observed",
        lambda: (
            client.PolicyV1Api(real_cluster.api_client())
            .read_namespaced_pod_disruption_budget("kept", namespace)
            .status.current_healthy
            == 1
        ),
    )

    with pytest.raises(Throttled):
        writer.evict(namespace, "kept-0", pod.metadata.uid, dry_run=True)
    with pytest.raises(Throttled):
        writer.evict(namespace, "kept-0", pod.metadata.uid)

    assert core.read_namespaced_pod("kept-0", namespace).metadata.deletion_timestamp is None


def test_a_fenced_pet_comes_back_in_another_zone_on_the_volume_ferry_restored(
    real_cluster: Any, writer: KubeWriter, namespace: str
) -> None:
    core, apps = client.CoreV1Api(real_cluster.api_client()), client.AppsV1Api(real_cluster.api_client())
    # A node of its own (tainted so no other test's pod lands there), in zone a, that the pet prefers.
    node = f"fence-{namespace}"
    real_cluster.add_node(node, "us-east-1a", instance_id="i-0fe0ce0000000000a")
    core.patch_node(node, {"spec": {"taints": [{"key": "ferry.test/fence", "value": "yes", "effect": "NoSchedule"}]}})
    prefer = {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
    apps.create_namespaced_stateful_set(
        namespace,
        pets(
            "db",
            tolerations=[{"key": "ferry.test/fence", "operator": "Exists", "effect": "NoSchedule"}],
            affinity={
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "preference": {"matchExpressions": [prefer]}}
                    ]
                }
            },
        ),
    )
    try:
        old = wait_for("db-0 Running", lambda: running(core, namespace, "db-0"))
        assert old.spec.node_name == node
        claim = core.read_namespaced_persistent_volume_claim("data-db-0", namespace)
        old_pv = claim.spec.volume_name

        # The instance stops: the node goes silent, then Unknown (8 s grace here).
        real_cluster.set_node_alive(node, False)
        wait_for(
            "the node not Ready",
            lambda: next(c.status for c in core.read_node(node).status.conditions if c.type == "Ready") != "True",
            seconds=30,
        )
        # Ferry, the node fenced: frees the identity, keeps the old volume, writes the restored volume's PV
        # pre-bound to the claim's name, then lets the old claim go (it stays Terminating while the pod lives).
        assert writer.add_taint(node, Taint(OUT_OF_SERVICE_TAINT, "NoExecute", "nodeshutdown"))
        writer.retain(old_pv)
        writer.create_volume_object(
            static_volume(
                name=f"ferry-{namespace}",
                volume_id="vol-0restored000000",
                zone="us-east-1b",
                zone_key=ZONE_KEY,
                capacity="10Gi",
                storage_class="ebs-sc",
                access_modes=("ReadWriteOnce",),
                fs_type="ext4",
                volume_mode="Filesystem",
                claim_namespace=namespace,
                claim_name="data-db-0",
                labels={},
            )
        )
        assert writer.delete_claim(namespace, "data-db-0", claim.metadata.uid)

        # Pod GC (every 20 s) force-deletes the pod; the StatefulSet controller recreates the claim from its
        # template, which the PV controller binds to Ferry's pre-bound PV, and the pod follows it to zone b.
        new = wait_for("db-0 Running again", lambda: running(core, namespace, "db-0", not_uid=old.metadata.uid), 90)
        zone = core.read_node(new.spec.node_name).metadata.labels[ZONE_KEY]
        replaced = core.read_namespaced_persistent_volume_claim("data-db-0", namespace)
        kept = core.read_persistent_volume(old_pv)
        assert (zone, replaced.spec.volume_name) == ("us-east-1b", f"ferry-{namespace}")
        assert replaced.metadata.uid != claim.metadata.uid
        assert (kept.spec.persistent_volume_reclaim_policy, kept.status.phase) == ("Retain", "Released")
    finally:
        apps.delete_namespaced_stateful_set("db", namespace)
        core.delete_node(node)


def test_readiness_reads_every_pod_the_budgets_and_its_own_permissions(
    real_cluster: Any, writer: KubeWriter, namespace: str
) -> None:
    """The real API answers readiness's reads as the double does: every pod, policy/v1 budgets, and a
    SelfSubjectRulesReview (here the admin's token: every permission listed, none missing)."""
    budget = {
        "metadata": {"name": "db", "namespace": namespace},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "db"}}},
    }
    client.PolicyV1Api(real_cluster.api_client()).create_namespaced_pod_disruption_budget(namespace, budget)

    budgets = [parse_budget(b) for b in writer.disruption_budget_objects() if b["metadata"]["namespace"] == namespace]
    review = parse_rules_review(writer.rules_review(REVIEW_NAMESPACE))

    assert [(b.name, b.refuses_every_eviction(3)) for b in budgets] == [("db", "maxUnavailable: 0")]
    assert review.missing() == () and review.rules
    assert isinstance(writer.pod_objects(), list)
