"""PATCH with the three content types: JSON merge patch, strategic merge patch (with the real list strategies
of k8s.io/api), and RFC 6902 JSON patch; plus optimistic concurrency through a patch."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import api_error, deployment, http, parked_pod

MERGE = "application/merge-patch+json"


def test_merge_patch_merges_maps_and_deletes_with_null(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_pod(namespace, parked_pod("m", labels={"keep": "1", "drop": "1"}))
    patched = core.patch_namespaced_pod(
        "m", namespace, {"metadata": {"labels": {"drop": None, "add": "2"}}}, _content_type=MERGE
    )
    assert patched.metadata.labels == {"keep": "1", "add": "2"}


def test_merge_patch_replaces_lists_whole(apps: client.AppsV1Api, namespace: str) -> None:
    body = deployment("lists", 0)
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1.30"})
    apps.create_namespaced_deployment(namespace, body)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}
    patched = apps.patch_namespaced_deployment("lists", namespace, patch, _content_type=MERGE)
    containers = patched.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("web", "nginx:1.28")]
    assert containers[0].termination_message_path == "/dev/termination-log"  # defaulted again on update


class TestStrategicMergePatch:
    def test_containers_merge_by_name(self, apps: client.AppsV1Api, namespace: str) -> None:
        body = deployment("smp", 0)
        body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "envoy:1.30"})
        apps.create_namespaced_deployment(namespace, body)
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}
        patched = apps.patch_namespaced_deployment("smp", namespace, patch)  # the client's default for a dict
        assert [(c.name, c.image) for c in patched.spec.template.spec.containers] == [
            ("web", "nginx:1.28"),
            ("sidecar", "envoy:1.30"),
        ]

    @pytest.mark.double_only("differs: strategic-merge list order (sandbox/README.md, Real and double)")
    def test_env_merges_by_name_and_patch_delete_removes_one_element(
        self, apps: client.AppsV1Api, namespace: str
    ) -> None:
        body = deployment("env", 0)
        body["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "A", "value": "1"},
            {"name": "B", "value": "2"},
        ]
        apps.create_namespaced_deployment(namespace, body)
        patch = {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "web", "env": [{"name": "B", "$patch": "delete"}, {"name": "C", "value": "3"}]}
                        ]
                    }
                }
            }
        }
        env = apps.patch_namespaced_deployment("env", namespace, patch).spec.template.spec.containers[0].env
        assert [(e.name, e.value) for e in env] == [("A", "1"), ("C", "3")]

    def test_node_taints_are_replaced_atomically(self, make_cluster) -> None:
        own = make_cluster(nodes_per_zone=1)
        core = client.CoreV1Api(own.api_client())
        node = "us-east-1a-node-0"
        core.patch_node(node, {"spec": {"taints": [{"key": "first", "effect": "NoSchedule"}]}})
        core.patch_node(node, {"spec": {"taints": [{"key": "second", "effect": "NoExecute"}]}})
        assert [(t.key, t.effect) for t in core.read_node(node).spec.taints] == [("second", "NoExecute")]

    @pytest.mark.double_only("differs: strategic-merge list order (sandbox/README.md, Real and double)")
    def test_finalizers_merge_as_a_set(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("fin"))
        core.patch_namespaced_pod("fin", namespace, {"metadata": {"finalizers": ["example.com/a"]}})
        patched = core.patch_namespaced_pod("fin", namespace, {"metadata": {"finalizers": ["example.com/b"]}})
        assert patched.metadata.finalizers == ["example.com/a", "example.com/b"]
        removed = core.patch_namespaced_pod(
            "fin", namespace, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a", "example.com/b"]}}
        )
        assert not removed.metadata.finalizers

    def test_status_conditions_merge_by_type(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("cond"))
        first = {"status": {"conditions": [{"type": "example.com/Warm", "status": "True"}]}}
        core.patch_namespaced_pod_status("cond", namespace, first)
        second = {"status": {"conditions": [{"type": "example.com/Fed", "status": "False"}]}}
        conditions = core.patch_namespaced_pod_status("cond", namespace, second).status.conditions
        assert {(c.type, c.status) for c in conditions} == {("example.com/Warm", "True"), ("example.com/Fed", "False")}

    def test_tolerations_are_replaced_atomically(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("tol"))
        before = core.read_namespaced_pod("tol", namespace).spec.tolerations
        patch = {
            "spec": {
                "tolerations": [
                    *core.api_client.sanitize_for_serialization(before),
                    {"key": "extra", "operator": "Exists"},
                ]
            }
        }
        after = core.patch_namespaced_pod("tol", namespace, patch).spec.tolerations
        assert len(after) == len(before) + 1


class TestJsonPatch:
    def test_add_replace_remove(self, apps: client.AppsV1Api, namespace: str) -> None:
        apps.create_namespaced_deployment(namespace, deployment("jp", 0))
        patched = apps.patch_namespaced_deployment(
            "jp",
            namespace,
            [
                {"op": "add", "path": "/metadata/labels", "value": {"a/b": "1"}},
                {"op": "replace", "path": "/spec/replicas", "value": 0},
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/-",
                    "value": {"name": "two", "image": "busybox:1.36"},
                },
                {"op": "remove", "path": "/metadata/labels/a~1b"},
            ],
        )
        assert patched.metadata.labels in ({}, None) and len(patched.spec.template.spec.containers) == 2

    def test_a_passing_test_operation_guards_the_change(self, apps: client.AppsV1Api, namespace: str) -> None:
        apps.create_namespaced_deployment(namespace, deployment("guard", 0))
        patch = [
            {"op": "test", "path": "/spec/replicas", "value": 0},
            {"op": "replace", "path": "/spec/replicas", "value": 0},
        ]
        assert apps.patch_namespaced_deployment("guard", namespace, patch).spec.replicas == 0

    @pytest.mark.double_only("differs: the JSON-patch test failure's Status has no causes (sandbox/README.md)")
    def test_a_failing_test_operation_is_422_and_changes_nothing(self, apps: client.AppsV1Api, namespace: str) -> None:
        apps.create_namespaced_deployment(namespace, deployment("guarded", 0))
        patch = [
            {"op": "test", "path": "/spec/replicas", "value": 9},
            {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
        ]
        code, status = api_error(apps.patch_namespaced_deployment, "guarded", namespace, patch)
        assert (code, status["reason"]) == (422, "Invalid")
        assert status["message"] == "the server rejected our request due to an error in our request"
        assert "testing value /spec/replicas failed" in status["details"]["causes"][0]["message"]
        assert not apps.read_namespaced_deployment("guarded", namespace).metadata.labels

    def test_removing_a_missing_path_is_422(self, apps: client.AppsV1Api, namespace: str) -> None:
        apps.create_namespaced_deployment(namespace, deployment("missing", 0))
        code, _ = api_error(
            apps.patch_namespaced_deployment,
            "missing",
            namespace,
            [{"op": "remove", "path": "/metadata/annotations/nope"}],
        )
        assert code == 422


def test_a_patch_carrying_a_stale_resource_version_is_409(core: client.CoreV1Api, namespace: str) -> None:
    created = core.create_namespaced_pod(namespace, parked_pod("rv"))
    core.patch_namespaced_pod("rv", namespace, {"metadata": {"labels": {"moved": "on"}}})
    stale = {"metadata": {"resourceVersion": created.metadata.resource_version, "labels": {"late": "yes"}}}
    code, status = api_error(core.patch_namespaced_pod, "rv", namespace, stale, _content_type=MERGE)
    assert (code, status["reason"]) == (409, "Conflict")


def test_an_unknown_patch_content_type_is_415(cluster: KubeCluster, namespace: str) -> None:
    response = http(cluster).request(
        "PATCH",
        f"{cluster.url}/api/v1/namespaces/{namespace}/pods/x",
        body=b"{}",
        headers={"Authorization": f"Bearer {cluster.token}", "Content-Type": "application/xml"},
        retries=False,
    )
    assert response.status == 415 and json.loads(response.data)["reason"] == "UnsupportedMediaType"


def test_patching_a_missing_object_is_404(core: client.CoreV1Api, namespace: str) -> None:
    code, _ = api_error(core.patch_namespaced_pod, "ghost", namespace, {"metadata": {"labels": {"a": "b"}}})
    assert code == 404
