"""IAM and the code agree on Ferry's tags: both read them from ferry.domain.conventions (issue 8).

moto does not enforce IAM, so a tag renamed on one side only (a condition on `ferry:managed` while the planner
writes `ferry:owned`) would pass every other test and be refused in an account on the first evacuation. Here:

- every condition of every policy statement in the synthesized stack that names a Ferry tag (or the EBS CSI
  driver's tag) names one of the module's, with the module's value where it fixes one, and the prefixes in
  the policies (secrets, alarms) are the module's;
- every tag the code writes where IAM conditions on tags (new volumes, scheduled snapshots, pets' old volumes)
  is one of the module's;
- and what the code writes passes the synthesized conditions themselves, evaluated on the requests the code
  makes: a change on either side that breaks the other fails here.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ferry.domain import conventions, errors
from ferry.domain.conventions import (
    CLUSTER_TAG,
    CSI_VOLUME_TAG,
    CSI_VOLUME_VALUE,
    MANAGED_TAG,
    MANAGED_VALUE,
    REHOMED_TO_TAG,
    SCHEDULE_TAG,
    TAG_PREFIX,
    TAGS,
)
from ferry.domain.rehoming.planner import plan_evacuation
from ferry.domain.rehoming.plans import CreateVolume, TagOldVolume
from ferry.domain.rehoming.schedules import ScheduledVolume, Take
from ferry.executor.effects import ClusterEffects
from tests.infrastructure.synthesis import Synthesized
from tests.unit.rehoming_builders import NOW, ZONES, request, three_pets

pytestmark = pytest.mark.xdist_group("cdk-synth")

ROOT = Path(__file__).resolve().parents[2]
TAG_CONDITION = re.compile(r"^(aws|ec2):(ResourceTag|RequestTag)/(?P<tag>.+)$")
# The tags whose value IAM fixes: a condition may only ask for exactly that value.
FIXED_VALUES = {MANAGED_TAG: MANAGED_VALUE, CSI_VOLUME_TAG: CSI_VOLUME_VALUE}
# What the stack conditions on today; a new condition (or one removed) is a change a reviewer should see here.
CONDITIONED = {MANAGED_TAG, CLUSTER_TAG, SCHEDULE_TAG, REHOMED_TO_TAG, CSI_VOLUME_TAG}


def statements(synthesized: Synthesized) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy statement of the template, wherever it sits (roles, policies, key and topic policies)."""

    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if isinstance(node.get("Statement"), list):
                yield from node["Statement"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    for logical_id, resource in synthesized.resources.items():
        for statement in walk(resource.get("Properties", {})):
            yield logical_id, statement


def conditions(statement: Mapping[str, Any]) -> Iterator[tuple[str, str, list[Any]]]:
    for operator, block in (statement.get("Condition") or {}).items():
        for key, value in block.items():
            yield operator, key, value if isinstance(value, list) else [value]


# --- IAM names only the module's tags and values -----------------------------------------------------------


def test_every_tag_condition_names_a_tag_of_the_module_with_its_value(synthesized: Synthesized) -> None:
    conditioned = set()
    for where, statement in statements(synthesized):
        for operator, key, values in conditions(statement):
            if key == "aws:TagKeys":  # which tag keys a request may write
                for pattern in values:
                    assert pattern in TAGS or pattern == f"{TAG_PREFIX}*", (where, operator, pattern)
                    conditioned |= {pattern} if pattern in TAGS else set()
                continue
            match = TAG_CONDITION.match(key)
            if match is None:
                assert TAG_PREFIX not in json.dumps(values), f"{where}: {key} names a Ferry tag in a way not checked"
                continue
            tag = match["tag"]
            assert tag in TAGS | {CSI_VOLUME_TAG}, f"{where}: {key} is not a tag of ferry.domain.conventions"
            conditioned.add(tag)
            if operator == "Null":
                assert values == ["false"], f"{where}: {key} (only 'the tag is present' is asked)"
            else:
                assert tag in FIXED_VALUES, f"{where}: {operator} {key}: the code writes no fixed value for it"
                assert values == [FIXED_VALUES[tag]], (where, operator, key, values)
    assert conditioned == CONDITIONED


def test_names_in_the_policies_use_the_modules_prefixes(synthesized: Synthesized) -> None:
    text = json.dumps([statement for _, statement in statements(synthesized)])
    secrets = set(re.findall(r"secret:([^\"]*)", text))
    alarms = set(re.findall(r"alarm:([^\"]*)", text))
    assert secrets == {f"{conventions.SECRET_PREFIX}*"}
    assert alarms == {f"{conventions.OWNED_ALARM_PREFIX}*"}


def test_the_cdk_app_imports_nothing_of_ferry_but_the_conventions_and_the_configuration_reader() -> None:
    probe = "import sys, cdk.app; print(sorted(m for m in sys.modules if m.split('.')[0] == 'ferry'))"
    # A fresh interpreter without pytest's pythonpath: as `cdk.json` runs the app.
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout.replace("'", '"')) == [
        "ferry",
        "ferry.domain",
        "ferry.domain.clusters",  # the configuration file's models, checked at synth (cdk/configuration.py)
        "ferry.domain.configuration",
        "ferry.domain.conventions",
        "ferry.domain.documents",
        "ferry.domain.errors",
        "ferry.domain.federation",
        "ferry.domain.federation.apps",
        "ferry.domain.serialization",
    ]


