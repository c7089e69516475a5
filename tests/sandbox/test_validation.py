"""Validation as the real server does it: 422 Invalid naming each field, and immutable fields refused."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import api_error, deployment, parked_pod, stateful_set


def causes(status: dict[str, Any]) -> set[tuple[str, str]]:
    return {(cause["field"], cause["reason"]) for cause in status["details"]["causes"]}


class TestCreate:
    def test_a_pod_without_containers_names_the_missing_field(self, core: client.CoreV1Api, namespace: str) -> None:
        code, status = api_error(
            core.create_namespaced_pod, namespace, {"metadata": {"name": "empty"}, "spec": {"containers": []}}
        )
        assert (code, status["reason"]) == (422, "Invalid")
        assert status["message"] == 'Pod "empty" is invalid: spec.containers: Required value'
        assert status["details"]["kind"] == "Pod" and causes(status) == {("spec.containers", "FieldValueRequired")}

    def test_every_failing_field_is_reported(self, core: client.CoreV1Api, namespace: str) -> None:
        body = {"metadata": {"name": "two"}, "spec": {"containers": [{"name": "", "image": ""}]}}
        _, status = api_error(core.create_namespaced_pod, namespace, body)
        both = "[spec.containers[0].name: Required value, spec.containers[0].image: Required value]"
        assert status["message"] == f'Pod "two" is invalid: {both}'

    def test_names_must_be_dns_subdomains(self, core: client.CoreV1Api, namespace: str) -> None:
        code, status = api_error(core.create_namespaced_pod, namespace, parked_pod("Not_Valid"))
        assert code == 422 and ("metadata.name", "FieldValueInvalid") in causes(status)

    def test_a_statefulset_selector_must_match_its_template(self, apps: client.AppsV1Api, namespace: str) -> None:
        body = stateful_set("mismatch", storage=False)
        body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
        code, status = api_error(apps.create_namespaced_stateful_set, namespace, body)
        assert code == 422
        assert status["message"].startswith(
            'StatefulSet.apps "mismatch" is invalid: spec.template.metadata.labels: Invalid value'
        )
        assert status["details"]["group"] == "apps"

    def test_a_statefulset_template_may_mount_its_claim_templates(self, apps: client.AppsV1Api, namespace: str) -> None:
        body = stateful_set("mounts")
        body["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "data", "mountPath": "/var/lib/postgresql"}
        ]
        assert apps.create_namespaced_stateful_set(namespace, body).metadata.name == "mounts"

    def test_a_claim_needs_access_modes_and_a_size(self, core: client.CoreV1Api, namespace: str) -> None:
        code, status = api_error(
            core.create_namespaced_persistent_volume_claim, namespace, {"metadata": {"name": "c"}, "spec": {}}
        )
        assert code == 422
        assert causes(status) == {
            ("spec.accessModes", "FieldValueRequired"),
            ("spec.resources[storage]", "FieldValueRequired"),
        }

    def test_a_volume_needs_a_source(self, core: client.CoreV1Api) -> None:
        body = {
            "metadata": {"name": "no-source"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]},
        }
        code, status = api_error(core.create_persistent_volume, body)
        assert (
            code == 422
            and status["message"]
            == 'PersistentVolume "no-source" is invalid: spec: Required value: must specify a volume type'
        )

    def test_a_pdb_cannot_set_both_bounds(self, cluster: KubeCluster, namespace: str) -> None:
        policy = client.PolicyV1Api(cluster.api_client())
        body = {
            "metadata": {"name": "both"},
            "spec": {"minAvailable": 1, "maxUnavailable": 1, "selector": {"matchLabels": {"a": "b"}}},
        }
        code, status = api_error(policy.create_namespaced_pod_disruption_budget, namespace, body)
        assert code == 422 and "minAvailable and maxUnavailable cannot be both set" in status["message"]


class TestImmutability:
    def test_pod_spec_is_immutable_but_for_images_and_added_tolerations(
        self, core: client.CoreV1Api, namespace: str
    ) -> None:
        core.create_namespaced_pod(namespace, parked_pod("frozen"))
        assert core.patch_namespaced_pod(
            "frozen", namespace, {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}
        )
        code, status = api_error(core.patch_namespaced_pod, "frozen", namespace, {"spec": {"restartPolicy": "Never"}})
        assert code == 422 and causes(status) == {("spec", "FieldValueForbidden")}
        assert "pod updates may not change fields other than `spec.containers[*].image`" in status["message"]

    def test_binding_is_the_only_way_to_set_a_node(self, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, parked_pod("bind-me"))
        code, _ = api_error(
            core.patch_namespaced_pod, "bind-me", namespace, {"spec": {"nodeName": "us-east-1a-node-0"}}
        )
        assert code == 422
        body = {
            "metadata": {"name": "bind-me"},
            "target": {"apiVersion": "v1", "kind": "Node", "name": "us-east-1a-node-0"},
        }
        core.create_namespaced_pod_binding("bind-me", namespace, body, _preload_content=False)
        pod = core.read_namespaced_pod("bind-me", namespace)
        assert pod.spec.node_name == "us-east-1a-node-0"
        assert any(c.type == "PodScheduled" and c.status == "True" for c in pod.status.conditions)
        code, status = api_error(core.create_namespaced_pod_binding, "bind-me", namespace, body, _preload_content=False)
        assert (code, status["reason"]) == (409, "Conflict")
        problem = 'pod bind-me is already assigned to node "us-east-1a-node-0"'
        assert status["message"] == f'Operation cannot be fulfilled on pods/binding "bind-me": {problem}'

    @pytest.mark.parametrize(
        "patch",
        [
            pytest.param({"spec": {"serviceName": "renamed"}}, id="serviceName"),
            pytest.param({"spec": {"selector": {"matchLabels": {"app": "sts-frozen", "x": "y"}}}}, id="selector"),
            pytest.param({"spec": {"volumeClaimTemplates": []}}, id="volumeClaimTemplates"),
        ],
    )
    def test_statefulset_spec_outside_the_mutable_fields_is_forbidden(
        self, apps: client.AppsV1Api, namespace: str, patch: dict[str, Any]
    ) -> None:
        apps.create_namespaced_stateful_set(namespace, stateful_set("sts-frozen", 0))
        code, status = api_error(
            apps.patch_namespaced_stateful_set,
            "sts-frozen",
            namespace,
            patch,
            _content_type="application/merge-patch+json",
        )
        assert code == 422 and ("spec", "FieldValueForbidden") in causes(status)
        assert (
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy'"
            in status["message"]
        )

    def test_deployment_selector_is_immutable(self, apps: client.AppsV1Api, namespace: str) -> None:
        apps.create_namespaced_deployment(namespace, deployment("dsel", 0))
        patch = {
            "spec": {
                "selector": {"matchLabels": {"app": "dsel", "v": "2"}},
                "template": {"metadata": {"labels": {"app": "dsel", "v": "2"}}},
            }
        }
        code, status = api_error(apps.patch_namespaced_deployment, "dsel", namespace, patch)
        assert code == 422 and ("spec.selector", "FieldValueInvalid") in causes(status)
        assert "field is immutable" in status["message"]

    def test_a_claim_spec_is_immutable_and_a_bound_claims_volume_too(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        claim = {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        }
        core.create_namespaced_persistent_volume_claim(namespace, claim)
        code, status = api_error(
            core.patch_namespaced_persistent_volume_claim,
            "data",
            namespace,
            {"spec": {"accessModes": ["ReadWriteMany"]}},
        )
        assert code == 422 and "spec is immutable after creation except resources.requests" in status["message"]
        core.create_namespaced_pod(
            namespace,
            {
                "metadata": {"name": "user"},
                "spec": {
                    "containers": [{"name": "a", "image": "busybox"}],
                    "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
                },
            },
        )
        cluster.settle()
        bound = core.read_namespaced_persistent_volume_claim("data", namespace)
        assert bound.status.phase == "Bound"
        code, _ = api_error(
            core.patch_namespaced_persistent_volume_claim, "data", namespace, {"spec": {"volumeName": "pvc-other"}}
        )
        assert code == 422
        grown = core.patch_namespaced_persistent_volume_claim(
            "data", namespace, {"spec": {"resources": {"requests": {"storage": "2Gi"}}}}
        )
        assert grown.spec.resources.requests["storage"] == "2Gi"

    def test_a_volume_source_is_immutable_but_the_reclaim_policy_is_not(self, core: client.CoreV1Api) -> None:
        core.create_persistent_volume(
            {
                "metadata": {"name": "static-imm"},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0aaaaaaaaaaaaaaaa"},
                },
            }
        )
        retained = core.patch_persistent_volume("static-imm", {"spec": {"persistentVolumeReclaimPolicy": "Delete"}})
        assert retained.spec.persistent_volume_reclaim_policy == "Delete"
        code, status = api_error(
            core.patch_persistent_volume, "static-imm", {"spec": {"csi": {"volumeHandle": "vol-0bbbbbbbbbbbbbbbb"}}}
        )
        assert code == 422 and ("spec.persistentvolumesource", "FieldValueForbidden") in causes(status)

    def test_a_node_keeps_its_provider_id(self, make_cluster) -> None:
        core = client.CoreV1Api(make_cluster(nodes_per_zone=1).api_client())
        code, status = api_error(
            core.patch_node, "us-east-1a-node-0", {"spec": {"providerID": "aws:///us-east-1a/i-other"}}
        )
        assert code == 422 and ("spec.providerID", "FieldValueForbidden") in causes(status)
