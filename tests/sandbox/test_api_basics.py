"""The REST basics every client relies on: discovery, auth, CRUD, errors as Status, concurrency, subresources.

Written from the API conventions (api-conventions.md, "API Concepts") and the apimachinery error texts, with
the official Python client, so each test fails if the sandbox answers differently from a real API server.
"""

from __future__ import annotations

import json

import pytest
import urllib3
from kubernetes import client

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import api_error, deployment, http, parked_pod, pod_manifest, stateful_set

OPTIMISTIC_LOCK = "the object has been modified; please apply your changes to the latest version and try again"


def raw(
    cluster: KubeCluster, method: str, path: str, body: bytes | None = None, **headers: str
) -> urllib3.BaseHTTPResponse:
    headers = {"Authorization": f"Bearer {cluster.token}", "Content-Type": "application/json", **headers}
    return http(cluster).request(method, cluster.url + path, body=body, headers=headers, retries=False)


class TestDiscovery:
    def test_core_and_group_discovery_lists_what_is_served(self, cluster: KubeCluster) -> None:
        api = cluster.api_client()
        assert client.CoreApi(api).get_api_versions().versions == ["v1"]
        groups = {group.name: group for group in client.ApisApi(api).get_api_versions().groups}
        assert {"apps", "policy", "coordination.k8s.io", "storage.k8s.io"} <= set(groups)
        assert groups["apps"].preferred_version.group_version == "apps/v1"

    def test_resource_lists_name_subresources_with_their_kinds(self, cluster: KubeCluster) -> None:
        api = cluster.api_client()
        core = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
        assert core["pods"].namespaced and core["pods"].kind == "Pod" and "watch" in core["pods"].verbs
        assert not core["nodes"].namespaced
        assert (core["pods/eviction"].group, core["pods/eviction"].kind, core["pods/eviction"].verbs) == (
            "policy",
            "Eviction",
            ["create"],
        )
        scale = {r.name: r for r in client.AppsV1Api(api).get_api_resources().resources}["statefulsets/scale"]
        assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")

    @pytest.mark.double_only(
        "asserts the version string the double is configured with (the real server reports its own)"
    )
    def test_version_reports_the_configured_git_version(self, cluster: KubeCluster, make_cluster) -> None:
        info = client.VersionApi(cluster.api_client()).get_code()
        assert (info.git_version, info.major, info.minor) == ("v1.31.0", "1", "31")
        eks = make_cluster(nodes_per_zone=0, version="v1.30.4-eks-a737599")
        assert client.VersionApi(eks.api_client()).get_code().minor == "30+"

    @pytest.mark.parametrize("path", ["/readyz", "/livez", "/healthz"])
    def test_health_endpoints_answer_ok_without_credentials(self, cluster: KubeCluster, path: str) -> None:
        response = http(cluster).request("GET", cluster.url + path, retries=False)
        assert (response.status, response.data) == (200, b"ok")
        verbose = http(cluster).request("GET", cluster.url + path + "?verbose", retries=False)
        assert b"[+]ping ok" in verbose.data and b"check passed" in verbose.data


class TestAuthentication:
    @pytest.mark.parametrize(
        "header", [None, "Bearer wrong-token", "sandbox-token"], ids=["none", "wrong", "no-bearer-prefix"]
    )
    def test_requests_without_the_bearer_token_are_401_unauthorized(
        self, cluster: KubeCluster, header: str | None
    ) -> None:
        headers = {"Authorization": header} if header else {}
        response = http(cluster).request("GET", cluster.url + "/api/v1/pods", headers=headers, retries=False)
        body = json.loads(response.data)
        assert response.status == 401
        assert (body["kind"], body["status"], body["reason"], body["code"]) == (
            "Status",
            "Failure",
            "Unauthorized",
            401,
        )

    @pytest.mark.parametrize(
        ("header", "status"), [(None, 200), ("Bearer wrong-token", 401)], ids=["anonymous", "wrong"]
    )
    def test_health_paths_are_public_but_a_wrong_token_is_still_401(
        self, cluster: KubeCluster, header: str | None, status: int
    ) -> None:
        # Authentication runs before authorization: system:public-info-viewer lets anonymous requests read
        # /readyz, but a request that presents a token the server cannot authenticate is rejected first.
        headers = {"Authorization": header} if header else {}
        response = http(cluster).request("GET", cluster.url + "/readyz", headers=headers, retries=False)
        assert response.status == status