def test_the_retried_error_names_are_the_names_of_ferrys_errors() -> None:
    """Step Functions matches a step's error by the class name Lambda reports: a renamed class is never retried."""
    assert errors.InputError.__name__ == conventions.INPUT_ERROR
    assert errors.StepPending.__name__ == conventions.STEP_PENDING_ERROR
    transient = {errors.TransientError, *errors.TransientError.__subclasses__()} - {errors.StepPending}
    assert set(conventions.TRANSIENT_ERRORS) == {error.__name__ for error in transient}


# --- the code writes only the module's tags, and what it writes passes the conditions ------------------------


@dataclass
class RecordingVolumes:
    """The volumes adapter's writes, recorded: what EC2 would receive."""

    created: list[dict[str, Any]]
    tagged: list[tuple[str, dict[str, str]]]

    def create_from_snapshot(self, **request: Any) -> Any:
        self.created.append(request)
        return type("Created", (), {"volume_id": "vol-0new"})()

    def tag(self, resource_id: str, tags: Mapping[str, str]) -> None:
        self.tagged.append((resource_id, dict(tags)))


@pytest.fixture(scope="module")
def written() -> dict[str, dict[str, str]]:
    """The tags each conditioned EC2 write carries, as the planner, the executor and the schedule make them."""
    plan = plan_evacuation(ZONES[0], [three_pets().build()], request())
    actions = [action for pet in plan.pets for action in pet.actions]
    create = next(a for a in actions if isinstance(a, CreateVolume))
    tag_old = next(a for a in actions if isinstance(a, TagOldVolume))
    volumes = RecordingVolumes([], [])
    effects = ClusterEffects(kube=None, fencer=None, volumes=volumes, fence_wait=timedelta(0), clock=lambda: NOW)  # type: ignore[arg-type]
    effects.perform(create, {})
    effects.perform(tag_old, {tag_old.created_by: {"volumeId": "vol-0new"}})
    ((created,), ((_, old_volume_tags),)) = volumes.created, volumes.tagged
    take = Take(ScheduledVolume("east-1", "shop", "data-db-0", "vol-0old", timedelta(minutes=15)), age=None)
    return {
        "new volume": {**created["tags"], **created["identity"]},  # one CreateVolume call: tags and identity
        "old volume": old_volume_tags,
        "scheduled snapshot": take.tags(),
    }


