"""The step journal: what a run has done, so a re-run after a crash or a timeout does nothing twice.

Items in the Ferry table (docs/REHOMING.md):

- `RUN#<runId>` / `STEP#<step id>`: one per completed step, with its result (JSON), written when it completes.
- `RUN#<runId>` / `PLAN#<subject>`: the plan of one pet or node, written once when the run is planned, so
  every later step executes the plan that was shown (and approved), not a re-plan of a changed world.
- `LOCK#<name>` / `LOCK`: one executor per pet at a time, with a lease so a dead holder does not block forever
  (and one shift per federated app, `LOCK#shift/<namespace>/<name>`, held by its run from plan to scale-down).
- `SHIFT#<namespace>/<name>` / `ORIGIN`: the replicas per member cluster before the app's first shift, written
  once (a second shift during an outage keeps the first one's counts), for failback to restore; deleted when
  failback has restored them.

Results and plans are stored as JSON strings: they hold floats and nested lists DynamoDB's types handle badly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error
from ferry.domain.errors import Conflict

BATCH_GET = 100


@dataclass(frozen=True, slots=True)
class StepRecord:
    step_id: str
    kind: str
    result: Mapping[str, Any]
    at: datetime


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class Journal:
    def __init__(self, dynamodb: Any, table_name: str, *, ttl: timedelta = timedelta(days=30)) -> None:
        self._dynamodb = dynamodb
        self._table = table_name
        self._ttl = ttl

    def _expires(self, at: datetime) -> dict[str, str]:
        return _n(int((at + self._ttl).timestamp()))

    def _put(self, item: dict[str, Any], **condition: Any) -> None:
        try:
            self._dynamodb.put_item(TableName=self._table, Item=item, **condition)
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            item = self._dynamodb.get_item(
                TableName=self._table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error
        return item or None

    # --- steps -------------------------------------------------------------------------------------------------

    def steps(self, run_id: str, step_ids: Iterable[str]) -> dict[str, StepRecord]:
        """The completed steps among `step_ids` (consistent reads, batched)."""
        wanted = sorted(set(step_ids))
        found: dict[str, StepRecord] = {}
        for start in range(0, len(wanted), BATCH_GET):
            keys = [{"pk": _s(f"RUN#{run_id}"), "sk": _s(f"STEP#{s}")} for s in wanted[start : start + BATCH_GET]]
            while keys:
                request = {self._table: {"Keys": keys, "ConsistentRead": True}}
                try:
                    response = self._dynamodb.batch_get_item(RequestItems=request)
                except (ClientError, BotoCoreError) as error:
                    raise translate_error(error) from error
                for item in response.get("Responses", {}).get(self._table, []):
                    record = StepRecord(
                        step_id=item["sk"]["S"].removeprefix("STEP#"),
                        kind=item["kind"]["S"],
                        result=json.loads(item["result"]["S"]),
                        at=datetime.fromisoformat(item["at"]["S"]),
                    )
                    found[record.step_id] = record
                keys = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return found

    def complete(self, run_id: str, step_id: str, kind: str, result: Mapping[str, Any], at: datetime) -> None:
        """Record a completed step. Writing it twice (two executors finishing the same step) is harmless."""
        self._put(
            {
                "pk": _s(f"RUN#{run_id}"),
                "sk": _s(f"STEP#{step_id}"),
                "kind": _s(kind),
                "result": _s(json.dumps(result, default=str, sort_keys=True)),
                "at": _s(at.isoformat()),
                "expires_at": self._expires(at),
            }
        )

    # --- plans ----------------------------------------------------------------------------------

    def save_plan(self, run_id: str, subject: str, plan: Mapping[str, Any], at: datetime) -> Mapping[str, Any]:
        """Keep the first plan written for a subject; return the plan that is kept (ours or the earlier one)."""
        item = {
            "pk": _s(f"RUN#{run_id}"),
            "sk": _s(f"PLAN#{subject}"),
            "plan": _s(json.dumps(plan, default=str, sort_keys=True)),
            "at": _s(at.isoformat()),
            "expires_at": self._expires(at),
        }
        try:
            self._put(item, ConditionExpression="attribute_not_exists(pk)")
        except Conflict:
            kept = self.load_plan(run_id, subject)
            return kept if kept is not None else plan
        return plan

    def load_plan(self, run_id: str, subject: str) -> Mapping[str, Any] | None:
        item = self._get(f"RUN#{run_id}", f"PLAN#{subject}")
        return json.loads(item["plan"]["S"]) if item else None

    # --- shifts of federated apps ------------------------------------------------------------------------------

    def record_origin(self, app: str, counts: Mapping[str, int], run_id: str, at: datetime) -> Mapping[str, int]:
        """Keep the counts before the app's first shift; return the counts kept (these or an earlier shift's)."""
        item = {
            "pk": _s(f"SHIFT#{app}"),
            "sk": _s("ORIGIN"),
            "counts": _s(json.dumps(dict(counts), sort_keys=True)),
            "run": _s(run_id),
            "at": _s(at.isoformat()),
        }
        try:
            self._put(item, ConditionExpression="attribute_not_exists(pk)")
        except Conflict:
            kept = self.origin(app)
            return kept if kept is not None else counts
        return counts

    def forget_origin(self, app: str) -> None:
        """Failback restored the counts: the next shift records its own."""
        try:
            self._dynamodb.delete_item(TableName=self._table, Key={"pk": _s(f"SHIFT#{app}"), "sk": _s("ORIGIN")})
        except (ClientError, BotoCoreError) as error:
            raise translate_error(error) from error

    def origin(self, app: str) -> Mapping[str, int] | None:
        item = self._get(f"SHIFT#{app}", "ORIGIN")
        return json.loads(item["counts"]["S"]) if item else None

    # --- locks -------------------------------------------------------------------------------------------------

    def acquire(self, name: str, owner: str, now: datetime, lease: timedelta) -> bool:
        """Take the lock if it is free, expired, or already ours; False if someone else holds it."""
        item = {
            "pk": _s(f"LOCK#{name}"),
            "sk": _s("LOCK"),
            "owner": _s(owner),
            "expires_at": _n(int((now + lease).timestamp())),
        }
        try:
            self._put(
                item,
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": _n(int(now.timestamp())), ":owner": _s(owner)},
            )
        except Conflict:
            return False
        return True

    def release(self, name: str, owner: str) -> None:
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key={"pk": _s(f"LOCK#{name}"), "sk": _s("LOCK")},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": _s(owner)},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise translate_error(error) from error
        except BotoCoreError as error:
            raise translate_error(error) from error