class TestCrudAndErrors:
    def test_create_fills_system_fields_and_server_defaults(self, core: client.CoreV1Api, namespace: str) -> None:
        pod = core.create_namespaced_pod(namespace, pod_manifest("web"))
        assert pod.metadata.uid and pod.metadata.resource_version.isdigit() and pod.metadata.creation_timestamp
        assert pod.spec.restart_policy == "Always" and pod.spec.scheduler_name == "default-scheduler"
        assert pod.spec.termination_grace_period_seconds == 30 and pod.spec.service_account_name == "default"
        assert pod.spec.containers[0].termination_message_path == "/dev/termination-log"
        defaults = {(t.key, t.effect, t.toleration_seconds) for t in pod.spec.tolerations}
        assert defaults == {
            ("node.kubernetes.io/not-ready", "NoExecute", 300),
            ("node.kubernetes.io/unreachable", "NoExecute", 300),
        }
        assert pod.status.phase == "Pending"

    def test_second_create_is_409_already_exists(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, pod_manifest("twice"))
        code, status = api_error(core.create_namespaced_pod, namespace, pod_manifest("twice"))
        assert (code, status["reason"], status["message"]) == (409, "AlreadyExists", 'pods "twice" already exists')
        assert status["details"] == {"name": "twice", "kind": "pods"}

    def test_missing_objects_are_404_named_by_group_resource(
        self, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        code, status = api_error(core.read_namespaced_pod, "nope", namespace)
        assert (code, status["reason"], status["message"]) == (404, "NotFound", 'pods "nope" not found')
        code, status = api_error(apps.read_namespaced_stateful_set, "nope", namespace)
        assert status["message"] == 'statefulsets.apps "nope" not found'
        assert status["details"] == {"name": "nope", "group": "apps", "kind": "statefulsets"}

    def test_unknown_resource_is_404(self, cluster: KubeCluster) -> None:
        response = raw(cluster, "GET", "/api/v1/namespaces/default/widgets")
        assert response.status == 404
        assert json.loads(response.data)["message"] == "the server could not find the requested resource"

    def test_create_in_a_missing_namespace_is_404_for_the_namespace(self, core: client.CoreV1Api) -> None:
        code, status = api_error(core.create_namespaced_pod, "no-such-ns", pod_manifest("p"))
        assert (code, status["message"]) == (404, 'namespaces "no-such-ns" not found')

    def test_invalid_json_is_400_bad_request(self, cluster: KubeCluster, namespace: str) -> None:
        response = raw(cluster, "POST", f"/api/v1/namespaces/{namespace}/pods", b"{not json")
        assert response.status == 400 and json.loads(response.data)["reason"] == "BadRequest"

    def test_put_with_another_name_is_400(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("named"))
        body = core.read_namespaced_pod("named", namespace)
        body.metadata.name = "renamed"
        code, status = api_error(core.replace_namespaced_pod, "named", namespace, body)
        assert (code, status["reason"]) == (400, "BadRequest")
        assert status["message"] == "the name of the object (renamed) does not match the name on the URL (named)"

    def test_namespace_in_body_must_match_the_url(self, core: client.CoreV1Api, namespace: str) -> None:
        manifest = pod_manifest("elsewhere")
        manifest["metadata"]["namespace"] = "default"
        code, status = api_error(core.create_namespaced_pod, namespace, manifest)
        assert code == 400
        assert (
            status["message"] == "the namespace of the provided object does not match the namespace sent on the request"
        )

    def test_post_to_an_object_is_405(self, cluster: KubeCluster, namespace: str) -> None:
        response = raw(cluster, "POST", f"/api/v1/namespaces/{namespace}/pods/x", b"{}")
        assert response.status == 405 and json.loads(response.data)["reason"] == "MethodNotAllowed"

    def test_generate_name_appends_five_random_characters(self, core: client.CoreV1Api, namespace: str) -> None:
        manifest = pod_manifest("")
        manifest["metadata"] = {"generateName": "worker-"}
        first = core.create_namespaced_pod(namespace, manifest).metadata.name
        second = core.create_namespaced_pod(namespace, manifest).metadata.name
        assert first.startswith("worker-") and len(first) == len("worker-") + 5 and first != second

    def test_dry_run_validates_without_persisting(self, core: client.CoreV1Api, namespace: str) -> None:
        created = core.create_namespaced_pod(namespace, pod_manifest("dry"), dry_run="All")
        assert created.metadata.name == "dry"
        code, _ = api_error(core.read_namespaced_pod, "dry", namespace)
        assert code == 404


class TestConcurrency:
    def test_resource_version_is_global_and_increasing(self, core: client.CoreV1Api, namespace: str) -> None:
        first = int(core.create_namespaced_pod(namespace, pod_manifest("rv-a")).metadata.resource_version)
        second = int(core.create_namespaced_pod(namespace, pod_manifest("rv-b")).metadata.resource_version)
        listed = int(core.list_namespaced_pod(namespace).metadata.resource_version)
        assert first < second <= listed

    def test_update_with_a_stale_resource_version_is_409_conflict(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("occ"))
        stale = core.read_namespaced_pod("occ", namespace)
        fresh = core.read_namespaced_pod("occ", namespace)
        fresh.metadata.labels = {"winner": "first"}
        updated = core.replace_namespaced_pod("occ", namespace, fresh)
        assert int(updated.metadata.resource_version) > int(stale.metadata.resource_version)
        stale.metadata.labels = {"winner": "second"}
        code, status = api_error(core.replace_namespaced_pod, "occ", namespace, stale)
        assert (code, status["reason"]) == (409, "Conflict")
        assert status["message"] == f'Operation cannot be fulfilled on pods "occ": {OPTIMISTIC_LOCK}'
        assert core.read_namespaced_pod("occ", namespace).metadata.labels == {"winner": "first"}

    def test_update_without_a_resource_version_is_unconditional(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("blind"))
        body = core.read_namespaced_pod("blind", namespace)
        body.metadata.resource_version = None
        body.metadata.labels = {"set": "blindly"}
        assert core.replace_namespaced_pod("blind", namespace, body).metadata.labels == {"set": "blindly"}

    def test_an_update_that_changes_nothing_keeps_the_resource_version(
        self, core: client.CoreV1Api, namespace: str
    ) -> None:
        pod = core.create_namespaced_pod(namespace, parked_pod("same"))
        again = core.replace_namespaced_pod("same", namespace, core.read_namespaced_pod("same", namespace))
        assert again.metadata.resource_version == core.read_namespaced_pod("same", namespace).metadata.resource_version
        assert again.metadata.resource_version >= pod.metadata.resource_version


class TestGenerationAndSubresources:
    def test_generation_counts_spec_changes_only(self, apps: client.AppsV1Api, namespace: str) -> None:
        created = apps.create_namespaced_stateful_set(namespace, stateful_set("gen", 0, storage=False))
        assert created.metadata.generation == 1
        apps.patch_namespaced_stateful_set("gen", namespace, {"metadata": {"labels": {"touched": "yes"}}})
        assert apps.read_namespaced_stateful_set("gen", namespace).metadata.generation == 1
        apps.patch_namespaced_stateful_set("gen", namespace, {"spec": {"replicas": 1}})
        assert apps.read_namespaced_stateful_set("gen", namespace).metadata.generation == 2

    def test_main_resource_ignores_status_and_status_subresource_ignores_spec(
        self, apps: client.AppsV1Api, namespace: str
    ) -> None:
        apps.create_namespaced_deployment(namespace, deployment("split", 0))
        apps.patch_namespaced_deployment("split", namespace, {"status": {"observedGeneration": 42}})
        assert apps.read_namespaced_deployment("split", namespace).status.observed_generation != 42
        apps.patch_namespaced_deployment_status(
            "split", namespace, {"spec": {"replicas": 5}, "status": {"collisionCount": 7}}
        )
        result = apps.read_namespaced_deployment("split", namespace)
        assert (result.spec.replicas, result.status.collision_count) == (0, 7)

    @pytest.mark.double_only("differs: Scale status.replicas at 0 (sandbox/README.md, Real and double)")
    def test_scale_subresource_reads_and_writes_replicas(self, apps: client.AppsV1Api, namespace: str) -> None:
        apps.create_namespaced_stateful_set(namespace, stateful_set("scaled", 0, storage=False))
        scale = apps.read_namespaced_stateful_set_scale("scaled", namespace)
        assert (scale.kind, scale.spec.replicas, scale.status.selector) == ("Scale", 0, "app=scaled")
        apps.patch_namespaced_stateful_set_scale("scaled", namespace, {"spec": {"replicas": 2}})
        assert apps.read_namespaced_stateful_set("scaled", namespace).spec.replicas == 2
        scale.spec.replicas = 3  # stale resourceVersion
        code, status = api_error(apps.replace_namespaced_stateful_set_scale, "scaled", namespace, scale)
        assert (code, status["message"]) == (
            409,
            f'Operation cannot be fulfilled on statefulsets.apps "scaled": {OPTIMISTIC_LOCK}',
        )

    def test_delete_answers_with_the_object_or_a_success_status(
        self, core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str
    ) -> None:
        core.create_namespaced_pod(namespace, pod_manifest("gone"))
        assert core.delete_namespaced_pod("gone", namespace).metadata.name == "gone"
        apps.create_namespaced_deployment(namespace, deployment("gone", 0))
        status = apps.delete_namespaced_deployment("gone", namespace)
        assert status.status == "Success" and status.details.name == "gone" and status.details.kind == "deployments"


class TestLessCommonVerbs:
    def test_create_refuses_a_resource_version_as_etcd_does(self, core: client.CoreV1Api, namespace: str) -> None:
        body = parked_pod("copied")
        body["metadata"]["resourceVersion"] = "12345"
        code, status = api_error(core.create_namespaced_pod, namespace, body)
        assert (code, status["message"]) == (500, "resourceVersion should not be set on objects to be created")

    def test_delete_collection_honours_the_label_selector(self, core: client.CoreV1Api, namespace: str) -> None:
        for name, tier in (("a", "x"), ("b", "x"), ("c", "y")):
            core.create_namespaced_pod(namespace, parked_pod(name, labels={"tier": tier}))
        core.delete_collection_namespaced_pod(namespace, label_selector="tier=x")
        assert [pod.metadata.name for pod in core.list_namespaced_pod(namespace).items] == ["c"]

    def test_server_side_apply_creates_then_merges(self, cluster: KubeCluster, namespace: str) -> None:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/applied?fieldManager=ferry"
        body = deployment("applied", 0) | {"apiVersion": "apps/v1", "kind": "Deployment"}
        first = raw(
            cluster, "PATCH", path, json.dumps(body).encode(), **{"Content-Type": "application/apply-patch+yaml"}
        )
        assert first.status == 201
        body["metadata"]["labels"] = {"owner": "ferry"}
        second = raw(
            cluster, "PATCH", path, json.dumps(body).encode(), **{"Content-Type": "application/apply-patch+yaml"}
        )
        assert second.status == 200 and json.loads(second.data)["metadata"]["labels"] == {"owner": "ferry"}
        missing = raw(
            cluster,
            "PATCH",
            path.split("?", maxsplit=1)[0],
            json.dumps(body).encode(),
            **{"Content-Type": "application/apply-patch+yaml"},
        )
        assert missing.status == 422 and "fieldManager: Required value" in json.loads(missing.data)["message"]
