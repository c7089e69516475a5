"""One translator per AWS event source, and `translate`, the one entry point that picks it.

Every AWS event Ferry listens to reaches the ingest function as an EventBridge event. `translate` checks the
envelope, dispatches on (source, detail-type) and returns the Signals the event means, or a `Skip` for a
well-formed event Ferry does not act on (counted, not retried), or raises `EventParseError` naming the bad
field (retried, then dead-lettered). Translators are pure: no I/O, no logging, no AWS SDK; enrichment
(instance -> zone, zone id -> zone name) belongs to the ingest service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache, partial

from ferry.domain.signals import Skip, SkipReason, Source, Translation
from ferry.domain.translators import alarms, autoscaling, ec2, health, schedules, zonal_shifts
from ferry.domain.translators.alarms import DEFAULT_OWNED_ALARM_PREFIX
from ferry.domain.translators.envelopes import Envelope, parse_envelope

__all__ = ["DEFAULT_OWNED_ALARM_PREFIX", "translate"]

Translator = Callable[[Envelope], Translation]


def translate(event: object, *, owned_alarm_prefix: str = DEFAULT_OWNED_ALARM_PREFIX) -> Translation:
    """Translate one EventBridge event (the full envelope as a dict) into Signals or a Skip.

    Raises `ferry.domain.errors.EventParseError` when the event is not an object, its envelope lacks id, source,
    detail-type, time, region or detail, or the source's own fields are missing or malformed.
    """
    envelope = parse_envelope(event)
    translator = _translators(owned_alarm_prefix).get((envelope.source, envelope.detail_type))
    if translator is None:
        return Skip(SkipReason.UNKNOWN_EVENT, f"no translator for {envelope.source} / {envelope.detail_type}")
    return translator(envelope)


@cache
def _translators(owned_alarm_prefix: str) -> Mapping[tuple[str, str], Translator]:
    by_detail_type: dict[tuple[str, str], Translator] = {
        (Source.AWS_HEALTH, health.DETAIL_TYPE): health.translate_health_event,
        (Source.EC2, ec2.STATE_CHANGE): ec2.translate_state_change,
        (Source.EC2, ec2.SPOT_INTERRUPTION): ec2.translate_spot_interruption,
        (Source.EC2, ec2.REBALANCE_RECOMMENDATION): ec2.translate_rebalance_recommendation,
        (Source.AUTOSCALING, autoscaling.LAUNCH_LIFECYCLE_ACTION): autoscaling.translate_lifecycle_action,
        (Source.AUTOSCALING, autoscaling.TERMINATE_LIFECYCLE_ACTION): autoscaling.translate_lifecycle_action,
        (Source.CLOUDWATCH, alarms.DETAIL_TYPE): partial(
            alarms.translate_alarm_state_change, owned_prefix=owned_alarm_prefix
        ),
        (Source.SCHEDULER, schedules.DETAIL_TYPE): schedules.translate_scheduled_event,
    }
    for detail_type in zonal_shifts.DETAIL_TYPES:
        by_detail_type[(Source.ZONAL_SHIFT, detail_type)] = zonal_shifts.translate_zonal_shift
    return by_detail_type
