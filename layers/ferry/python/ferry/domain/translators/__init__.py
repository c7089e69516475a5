"""One translator per AWS event source, and `translate`, the one entry point that picks it.

Every AWS event Ferry listens to reaches the ingest function as an EventBridge event. `translate` reads what
picks a translator (source, detail-type), dispatches, and returns the Signals the event means, or a `Skip`
for a well-formed event Ferry does not act on (counted, not retried; an unknown source or detail-type is
one, whatever else it lacks), or `Unplaced` when the zones of some resources must be looked up first, or
raises `EventParseError` naming a field the chosen meaning needs (retried, then dead-lettered).
Translators are pure: no I/O, no logging, no AWS SDK; lookups (instance or volume -> zone, zone id -> zone
name, which load balancers Ferry follows) belong to the ingest service, which hands in what it knows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache, partial

from ferry.domain.signals import Skip, SkipReason, Source, Translation
from ferry.domain.translators import alarms, autoscaling, ec2, health, schedules, zonal_shifts
from ferry.domain.translators.alarms import DEFAULT_OWNED_ALARM_PREFIX
from ferry.domain.translators.envelopes import Envelope, Unplaced, parse_envelope, route_of
from ferry.domain.translators.zonal_shifts import Drills

__all__ = ["DEFAULT_OWNED_ALARM_PREFIX", "Drills", "Unplaced", "translate"]

Translator = Callable[[Envelope], Translation | Unplaced]


def translate(
    event: object,
    *,
    owned_alarm_prefix: str = DEFAULT_OWNED_ALARM_PREFIX,
    followed: frozenset[str] = frozenset(),
    drills: Drills = Drills.RECORD,
) -> Translation | Unplaced:
    """Translate one EventBridge event (the full envelope as a dict) into Signals, a Skip, or `Unplaced`.

    `followed` are the resources (load balancer ARNs) whose manual zonal shifts are authorities; `drills`
    says whether a practice run or a FIS experiment is acted on. Raises `ferry.domain.errors.EventParseError`
    when the event is not an object, lacks an id, source or detail-type, or, for an event Ferry translates,
    lacks (or has malformed) an envelope field or a field of its own that its meaning needs.
    """
    source, detail_type = route_of(event)
    if source == Source.ZONAL_SHIFT and detail_type in zonal_shifts.DETAIL_TYPES:
        # The one translator that takes the service's snapshot of what Ferry follows, and the drills setting.
        return zonal_shifts.translate_zonal_shift(parse_envelope(event), followed=followed, drills=drills)
    translator = _translators(owned_alarm_prefix).get((source, detail_type))
    if translator is None:
        return Skip(SkipReason.UNKNOWN_EVENT, f"no translator for {source} / {detail_type}")
    return translator(parse_envelope(event))


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
    return by_detail_type
