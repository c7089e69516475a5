"""The `KubeCluster` facade the game day drives: nodes as EC2 instances join, seeding, kubeconfig, clock, bench."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kubernetes import client, config

from sandbox.kube import KubeCluster, SandboxClock, bench
from tests.sandbox.conftest import ZONES, stateful_set


def test_a_node_joins_ready_with_the_labels_and_provider_id_of_an_ec2_instance(make_cluster) -> None:
    own = make_cluster(nodes_per_zone=0)
    own.add_node("ip-10-0-1-10.ec2.internal", ZONES[0], instance_id="i-0123456789abcdef0", labels={"team": "db"})
    own.add_node("cp-a", ZONES[0], instance_id="i-0fedcba9876543210", control_plane=True)
    own.settle()
    core = client.CoreV1Api(own.api_client())
    node = core.read_node("ip-10-0-1-10.ec2.internal")
    labels = node.metadata.labels
    assert labels["topology.kubernetes.io/zone"] == ZONES[0] and labels["topology.kubernetes.io/region"] == "us-east-1"
    assert labels["kubernetes.io/hostname"] == "ip-10-0-1-10.ec2.internal" and labels["team"] == "db"
    assert "node.kubernetes.io/instance-type" in labels
    assert node.spec.provider_id == "aws:///us-east-1a/i-0123456789abcdef0" and not node.spec.taints
    assert next(c.status for c in node.status.conditions if c.type == "Ready") == "True"
    control_plane = core.read_node("cp-a")
    assert "node-role.kubernetes.io/control-plane" in control_plane.metadata.labels
    assert [(t.key, t.effect) for t in control_plane.spec.taints] == [
        ("node-role.kubernetes.io/control-plane", "NoSchedule")
    ]


def test_apply_creates_then_replaces_and_get_and_list_read_back(make_cluster) -> None:
    own = make_cluster(nodes_per_zone=1)
    manifest = {"apiVersion": "apps/v1", "kind": "StatefulSet", **stateful_set("seeded", 1)}
    created = own.apply(manifest)
    manifest["spec"]["replicas"] = 2
    replaced = own.apply(manifest)
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"] and replaced["metadata"]["generation"] == 2
    own.settle()
    assert own.get("StatefulSet", "seeded", "default")["status"]["readyReplicas"] == 2
    assert sorted(pod["metadata"]["name"] for pod in own.list("Pod")) == ["seeded-0", "seeded-1"]
    assert own.get("Pod", "missing") is None
    assert {ns["metadata"]["name"] for ns in own.list("Namespace")} >= {"default", "kube-system", "kube-node-lease"}


def test_apply_seeds_status_where_a_kind_has_one(make_cluster) -> None:
    own = make_cluster(nodes_per_zone=0)
    seeded = own.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "legacy"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0aaaabbbbccccdddd"},
            },
            "status": {"phase": "Released"},
        }
    )
    assert seeded["status"] == {"phase": "Released"}


def test_the_kubeconfig_works_with_the_clients_loader(cluster: KubeCluster) -> None:
    api = config.new_client_from_config_dict(cluster.kubeconfig())
    assert client.CoreV1Api(api).read_namespace("default").status.phase == "Active"


def test_an_unknown_kind_is_refused(cluster: KubeCluster) -> None:
    with pytest.raises(KeyError):
        cluster.get("ConfigMap", "x")


def test_the_manual_clock_moves_only_when_advanced_and_the_realtime_clock_by_itself() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    manual = SandboxClock(start)
    assert manual.now() == start
    manual.advance(40)
    assert (manual.now() - start).total_seconds() == 40
    realtime = SandboxClock(start, realtime=True)
    realtime.advance(300)
    assert (realtime.now() - start).total_seconds() >= 300
    with pytest.raises(ValueError):
        manual.advance(-1)


def test_the_benchmark_runs_at_a_small_scale() -> None:
    assert bench.startup(stateful_sets=1, pets=2, deployments=1, replicas=4) < 30
    typed_ms, raw_ms, per_node = bench.list_by_node(pods=200, samples=3)
    assert typed_ms > 0 and raw_ms > 0 and per_node > 0
