"""EventBridge scheduled events: the clock that starts each probe round.

A schedule tick carries no observation; it exists as a Signal so that the probe round it starts has an
identity (the event id) and a time like every other input, and shows up in the same audit trail.

Format: docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
"""

from __future__ import annotations

from ferry.domain.signals import SignalKind, Source, Translation
from ferry.domain.translators.envelopes import Envelope, emit

DETAIL_TYPE = "Scheduled Event"


def translate_scheduled_event(envelope: Envelope) -> Translation:
    rule = envelope.resources[0] if envelope.resources else None
    return emit(envelope, kind=SignalKind.SCHEDULE_TICK, source=Source.SCHEDULER, evidence={"rule": rule})
