"""CloudWatch alarm state changes: Ferry's own alarms (named with the owned prefix) firing and clearing.

Only alarms Ferry created count as a voice; anyone else's alarm is skipped as not owned, before its
configuration is read, so a stranger's odd alarm never lands in the DLQ. An owned alarm that watches a zone
or a cluster says so in its metric dimensions (AvailabilityZone, ClusterName), which become the signal's
zone and cluster. The three alarm shapes differ only in `detail.configuration`: a metric alarm lists one
metric, a metric-math alarm lists expressions and the metrics they use, a composite alarm has an
`alarmRule` and no metrics.

Format: docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from ferry.domain.conventions import OWNED_ALARM_PREFIX
from ferry.domain.errors import EventParseError
from ferry.domain.signals import SignalKind, Skip, SkipReason, Source, Translation
from ferry.domain.translators.envelopes import Envelope, Subject, emit
from ferry.domain.translators.fields import (
    get_enum,
    get_mapping,
    get_optional_mapping,
    get_optional_str,
    get_str,
    join_path,
    only_one,
    require_list,
    require_mapping,
    require_str,
    truncate,
)
from ferry.domain.translators.zones import ZoneRef, classify_zone

DETAIL_TYPE = "CloudWatch Alarm State Change"
DEFAULT_OWNED_ALARM_PREFIX = OWNED_ALARM_PREFIX  # the stack names its own alarms so (cdk reads the same value)

# Dimension names that place an alarm in a zone or a cluster: AWS's own (load balancers, EBS, Container
# Insights) and the short forms Ferry's custom metrics may use.
ZONE_DIMENSIONS = ("AvailabilityZone", "AvailabilityZoneId", "Zone")
CLUSTER_DIMENSIONS = ("ClusterName", "Cluster")


class AlarmState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class AlarmType(StrEnum):
    METRIC = "metric"
    METRIC_MATH = "metric-math"
    COMPOSITE = "composite"


_KINDS = {AlarmState.ALARM: SignalKind.ALARM_FIRING, AlarmState.OK: SignalKind.ALARM_CLEARED}


class _Dimension(NamedTuple):
    """One dimension of an alarm's metric, and where in the event it was read (for error messages).

    Private records here are NamedTuples: a quarter of a frozen dataclass's cost at ingest's cold start."""

    name: str
    value: str
    path: str


class _Configuration(NamedTuple):
    """What Ferry needs from `detail.configuration`, whatever the alarm's shape."""

    type: AlarmType
    summary: Mapping[str, str | None]  # the metric, expression or rule, for the audit
    dimensions: tuple[_Dimension, ...] = ()


def translate_alarm_state_change(envelope: Envelope, *, owned_prefix: str = DEFAULT_OWNED_ALARM_PREFIX) -> Translation:
    detail = envelope.detail
    name = get_str(detail, "alarmName", "detail")
    state = get_mapping(detail, "state", "detail")
    value = get_enum(state, "value", "detail.state", AlarmState)
    if not name.startswith(owned_prefix):
        return Skip(SkipReason.NOT_OWNED, f"alarm {name!r} does not start with {owned_prefix!r}")
    configuration = _read_configuration(get_mapping(detail, "configuration", "detail"))
    previous = get_optional_mapping(detail, "previousState", "detail")
    reason = get_optional_str(state, "reason", "detail.state")
    kind = _KINDS.get(value)
    if kind is None:
        return Skip(SkipReason.IGNORED_STATE, f"alarm {name!r} went to {value.value}")
    evidence = {
        "alarmName": name,
        "alarmType": configuration.type.value,
        "state": value.value,
        "previousState": get_optional_str(previous, "value", "detail.previousState") if previous else None,
        "reason": truncate(reason) if reason else None,
        **configuration.summary,
    }
    zone = _zone(configuration.dimensions)
    cluster = only_one(
        dimension.value for dimension in configuration.dimensions if dimension.name in CLUSTER_DIMENSIONS
    )
    subject = Subject(zone=zone.name, zone_id=zone.id, cluster=cluster)
    return emit(envelope, kind=kind, source=Source.CLOUDWATCH, evidence=evidence, subjects=[subject])


def _read_configuration(configuration: Mapping[str, Any]) -> _Configuration:
    path = "detail.configuration"
    if "alarmRule" in configuration:
        rule = truncate(get_str(configuration, "alarmRule", path))
        return _Configuration(AlarmType.COMPOSITE, {"alarmRule": rule})
    metrics = require_list(configuration.get("metrics"), join_path(path, "metrics"))
    if not metrics:
        raise EventParseError(join_path(path, "metrics"), "expected at least one metric or an alarmRule")
    queries = [require_mapping(query, join_path(f"{path}.metrics", index)) for index, query in enumerate(metrics)]
    dimensions = tuple(_dimensions(queries))
    expressions = [
        get_str(query, "expression", join_path(f"{path}.metrics", index))
        for index, query in enumerate(queries)
        if "expression" in query
    ]
    if expressions:
        return _Configuration(AlarmType.METRIC_MATH, {"expression": truncate(expressions[0])}, dimensions)
    return _Configuration(AlarmType.METRIC, {"metric": _metric_label(queries[0], f"{path}.metrics[0]")}, dimensions)


def _dimensions(queries: Sequence[Mapping[str, Any]]) -> Iterator[_Dimension]:
    for index, query in enumerate(queries):
        base = f"detail.configuration.metrics[{index}]"
        stat = get_optional_mapping(query, "metricStat", base)
        if stat is None:
            continue  # an expression: the metrics it uses are listed beside it
        path = f"{base}.metricStat.metric"
        metric = get_mapping(stat, "metric", f"{base}.metricStat")
        for name, value in (get_optional_mapping(metric, "dimensions", path) or {}).items():
            field = f"{path}.dimensions.{name}"
            yield _Dimension(name, require_str(value, field), field)


def _metric_label(query: Mapping[str, Any], path: str) -> str:
    metric = get_mapping(get_mapping(query, "metricStat", path), "metric", f"{path}.metricStat")
    namespace = get_str(metric, "namespace", f"{path}.metricStat.metric")
    return f"{namespace} {get_str(metric, 'name', f'{path}.metricStat.metric')}"


def _zone(dimensions: Sequence[_Dimension]) -> ZoneRef:
    """The one zone the alarm's metrics share; none when they name no zone or several."""
    return only_one(_zone_of(dimension) for dimension in dimensions if dimension.name in ZONE_DIMENSIONS) or ZoneRef()


def _zone_of(dimension: _Dimension) -> ZoneRef:
    zone = classify_zone(dimension.value)
    if zone is None:
        raise EventParseError(dimension.path, f"not an Availability Zone name or id: {dimension.value!r}")
    return zone
