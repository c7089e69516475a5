"""Watch ("Efficient detection of changes"): events from a resourceVersion on, filtered like the list."""

from __future__ import annotations

import pytest
from kubernetes import client, watch

from sandbox.kube import KubeCluster
from tests.sandbox.conftest import parked_pod


@pytest.mark.double_only("differs: watch events on delete (sandbox/README.md, Real and double)")
def test_watch_from_a_resource_version_streams_added_modified_deleted(core: client.CoreV1Api, namespace: str) -> None:
    start = core.list_namespaced_pod(namespace).metadata.resource_version
    core.create_namespaced_pod(namespace, parked_pod("watched"))
    core.patch_namespaced_pod("watched", namespace, {"metadata": {"labels": {"seen": "yes"}}})
    core.delete_namespaced_pod("watched", namespace)
    events = [
        (event["type"], event["object"].metadata.name)
        for event in watch.Watch().stream(
            core.list_namespaced_pod, namespace, resource_version=start, timeout_seconds=1
        )
    ]
    assert events == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]


def test_a_watch_without_a_resource_version_starts_with_the_current_objects(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, parked_pod("already-there"))
    events = list(watch.Watch().stream(core.list_namespaced_pod, namespace, timeout_seconds=1))
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "already-there")]


@pytest.mark.double_only("differs: watch events on leaving a selector (sandbox/README.md, Real and double)")
def test_an_object_leaving_the_selector_is_reported_deleted(
    cluster: KubeCluster, core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_pod(namespace, parked_pod("mover", labels={"tier": "hot"}))
    start = core.list_namespaced_pod(namespace).metadata.resource_version
    core.patch_namespaced_pod("mover", namespace, {"metadata": {"labels": {"tier": "cold"}}})
    stream = watch.Watch().stream(
        core.list_namespaced_pod, namespace, label_selector="tier=hot", resource_version=start, timeout_seconds=1
    )
    assert [(e["type"], e["object"].metadata.labels["tier"]) for e in stream] == [("DELETED", "cold")]
