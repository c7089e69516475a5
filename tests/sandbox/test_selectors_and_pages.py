"""Label selectors, field selectors and chunked lists (`limit`/`continue`), as the API Concepts page defines them."""

from __future__ import annotations

import pytest
from kubernetes import client

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import api_error, pod_manifest

LABELLED = {
    "web-1": {"app": "web", "tier": "front"},
    "web-2": {"app": "web", "tier": "back"},
    "db-1": {"app": "db", "tier": "back"},
    "tool": {"app": "tool"},
}


@pytest.fixture
def labelled(core: client.CoreV1Api, namespace: str) -> str:
    for name, labels in LABELLED.items():
        core.create_namespaced_pod(namespace, pod_manifest(name, labels=labels))
    return namespace


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param("app=web", {"web-1", "web-2"}, id="equals"),
        pytest.param("app==web", {"web-1", "web-2"}, id="double-equals"),
        pytest.param("app!=web", {"db-1", "tool"}, id="not-equals"),
        pytest.param("tier in (front, back)", {"web-1", "web-2", "db-1"}, id="in"),
        pytest.param("tier notin (back)", {"web-1", "tool"}, id="notin-includes-missing-key"),
        pytest.param("tier", {"web-1", "web-2", "db-1"}, id="exists"),
        pytest.param("!tier", {"tool"}, id="does-not-exist"),
        pytest.param("app=web,tier=back", {"web-2"}, id="conjunction"),
        pytest.param("app in (web,db),tier!=front", {"web-2", "db-1"}, id="set-and-inequality"),
    ],
)
def test_label_selectors(core: client.CoreV1Api, labelled: str, selector: str, expected: set[str]) -> None:
    names = {pod.metadata.name for pod in core.list_namespaced_pod(labelled, label_selector=selector).items}
    assert names == expected


@pytest.mark.parametrize("selector", ["app in (web", "app=web,", "=web", "app=we b"])
def test_a_malformed_label_selector_is_400(core: client.CoreV1Api, namespace: str, selector: str) -> None:
    code, status = api_error(core.list_namespaced_pod, namespace, label_selector=selector)
    assert (code, status["reason"]) == (400, "BadRequest")


class TestFieldSelectors:
    def test_metadata_name(self, core: client.CoreV1Api, labelled: str) -> None:
        pods = core.list_namespaced_pod(labelled, field_selector="metadata.name=db-1").items
        assert [pod.metadata.name for pod in pods] == ["db-1"]

    def test_spec_node_name_across_namespaces(
        self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str
    ) -> None:
        node = "us-east-1b-node-1"
        core.create_namespaced_pod(namespace, pod_manifest("pinned", nodeName=node))
        core.create_namespaced_pod(namespace, pod_manifest("floating", nodeSelector={"no": "such-node"}))
        cluster.settle()
        on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        assert ("pinned", namespace) in {(pod.metadata.name, pod.metadata.namespace) for pod in on_node}
        assert all(pod.spec.node_name == node for pod in on_node)
        unscheduled = core.list_namespaced_pod(namespace, field_selector="spec.nodeName=").items
        assert [pod.metadata.name for pod in unscheduled] == ["floating"]

    def test_status_phase_and_negation(self, cluster: KubeCluster, core: client.CoreV1Api, namespace: str) -> None:
        core.create_namespaced_pod(namespace, pod_manifest("running", nodeName="us-east-1a-node-0"))
        core.create_namespaced_pod(namespace, pod_manifest("pending", nodeSelector={"no": "such-node"}))
        cluster.settle()
        running = core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items
        others = core.list_namespaced_pod(
            namespace, field_selector="status.phase!=Running,metadata.namespace=" + namespace
        ).items
        assert [pod.metadata.name for pod in running] == ["running"]
        assert [pod.metadata.name for pod in others] == ["pending"]

    def test_nodes_by_spec_unschedulable(self, make_cluster) -> None:
        own = make_cluster(nodes_per_zone=1)
        core = client.CoreV1Api(own.api_client())
        core.patch_node("us-east-1c-node-0", {"spec": {"unschedulable": True}})
        cordoned = core.list_node(field_selector="spec.unschedulable=true").items
        schedulable = core.list_node(field_selector="spec.unschedulable=false").items
        assert [node.metadata.name for node in cordoned] == ["us-east-1c-node-0"]
        assert len(schedulable) == 2

    def test_an_unsupported_field_is_400(self, core: client.CoreV1Api, namespace: str) -> None:
        code, status = api_error(core.list_namespaced_pod, namespace, field_selector="spec.hostname=x")
        assert (code, status["reason"], status["message"]) == (
            400,
            "BadRequest",
            "field label not supported: spec.hostname",
        )


class TestPagination:
    def test_pages_carry_continue_tokens_and_remaining_counts(self, core: client.CoreV1Api, namespace: str) -> None:
        for index in range(7):
            core.create_namespaced_pod(namespace, pod_manifest(f"p{index}"))
        first = core.list_namespaced_pod(namespace, limit=3)
        assert [p.metadata.name for p in first.items] == ["p0", "p1", "p2"]
        assert first.metadata.remaining_item_count == 4 and first.metadata._continue
        second = core.list_namespaced_pod(namespace, limit=3, _continue=first.metadata._continue)
        assert [p.metadata.name for p in second.items] == ["p3", "p4", "p5"]
        assert second.metadata.remaining_item_count == 1
        last = core.list_namespaced_pod(namespace, limit=3, _continue=second.metadata._continue)
        assert [p.metadata.name for p in last.items] == ["p6"]
        assert not last.metadata._continue and last.metadata.remaining_item_count is None

    def test_later_pages_are_served_from_the_first_pages_resource_version(
        self, core: client.CoreV1Api, namespace: str
    ) -> None:
        for index in range(4):
            core.create_namespaced_pod(namespace, pod_manifest(f"s{index}"))
        first = core.list_namespaced_pod(namespace, limit=2)
        core.delete_namespaced_pod("s3", namespace, grace_period_seconds=0)
        core.create_namespaced_pod(namespace, pod_manifest("s9"))
        rest = core.list_namespaced_pod(namespace, limit=10, _continue=first.metadata._continue)
        assert [p.metadata.name for p in rest.items] == ["s2", "s3"]
        assert rest.metadata.resource_version == first.metadata.resource_version

    def test_remaining_count_is_not_given_for_filtered_lists(self, core: client.CoreV1Api, labelled: str) -> None:
        page = core.list_namespaced_pod(labelled, label_selector="tier", limit=1)
        assert page.metadata._continue and page.metadata.remaining_item_count is None

    def test_a_garbled_continue_token_is_400(self, core: client.CoreV1Api, namespace: str) -> None:
        code, _ = api_error(core.list_namespaced_pod, namespace, limit=1, _continue="not-a-token")
        assert code == 400
