"""Zone and control-plane states in the Ferry table: read with their versions, written only conditionally.

Many ingest and probe invocations run at once, and two of them may see signals about the same failure. Every
state item carries a `version`; a read returns each state with the version it had, and a write is
conditioned on the versions read, so a write over someone else's raises `ferry.domain.errors.Conflict`
(a lost race) and changes nothing. Deciding, and retrying a lost race from a fresh read, is the caller's
(`ferry.services.verdicts`).

A region's zones are decided together (static stability), so they are written in one transaction that
checks the version of every zone item read, changed or not: two invocations that each want to impair a
different zone cannot both succeed. A control plane is one item, written alone; it is read together with
its cluster's registration (`REGISTRY` / `CLUSTER#<name>`, written by `ferry.adapters.registry`), in one
consistent read.

Items (docs/CONVENTIONS.md): `ZONE#<region>#<zone>` / `STATE` and `CLUSTER#<cluster>` / `CONTROL_PLANE`, each
with `version` (N), `status` and `updated_at` for people reading the table, and `state`, the detector's
state as a map (numbers as Decimal, times as ISO strings).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.detection import ControlPlaneState, RegionState, ZoneState
from ferry.domain.errors import Conflict, FerryError

_REGISTRY_PK = "REGISTRY"  # ferry.adapters.registry keeps every registration in this one partition
_LOST_RACE = {"ConditionalCheckFailed", "TransactionConflict"}
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def zone_key(region: str, zone: str) -> dict[str, str]:
    return {"pk": f"ZONE#{region}#{zone}", "sk": "STATE"}


def control_plane_key(cluster: str) -> dict[str, str]:
    return {"pk": f"CLUSTER#{cluster}", "sk": "CONTROL_PLANE"}


@dataclass(frozen=True, slots=True)
class RegionSnapshot:
    """A region's zone states as read, with each item's version (None: no item yet)."""

    state: RegionState
    versions: Mapping[str, int | None]


@dataclass(frozen=True, slots=True)
class ControlPlaneSnapshot:
    """A control plane's state as read (None: no item yet), its version, and the cluster's registration."""

    cluster: str
    state: ControlPlaneState | None
    version: int | None
    registration: ClusterRegistration | None


class StateTable:
    """The detector's states in the Ferry table, through a low-level DynamoDB client (passed in)."""

    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    # ------------------------------------------------------------------------------------------- reading

    def read_region(self, region: str, zones: Iterable[str]) -> RegionSnapshot:
        names = sorted(set(zones))
        items = self._get_all([zone_key(region, name) for name in names])
        known = [ZoneState.from_dict(item["state"]) for item in items if item]
        versions = {name: _version(item) for name, item in zip(names, items, strict=True)}
        return RegionSnapshot(RegionState.new(region, names, known), versions)

    def read_control_plane(self, cluster: str) -> ControlPlaneSnapshot:
        registration_key = {"pk": _REGISTRY_PK, "sk": f"CLUSTER#{cluster}"}
        item, registered = self._get_all([control_plane_key(cluster), registration_key])
        return ControlPlaneSnapshot(
            cluster=cluster,
            state=ControlPlaneState.from_dict(item["state"]) if item else None,
            version=_version(item),
            registration=ClusterRegistration.from_dict(registered["registration"]) if registered else None,
        )

    def _get_all(self, keys: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Every item in one consistent, atomic read; `{}` for a missing one."""
        if not keys:
            return []
        request = [{"Get": {"TableName": self._table, "Key": _to_item(key)}} for key in keys]
        try:
            response = self._dynamodb.transact_get_items(TransactItems=request)
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        return [_from_item(answer.get("Item") or {}) for answer in response["Responses"]]

    # ------------------------------------------------------------------------------------------- writing

    def write_region(self, before: RegionSnapshot, after: RegionState) -> None:
        """Put the changed zones and check the unchanged ones, all on the versions read, in one transaction;
        raises Conflict if another writer changed any of them since."""
        actions = []
        for old, new in zip(before.state.zones, after.zones, strict=True):
            version = before.versions.get(old.zone)
            key = zone_key(after.region, new.zone)
            condition = _condition(version)
            if new == old and version is not None:
                actions.append({"ConditionCheck": {"TableName": self._table, "Key": _to_item(key), **condition}})
            else:
                item = _state_item(key, new.to_dict(), new.status.value, new.updated_at, version)
                actions.append({"Put": {"TableName": self._table, "Item": item, **condition}})
        try:
            self._dynamodb.transact_write_items(TransactItems=actions)
        except (ClientError, BotoCoreError) as error:
            raise _write_error(error, f"zones of {after.region}") from error

    def write_control_plane(self, before: ControlPlaneSnapshot, after: ControlPlaneState) -> None:
        """Put the control plane's state on the version read."""
        key = control_plane_key(after.cluster)
        item = _state_item(key, after.to_dict(), after.status.value, after.updated_at, before.version)
        try:
            self._dynamodb.put_item(TableName=self._table, Item=item, **_condition(before.version))
        except (ClientError, BotoCoreError) as error:
            raise _write_error(error, f"control plane of {after.cluster}") from error


def _write_error(error: ClientError | BotoCoreError, what: str) -> FerryError:
    if isinstance(error, ClientError) and _lost_race(error):
        return Conflict(f"{what}: changed by another writer since it was read")
    translated = translate_error(error)
    # A transaction cancelled for another reason (a validation error, say) is no lost race: reading again
    # would not help, so it must not look like one.
    return FerryError(str(translated)) if isinstance(translated, Conflict) else translated


# ------------------------------------------------------------------------------------------- serialization


def _state_item(
    key: dict[str, str], state: dict[str, Any], status: str, updated_at: datetime | None, version: int | None
) -> dict[str, Any]:
    return _to_item(
        {
            **key,
            "version": (version or 0) + 1,
            "status": status,
            "updated_at": updated_at.isoformat() if updated_at else None,
            "state": state,
        }
    )


def _condition(version: int | None) -> dict[str, Any]:
    if version is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {
        "ConditionExpression": "#version = :version",
        "ExpressionAttributeNames": {"#version": "version"},
        "ExpressionAttributeValues": {":version": {"N": str(version)}},
    }


def _version(item: Mapping[str, Any]) -> int | None:
    return int(item["version"]) if item else None


def _lost_race(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
    if not reasons:  # some clients do not parse the reasons: the message lists them
        message = error.response.get("Error", {}).get("Message", "")
        return any(code in message for code in _LOST_RACE)
    return any(r in _LOST_RACE for r in reasons) and all(r in (*_LOST_RACE, "None", None) for r in reasons)


def to_dynamo(value: Any) -> Any:
    """A JSON-ready value as DynamoDB's Python form: numbers become Decimal (floats through their text)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    raise TypeError(f"cannot store a {type(value).__name__} in the state table")


def from_dynamo(value: Any) -> Any:
    """The inverse of `to_dynamo`: whole Decimals become int, others float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


def _to_item(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serialize(to_dynamo(value)) for name, value in attributes.items()}


def _from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: from_dynamo(_deserialize(value)) for name, value in item.items()}