@pytest.mark.parametrize("write", ["new volume", "old volume", "scheduled snapshot"])
def test_every_ferry_tag_the_code_writes_is_one_of_the_modules(written: dict[str, dict[str, str]], write: str) -> None:
    ferry_tags = {key for key in written[write] if key.startswith(TAG_PREFIX)}
    assert ferry_tags and ferry_tags <= TAGS, ferry_tags - TAGS


def allowed(synthesized: Synthesized, action: str, arn: str, context: Mapping[str, Any]) -> bool:
    """Whether some Allow statement of the stack grants `action` on `arn` under `context` (condition keys to
    values; a missing key is absent from the request), for the operators Ferry's policies use."""
    for _, statement in statements(synthesized):
        actions = statement.get("Action")
        resources = statement.get("Resource")
        if statement.get("Effect") != "Allow" or action not in (actions if isinstance(actions, list) else [actions]):
            continue
        resources = resources if isinstance(resources, list) else [resources]
        if not any(isinstance(r, str) and fnmatch.fnmatchcase(arn, r) for r in resources):
            continue
        if all(_holds(operator, key, values, context) for operator, key, values in conditions(statement)):
            return True
    return False


def _holds(operator: str, key: str, values: list[Any], context: Mapping[str, Any]) -> bool:
    present = context.get(key)
    if operator == "Null":
        return (present is None) == (values == ["true"])
    if present is None:
        return False
    quantifier, _, test = operator.rpartition(":")
    match = {"StringEquals": lambda a, b: a == b, "StringLike": fnmatch.fnmatchcase}[test]
    asked = present if isinstance(present, list) else [present]
    found = [any(match(a, v) for v in values) for a in asked]
    return all(found) if quantifier == "ForAllValues" else any(found)


def request_tags(tags: Mapping[str, str]) -> dict[str, Any]:
    return {**{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": sorted(tags)}


def resource_tags(tags: Mapping[str, str]) -> dict[str, Any]:
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


VOLUME = "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0"
SNAPSHOT = "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0"


def test_the_conditions_allow_what_the_code_writes(synthesized: Synthesized, written: dict[str, Any]) -> None:
    assert allowed(synthesized, "ec2:CreateVolume", VOLUME, request_tags(written["new volume"]))
    assert allowed(synthesized, "ec2:CreateSnapshot", SNAPSHOT, request_tags(written["scheduled snapshot"]))
    assert allowed(synthesized, "ec2:DeleteSnapshot", SNAPSHOT, resource_tags(written["scheduled snapshot"]))
    csi_volume = resource_tags({CSI_VOLUME_TAG: CSI_VOLUME_VALUE})
    cluster_volume = resource_tags({CLUSTER_TAG: "east-1"})
    for old_volume in (csi_volume, cluster_volume):
        assert allowed(synthesized, "ec2:CreateTags", VOLUME, {**old_volume, **request_tags(written["old volume"])})


def test_the_conditions_refuse_what_the_code_must_not_do(synthesized: Synthesized, written: dict[str, Any]) -> None:
    untagged = {k: v for k, v in written["new volume"].items() if k != MANAGED_TAG}
    assert not allowed(synthesized, "ec2:CreateVolume", VOLUME, request_tags(untagged))
    # A snapshot of Ferry's that is not the schedule's (a user's, or one re-homing restored from) is never deleted.
    assert not allowed(synthesized, "ec2:DeleteSnapshot", SNAPSHOT, resource_tags({MANAGED_TAG: MANAGED_VALUE}))
    # Another tag on an old volume, or any tag on a volume that is no cluster's.
    other = request_tags({**written["old volume"], "team": "shop"})
    assert not allowed(synthesized, "ec2:CreateTags", VOLUME, {**resource_tags({CLUSTER_TAG: "east-1"}), **other})
    assert not allowed(synthesized, "ec2:CreateTags", VOLUME, request_tags(written["old volume"]))
