"""The configuration file goes into the registry on deploy: one put per cluster and app, a delete when an entry
leaves the file, the item the functions read, a role that may touch nothing else; and a bad file stops the synth
naming each problem with its file, entry and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from cdk.synth import main as synth_main
from ferry.adapters.registry import Registry
from ferry.domain.configuration import read_configuration
from tests.conftest import create_ferry_table
from tests.infrastructure.synthesis import Synthesized, synthesize

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "deploy/ferry.example.yaml"


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The app synthesized with the example file (the session's own app uses the shipped, empty ferry.yaml)."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), config=EXAMPLE)


def _calls(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """Per custom resource of the registry: its Create and Delete SDK calls, the table's name as `TABLE`."""
    table = synthesized.logical_id(synthesized.stack.state.table)
    calls = {}
    for logical_id, resource in synthesized.of_type("Custom::AWS").items():
        if not logical_id.startswith("Registry"):
            continue
        calls[logical_id] = {
            phase: json.loads(
                "".join(p if isinstance(p, str) else ("TABLE" if p == {"Ref": table} else "?") for p in parts)
            )
            for phase in ("Create", "Update", "Delete")
            for parts in [resource["Properties"][phase]["Fn::Join"][1]]
        }
    return calls


def test_every_cluster_and_app_is_put_and_deleted_with_its_entry(declared: Synthesized) -> None:
    calls = _calls(declared)
    keys = sorted((c["Create"]["parameters"]["Item"]["pk"]["S"], c["Create"]["parameters"]["Item"]["sk"]["S"])
                  for c in calls.values())  # fmt: skip
    assert keys == [("FEDERATION", "APP#shop/web"), ("REGISTRY", "CLUSTER#east-1"), ("REGISTRY", "CLUSTER#east-2")]
    for call in calls.values():
        item = call["Create"]["parameters"]["Item"]
        assert call["Create"]["action"] == "putItem" and call["Update"] == call["Create"]
        assert call["Create"]["physicalResourceId"] == {"id": f"{item['pk']['S']}/{item['sk']['S']}"}
        assert call["Delete"]["action"] == "deleteItem"
        assert call["Delete"]["parameters"] == {"TableName": "TABLE", "Key": {"pk": item["pk"], "sk": item["sk"]}}


def test_the_items_put_are_what_the_functions_read(declared: Synthesized, aws: Any) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = create_ferry_table(client)
    for call in _calls(declared).values():
        client.put_item(TableName=table, Item=call["Create"]["parameters"]["Item"])
    expected = read_configuration(yaml.safe_load((ROOT / EXAMPLE).read_text()))
    registry = Registry(client, table)
    assert sorted(registry.clusters(), key=lambda c: c.name) == list(expected.clusters)
    assert registry.apps() == list(expected.apps)


def test_the_writer_may_put_and_delete_registry_items_of_the_table_only(declared: Synthesized) -> None:
    role = declared.logical_id(declared.stack.registry._provider_role())
    policies = [p for p in declared.of_type("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    table = declared.logical_id(declared.stack.state.table)
    key = declared.logical_id(declared.stack.state.key)
    assert statements == [
        {
            "Action": ["dynamodb:DeleteItem", "dynamodb:PutItem"],
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["REGISTRY", "FEDERATION"]}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [table, "Arn"]},
        },
        {
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
            "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key, "Arn"]},
        },
    ]
    # The provider runs as that role, whatever the number of items: one policy, within IAM's size limits.
    providers = [f for f in declared.of_type("AWS::Lambda::Function").values()
                 if f["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}]  # fmt: skip
    assert len(providers) == 1


def test_the_shipped_configuration_declares_nothing_so_nothing_is_written(synthesized: Synthesized) -> None:
    assert _calls(synthesized) == {}
    assert synthesized.stack.settings.config_file == ROOT / "ferry.yaml"


def test_a_bad_file_stops_the_synth_naming_file_entry_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "ferry.yaml"
    bad.write_text(
        "clusters:\n  - {name: east-1, kind: k8s, region: us-east-1, endpoint: 'https://e', zones: [us-east-1a]}\n"
        "apps:\n  - {namespace: shop, name: web, replicas: 1, clusters: {east-1: {min: 2, max: 1}}}\n"
    )
    assert synth_main(["-c", f"config={bad}", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: the configuration file is not valid:",
        f"  {bad}: clusters[0].kind: expected one of eks, self-managed, got 'k8s'",
        f"  {bad}: apps[0].clusters.east-1.min: expected at most max (1), got 2",
        f"  {bad}: apps[0].replicas: expected at least the sum of the members' minimums (2), got 1",
    ]
    assert not list(tmp_path.glob("out/*.template.json"))  # stopped before anything was built
