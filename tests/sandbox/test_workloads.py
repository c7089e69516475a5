"""StatefulSet and Deployment controllers ("StatefulSets", "Deployments", "ReplicaSet" concept pages)."""

from __future__ import annotations

import pytest
from kubernetes import client

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import deployment, stateful_set


def names(pods: list[client.V1Pod]) -> list[str]:
    return sorted(pod.metadata.name for pod in pods)


def claim_of(pod: client.V1Pod) -> str:
    """The claim behind the pod's `data` volume (a real server adds the service-account token volume too)."""
    return next(v.persistent_volume_claim.claim_name for v in pod.spec.volumes if v.name == "data")


class TestStatefulSet:
    def test_ordered_ready_creates_pod_n_plus_one_only_after_pod_n_is_ready(self, make_cluster) -> None:
        own = make_cluster(kubelet_start_delay=5.0)
        core, apps = client.CoreV1Api(own.api_client()), client.AppsV1Api(own.api_client())
        apps.create_namespaced_stateful_set("default", stateful_set("ordered", 3))
        own.settle()
        assert [(p.metadata.name, p.status.phase) for p in core.list_namespaced_pod("default").items] == [
            ("ordered-0", "Pending")
        ]
        own.clock.advance(5)
        own.settle()
        pods = {p.metadata.name: p.status.phase for p in core.list_namespaced_pod("default").items}
        assert pods == {"ordered-0": "Running", "ordered-1": "Pending"}
        for _ in range(2):
            own.clock.advance(5)
            own.settle()
        assert {p.status.phase for p in core.list_namespaced_pod("default").items} == {"Running"}
        status = apps.read_namespaced_stateful_set("ordered", "default").status
        assert (status.replicas, status.ready_replicas, status.current_replicas, status.available_replicas) == (
            3,
            3,
            3,
            3,
        )

    def test_parallel_creates_every_pod_at_once(self, make_cluster) -> None:
        own = make_cluster(kubelet_start_delay=5.0)
        core, apps = client.CoreV1Api(own.api_client()), client.AppsV1Api(own.api_client())
        apps.create_namespaced_stateful_set("default", stateful_set("par", 3, podManagementPolicy="Parallel"))
        own.settle()
        assert names(core.list_namespaced_pod("default").items) == ["par-0", "par-1", "par-2"]

    def test_pods_get_stable_names_labels_claims_and_owner(
        self, cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        sts = apps.create_namespaced_stateful_set(namespace, stateful_set("pets", 3))
        cluster.settle()
        pods = core.list_namespaced_pod(namespace).items
        assert names(pods) == ["pets-0", "pets-1", "pets-2"]
        pod = core.read_namespaced_pod("pets-1", namespace)
        assert pod.metadata.labels["statefulset.kubernetes.io/pod-name"] == "pets-1"
        assert pod.metadata.labels["apps.kubernetes.io/pod-index"] == "1"
        assert (pod.spec.hostname, pod.spec.subdomain) == ("pets-1", "pets")
        assert claim_of(pod) == "data-pets-1"
        owner = pod.metadata.owner_references[0]
        assert (owner.kind, owner.name, owner.uid, owner.controller) == ("StatefulSet", "pets", sts.metadata.uid, True)
        claims = core.list_namespaced_persistent_volume_claim(namespace).items
        assert names(claims) == ["data-pets-0", "data-pets-1", "data-pets-2"]
        assert all(c.metadata.labels == {"app": "pets"} and c.status.phase == "Bound" for c in claims)

    def test_spreads_pets_across_zones(
        self, cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_stateful_set(namespace, stateful_set("spread", 3))
        cluster.settle()
        zones = {
            core.read_node(p.spec.node_name).metadata.labels["topology.kubernetes.io/zone"]
            for p in core.list_namespaced_pod(namespace).items
        }
        assert len(zones) == 3

    def test_a_deleted_pod_comes_back_under_the_same_name_with_the_same_claim(
        self, cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_stateful_set(namespace, stateful_set("phoenix", 2))
        cluster.settle()
        before = core.read_namespaced_pod("phoenix-1", namespace)
        core.delete_namespaced_pod("phoenix-1", namespace, grace_period_seconds=0)
        cluster.settle()
        after = core.read_namespaced_pod("phoenix-1", namespace)
        assert after.metadata.uid != before.metadata.uid and after.status.phase == "Running"
        assert claim_of(after) == "data-phoenix-1"
        zone = "topology.kubernetes.io/zone"
        # its zonal volume holds it to the zone; the scheduler may pick any node there
        assert (
            core.read_node(after.spec.node_name).metadata.labels[zone]
            == core.read_node(before.spec.node_name).metadata.labels[zone]
        )

    def test_scaling_down_removes_the_highest_ordinals_and_keeps_their_claims(
        self, cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_stateful_set(namespace, stateful_set("shrink", 3))
        cluster.settle()
        apps.patch_namespaced_stateful_set_scale("shrink", namespace, {"spec": {"replicas": 1}})
        cluster.settle()
        assert names(core.list_namespaced_pod(namespace).items) == ["shrink-0"]
        assert len(core.list_namespaced_persistent_volume_claim(namespace).items) == 3
        events = core.list_namespaced_event(namespace, field_selector="reason=SuccessfulDelete").items
        # In the order written: a resourceVersion is a number (etcd's revision), so compared as one; as strings
        # "999" would sort after "1000".
        assert [e.message for e in sorted(events, key=lambda e: int(e.metadata.resource_version))] == [
            "Delete Pod shrink-2 in StatefulSet shrink successful",
            "Delete Pod shrink-1 in StatefulSet shrink successful",
        ]

    def test_a_template_change_rolls_pods_from_the_highest_ordinal(
        self, cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_stateful_set(namespace, stateful_set("roll", 2, storage=False))
        cluster.settle()
        old = apps.read_namespaced_stateful_set("roll", namespace).status.current_revision
        apps.patch_namespaced_stateful_set(
            "roll",
            namespace,
            {"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "postgres:17"}]}}}},
        )
        cluster.settle()
        status = apps.read_namespaced_stateful_set("roll", namespace).status
        assert status.update_revision != old and status.current_revision == status.update_revision
        assert {p.spec.containers[0].image for p in core.list_namespaced_pod(namespace).items} == {"postgres:17"}


class TestDeployment:
    def test_pods_belong_to_a_replica_set_owned_by_the_deployment(
        self, cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        created = apps.create_namespaced_deployment(namespace, deployment("web", 3))
        cluster.settle()
        sets = apps.list_namespaced_replica_set(namespace).items
        assert len(sets) == 1 and sets[0].metadata.owner_references[0].uid == created.metadata.uid
        template_hash = sets[0].metadata.labels["pod-template-hash"]
        assert sets[0].metadata.name == f"web-{template_hash}"
        pods = core.list_namespaced_pod(namespace).items
        assert len(pods) == 3
        for pod in pods:
            assert (
                pod.metadata.name.startswith(f"web-{template_hash}-")
                and len(pod.metadata.name) == len(f"web-{template_hash}-") + 5
            )
            assert pod.metadata.owner_references[0].kind == "ReplicaSet"
        status = apps.read_namespaced_deployment("web", namespace).status
        assert (status.replicas, status.ready_replicas, status.available_replicas, status.updated_replicas) == (
            3,
            3,
            3,
            3,
        )
        assert {(c.type, c.status) for c in status.conditions} == {("Available", "True"), ("Progressing", "True")}

    @pytest.mark.double_only("moves the double's clock to order pod creation times")
    def test_scaling_down_deletes_the_newest_pods_first(
        self, cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_deployment(namespace, deployment("trim", 2))
        cluster.settle()
        oldest = names(core.list_namespaced_pod(namespace).items)
        cluster.clock.advance(1)
        apps.patch_namespaced_deployment_scale("trim", namespace, {"spec": {"replicas": 4}})
        cluster.settle()
        apps.patch_namespaced_deployment_scale("trim", namespace, {"spec": {"replicas": 2}})
        cluster.settle()
        assert names(core.list_namespaced_pod(namespace).items) == oldest

    def test_a_template_change_rolls_out_a_new_replica_set(
        self, cluster: KubeCluster, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_deployment(namespace, deployment("rollout", 4))
        cluster.settle()
        apps.patch_namespaced_deployment(
            "rollout",
            namespace,
            {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}},
        )
        cluster.settle()
        sets = {
            rs.spec.template.spec.containers[0].image: rs.spec.replicas
            for rs in apps.list_namespaced_replica_set(namespace).items
        }
        assert sets == {"nginx:1.27": 0, "nginx:1.28": 4}
        assert {p.spec.containers[0].image for p in core.list_namespaced_pod(namespace).items} == {"nginx:1.28"}
        assert (
            apps.read_namespaced_deployment("rollout", namespace).metadata.annotations[
                "deployment.kubernetes.io/revision"
            ]
            == "2"
        )

    def test_a_pod_stuck_terminating_on_a_dead_node_is_replaced_at_once(self, make_cluster) -> None:
        own = make_cluster(nodes_per_zone=1)
        core, apps = client.CoreV1Api(own.api_client()), client.AppsV1Api(own.api_client())
        apps.create_namespaced_deployment("default", deployment("stateless", 3))
        own.settle()
        victim = next(p for p in core.list_namespaced_pod("default").items if p.spec.node_name == "us-east-1a-node-0")
        own.set_node_alive("us-east-1a-node-0", False)
        own.clock.advance(41)  # past the grace period: the node is tainted unreachable, so nothing new lands there
        own.settle()
        core.delete_namespaced_pod(victim.metadata.name, "default")
        own.settle()
        pods = core.list_namespaced_pod("default").items
        assert len(pods) == 4 and core.read_namespaced_pod(victim.metadata.name, "default").metadata.deletion_timestamp
        assert sum(1 for p in pods if p.status.phase == "Running" and not p.metadata.deletion_timestamp) == 3
