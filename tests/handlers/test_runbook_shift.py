"""runbook-shift called as the state machines call it (the handler loaded as Lambda loads it), on moto in-process and
three sandbox clusters: bad apps are reported per app with the reason while the others proceed, a second shift
of an app under way is kept out, a bad input names every wrong field, and a dry run plans without writing.

Clusters: east-1 and east-2 (the one shifted away from), and east-3, whose credentials the API server refuses.
Apps: `web` (east-1 + east-2: shifts), `api` (no Deployment in east-1), `cart` (east-2 + east-3: its survivor
cannot be read) and `zero` (weights summing to zero: refused by the distribution).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ferry.adapters.registry import Registry
from ferry.domain.clusters import ClusterKind, ClusterRegistration
from ferry.domain.errors import InputError
from ferry.domain.federation.apps import FederatedApp, Placement
from sandbox.kube import KubeCluster, SandboxClock
from tests.conftest import TABLE_NAME, load_handler

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
ZONE = "us-east-1a"
REQUEST = {
    "runId": "shift-run-1",
    "runbook": "ShiftReplicas",
    "from": {"cluster": "east-2"},
    "reason": "maintenance of east-2",
    "dryRun": False,
}


def deployment(name: str, replicas: int) -> dict[str, Any]:
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
def clusters() -> Iterator[dict[str, KubeCluster]]:
    clock = SandboxClock()
    running = {name: KubeCluster(name, clock=clock) for name in ("east-1", "east-2", "east-3")}
    try:
        for name, cluster in running.items():
            cluster.start()
            cluster.add_node(f"{name}-w0", ZONE, instance_id=f"i-0{name[-1]}000000000000000")
            cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        yield running
    finally:
        for cluster in running.values():
            cluster.stop()


@pytest.fixture
def shift(
    clusters: dict[str, KubeCluster], ferry_table: str, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> Any:
    for name, apps in {"east-1": ("web",), "east-2": ("web", "api", "cart"), "east-3": ("cart",)}.items():
        for app in apps:  # every test starts from 2 + 2
            clusters[name].apply(deployment(app, 2))
    for cluster in clusters.values():
        cluster.settle()
    sns = boto3.client("sns")
    monkeypatch.setenv("FERRY_TABLE", ferry_table)
    monkeypatch.setenv("FERRY_TOPIC_ARN", sns.create_topic(Name="ferry-notifications")["TopicArn"])
    monkeypatch.setenv("FERRY_MODE", "act")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ferry-runbooks")
    registry = Registry(boto3.client("dynamodb"), ferry_table)
    secrets = boto3.client("secretsmanager")
    for name, cluster in clusters.items():
        token = "not-the-token" if name == "east-3" else cluster.token
        secrets.create_secret(Name=f"ferry/clusters/{name}", SecretString=json.dumps({"token": token}))
        registry.register(
            ClusterRegistration(
                name=name,
                kind=ClusterKind.SELF_MANAGED,
                endpoint=cluster.url,
                region="us-east-1",
                zones=(ZONE,),
                credentials_secret=f"ferry/clusters/{name}",
            )
        )
    for app, members, weight in (
        ("web", ("east-1", "east-2"), 1),
        ("api", ("east-1", "east-2"), 1),
        ("cart", ("east-2", "east-3"), 1),
        ("zero", ("east-1", "east-2"), 0),
    ):
        registry.register_app(FederatedApp("shop", app, 4, tuple(Placement(m, weight=weight) for m in members)))
    module = load_handler("runbook-shift")
    module.steps.cache_clear()
    return lambda event: module.handler(event, lambda_context)


def lines(plan: dict[str, Any]) -> dict[str, str]:
    return {app["shift"]["app"]: app for app in plan["apps"]}


def test_bad_apps_are_refused_with_their_reason_and_the_others_proceed(shift: Any, clusters) -> None:
    plan = shift({"step": "plan", "state": REQUEST})
    apps = lines(plan)

    assert plan["dryRun"] is False and plan["away"] == {"cluster": "east-2", "zone": None}
    assert apps["shop/api"]["shift"]["problems"] == [
        "clusters.east-1: Deployment not found, cannot take 4 replica(s): no such Deployment"
    ]
    (cart,) = apps["shop/cart"]["shift"]["problems"]
    assert cart.startswith("clusters.east-3: unreachable, cannot take 4 replica(s): Forbidden")
    assert apps["shop/zero"]["shift"]["problems"] == ["clusters: expected weights summing to more than zero, got 0"]
    assert apps["shop/web"]["shift"]["ups"] == [{"cluster": "east-1", "before": 2, "to": 4}]
    assert apps["shop/web"]["shift"]["downs"] == [{"cluster": "east-2", "before": 2, "to": 0}]

    web = shift({"step": "scale-up", "state": apps["shop/web"]})
    refused = shift({"step": "scale-up", "state": apps["shop/api"]})
    clusters["east-1"].settle()
    checked = shift({"step": "available", "state": {"apps": [web, refused]}})
    down = shift({"step": "scale-down", "state": checked["apps"][0]})
    report = shift({"step": "report", "state": {**REQUEST, "input": REQUEST, "plan": plan, "apps": [down, refused]}})

    assert checked["done"] is True
    assert down["downs"] == [
        {"cluster": "east-2", "before": 2, "to": 0, "status": "done", "reason": "", "available": None}
    ]
    assert clusters["east-1"].get("Deployment", "web", "shop")["spec"]["replicas"] == 4
    assert clusters["east-2"].get("Deployment", "web", "shop")["spec"]["replicas"] == 0
    assert clusters["east-2"].get("Deployment", "api", "shop")["spec"]["replicas"] == 2  # refused: untouched
    assert report["outcome"] == "partial"
    assert "shop/web: shifted: east-1 2 -> 4 done (4 available); east-2 2 -> 0 done" in report["summary"]


def test_a_member_unreachable_mid_shift_is_not_reached_never_done(shift: Any, clusters) -> None:
    request = {**REQUEST, "app": "shop/web", "from": {"cluster": "east-1"}}
    plan = shift({"step": "plan", "state": request})
    up = shift({"step": "scale-up", "state": lines(plan)["shop/web"]})
    clusters["east-2"].settle()
    checked = shift({"step": "available", "state": {"apps": [up]}})
    clusters["east-1"].set_outage(True)  # east-1's API goes away between the scale-up and the scale-down
    try:
        down = shift({"step": "scale-down", "state": checked["apps"][0]})
    finally:
        clusters["east-1"].set_outage(False)
    report = shift({"step": "report", "state": {**request, "input": request, "plan": plan, "apps": [down]}})

    assert checked["done"] is True and up["ups"][0]["status"] == "done"
    (gone,) = down["downs"]
    assert gone["status"] == "not-reached" and gone["cluster"] == "east-1"
    assert report["outcome"] == "partial" and "east-1 2 -> 0 not-reached" in report["summary"]
    assert report["summary"].startswith("ShiftReplicas shift-run-1 (cluster east-1): partial")
    assert clusters["east-1"].get("Deployment", "web", "shop")["spec"]["replicas"] == 2  # nothing claimed done


def test_the_plan_reads_each_cluster_once_and_each_member_deployment_once_no_listing_per_app(
    shift: Any, clusters
) -> None:
    before = {name: cluster.request_count() for name, cluster in clusters.items()}

    shift({"step": "plan", "state": {**REQUEST, "dryRun": True}})

    for name in ("east-1", "east-2"):
        after = clusters[name].request_count()
        calls = {k: after[k] - before[name].get(k, 0) for k in after if after[k] != before[name].get(k, 0)}
        assert calls == {"list nodes": 1, "get deployments": 4}, name  # 4 federated apps


def test_a_second_shift_of_an_app_under_way_is_kept_out(shift: Any, clusters) -> None:
    first = lines(shift({"step": "plan", "state": {**REQUEST, "app": "shop/web"}}))
    second = lines(shift({"step": "plan", "state": {**REQUEST, "app": "shop/web", "runId": "shift-run-2"}}))

    assert first["shop/web"]["busy"] == ""
    assert second["shop/web"]["busy"].startswith("another shift of this app is under way")
    assert shift({"step": "scale-up", "state": second["shop/web"]})["ups"] == []


def test_a_dry_run_plans_and_writes_nothing(shift: Any, clusters) -> None:
    before = boto3.client("dynamodb").scan(TableName=TABLE_NAME)["Items"]

    away_from_east_1 = {**REQUEST, "app": "shop/web", "from": {"cluster": "east-1"}, "dryRun": True}
    plan = shift({"step": "plan", "state": away_from_east_1})
    planned = shift({"step": "scale-up", "state": plan["apps"][0]})

    after = [
        i for i in boto3.client("dynamodb").scan(TableName=TABLE_NAME)["Items"] if not i["pk"]["S"].startswith("AUDIT#")
    ]
    assert plan["dryRun"] is True
    assert planned["ups"][0]["status"] == "planned"
    assert after == [i for i in before if not i["pk"]["S"].startswith("AUDIT#")]


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        pytest.param({"from": {"cluster": "east-2", "zone": ZONE}}, ["from: "], id="cluster-and-zone"),
        pytest.param({"from": {}, "app": "web"}, ["app: ", "from: "], id="empty-from-and-app-without-namespace"),
        pytest.param({"from": {"zone": "us-west-2a"}}, ["from.zone: 'us-west-2a' is not a zone"], id="unknown-zone"),
        pytest.param({"app": "shop/nope"}, ["app: 'shop/nope' is not a federated app"], id="unknown-app"),
        pytest.param(
            {"from": {"cluster": "west-9"}}, ["from.cluster: 'west-9' is not registered"], id="unknown-cluster"
        ),
    ],
)
def test_a_bad_input_names_every_wrong_field(shift: Any, change: dict[str, Any], problems: list[str]) -> None:
    with pytest.raises(InputError) as raised:
        shift({"step": "plan", "state": {**REQUEST, **change}})

    assert [p[: len(w)] for p, w in zip(raised.value.problems, problems, strict=True)] == problems
