"""SetZone: a person's word on a zone, audited, then decided like any signal (functions/zone-override).

The input is checked first (schema, then the zone against the registry and `until` against the clock), so a
bad request changes nothing and its error names each wrong field. The audit record (who, why, which run) is
written before the detector hears of it: a word Ferry acted on is always on record. Then the override goes
through `Verdicts.decide` as any signal does: its transitions are audited, notified and handed off (in act
mode) by the same path, and the zone's state is written with the same conditional write, so a SetZone
racing a probe round loses nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ferry.adapters.aws import LazyClient, client
from ferry.adapters.reporting import AuditLog, Notifier
from ferry.adapters.states import StateTable
from ferry.domain.detection import ZoneStatus
from ferry.domain.detection.batches import watched_zones
from ferry.domain.errors import InputError
from ferry.domain.overrides import SetZoneReport, SetZoneRequest, override_signal, set_zone_report
from ferry.domain.runbooks import Runbook
from ferry.services.clocks import Clock
from ferry.services.inputs import validate_input
from ferry.services.settings.reactions import ReactionSettings
from ferry.services.verdicts import Verdicts


class ZoneOverrides:
    def __init__(
        self, *, verdicts: Verdicts, states: StateTable, audit: AuditLog, notifier: Notifier, clock: Clock
    ) -> None:
        self._verdicts = verdicts
        self._states = states
        self._audit = audit
        self._notifier = notifier
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: ReactionSettings, *, clock: Clock, env: Mapping[str, str] = os.environ
    ) -> ZoneOverrides:
        dynamodb = client("dynamodb")
        return cls(
            verdicts=Verdicts.from_settings(settings, dynamodb, clock=clock, env=env),
            states=StateTable(dynamodb, settings.table_name),
            audit=AuditLog(dynamodb, settings.table_name),
            notifier=Notifier(LazyClient("sns"), settings.topic_arn),
            clock=clock,
        )

    def set_zone(self, event: Mapping[str, Any]) -> SetZoneReport:
        request = _parse(event)
        policy = self._verdicts.policy()
        now = self._clock()
        signal = override_signal(request, now=now, zones=policy.zones if policy else ())
        assert policy is not None  # override_signal refuses every zone while none is watched
        before = self._status(request.zone, policy)
        self._audit.record(
            f"set-zone:{request.run_id}",
            now,
            {
                "what": f"zone {request.zone} set {request.state.value}"
                + (f" until {request.until.isoformat()}" if request.until else ""),
                "who": request.requested_by,
                "why": request.reason,
                "execution_name": request.run_id,
                "status_before": before,
                "signal": signal.to_dict(),
            },
        )
        reacted = self._verdicts.react_to([signal])
        after = self._status(request.zone, policy)
        moves = tuple(
            (t.from_status.value, t.to_status.value, t.reason.value) for t, _ in reacted if t.subject == request.zone
        )
        report = set_zone_report(request, before, after, moves)
        if not moves:
            # A transition is told by its reaction; a word that changed no status is told here, so the person
            # and the on-call both see it was heard.
            self._notifier.notify(f"Ferry: zone {request.zone} set {request.state.value}", report.summary, {})
        return report

    def _status(self, zone: str, policy: Any) -> str:
        state = self._states.read_region(zone[:-1], watched_zones(zone[:-1], policy)).state.zone(zone)
        return (state.status if state else ZoneStatus.HEALTHY).value


def _parse(event: Mapping[str, Any]) -> SetZoneRequest:
    run_id = event.get("runId") if isinstance(event, Mapping) else None
    if not isinstance(run_id, str) or not run_id:
        raise InputError(["runId: required (the execution name)"])
    body = {k: v for k, v in event.items() if k != "runId"}
    validate_input(Runbook.SET_ZONE, body)
    return SetZoneRequest.from_dict(event)
