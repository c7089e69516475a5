"""Monitoring of Ferry itself: alarms that page operators through the notifications topic, and a dashboard.

Ferry is the thing that is supposed to work while everything else fails, so its own failures must be loud:
a message in the dead-letter queue is an event Ferry could not understand, a function error or throttle is
a signal that may have been lost or delayed. The dashboard shows whether events flow (invocations, queue
age), what they became (`SignalsTranslated` by kind) and what was deliberately ignored (`EventsSkipped` by
reason), and what the probe sees (`ApiHealthy` per cluster, `NodesNotReady` and `LeaseAgeMax` per cluster
and zone). Kinds, reasons, clusters and zones are open-ended, so those graphs use SEARCH expressions instead
of one metric per known value.

The static-stability alarm is the one alarm on such an open-ended metric: `StaticStabilityHold` is emitted
with a `subject` dimension (the zone or region Ferry refused to act on) that no deployment can list in
advance, and an alarm cannot use SEARCH. It uses a CloudWatch Metrics Insights query instead, which an alarm
may evaluate: `SELECT SUM(StaticStabilityHold) FROM "Ferry"` adds up every series of the metric whatever
its dimensions (`subject`, and the `service` Powertools adds), so one hold anywhere raises it.

The runbooks' steps raise errors on purpose (Step Functions retries them), so their Errors metric is not
alarmed on; a runbook execution that fails or times out is: that is a rejected input, or a run whose report
could not even be written.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk.constants import (
    ALARM_NAME_PREFIX,
    ALARM_PERIOD,
    DASHBOARD_NAME,
    DASHBOARD_PERIOD,
    METRIC_API_HEALTHY,
    METRIC_EVENTS_SKIPPED,
    METRIC_LEASE_AGE_MAX,
    METRIC_NODES_NOT_READY,
    METRIC_READINESS_FINDINGS,
    METRIC_READINESS_GRADE,
    METRIC_SIGNALS_TRANSLATED,
    METRIC_STATIC_STABILITY_HOLD,
    METRICS_NAMESPACE,
    STATIC_STABILITY_ALARM,
)
from cdk.functions import FerryFunction
from cdk.ingestion import FerryIngestion
from cdk.runbooks import FerryRunbooks

READINESS_PERIOD = Duration.days(1)
WIDGET_WIDTH = 8  # three graphs per row on the 24-column grid
WIDGET_HEIGHT = 6


class FerryMonitoring(Construct):
    """Alarms `ferry-*` (to the topic, on ALARM and back to OK) and the `Ferry-<region>` dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        functions: Sequence[FerryFunction],
        ingestion: FerryIngestion,
        probe: FerryFunction,
        runbooks: FerryRunbooks,
        readiness: sfn.StateMachine | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = [
            self._build_dead_letter_alarm(ingestion),
            self._build_static_stability_alarm(),
        ]
        for function in functions:
            self.alarms.extend(self._build_function_alarms(function))
        for name, machine in runbooks.state_machines.items():
            self.alarms.append(self._build_runbook_alarm(name, machine))
        if readiness is not None:
            self.alarms.append(self._build_runbook_alarm("Readiness", readiness))
        self.dashboard = self._build_dashboard(ingestion.consumer, ingestion, probe, runbooks, readiness)

    def _alarm(self, construct_id: str, *, name: str, description: str, metric: cloudwatch.IMetric) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{ALARM_NAME_PREFIX}{name}",
            alarm_description=description,
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm

    def _build_dead_letter_alarm(self, ingestion: FerryIngestion) -> cloudwatch.Alarm:
        return self._alarm(
            "DeadLetters",
            name="ingest-dead-letters",
            description="Events Ferry could not ingest are waiting in the dead-letter queue: inspect and redrive",
            metric=ingestion.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=ALARM_PERIOD, statistic="Maximum"
            ),
        )

    def _build_static_stability_alarm(self) -> cloudwatch.Alarm:
        return self._alarm(
            "StaticStability",
            name=STATIC_STABILITY_ALARM,
            description=(
                "Ferry holds still: more zones look impaired at once than it may evacuate, so it acts on none. "
                "Check Ferry's own view (probe, events) before the region's; see the audit log for the subjects"
            ),
            metric=cloudwatch.MathExpression(
                expression=f'SELECT SUM({METRIC_STATIC_STABILITY_HOLD}) FROM "{METRICS_NAMESPACE}"',
                using_metrics={},
                label="Static-stability holds",
                period=ALARM_PERIOD,
            ),
        )

    def _build_function_alarms(self, function: FerryFunction) -> list[cloudwatch.Alarm]:
        name = function.spec.name
        fn = function.function
        checks = [
            ("Throttles", "throttles", fn.metric_throttles(period=ALARM_PERIOD, statistic="Sum"), "was throttled")
        ]
        if function.spec.alarm_on_errors:
            checks.insert(0, ("Errors", "errors", fn.metric_errors(period=ALARM_PERIOD, statistic="Sum"), "failed"))
        return [
            self._alarm(
                f"{name.capitalize()}{suffix}",
                name=f"{name}-{kind}",
                description=f"{function.spec.function_name} {what}: signals may be delayed or lost",
                metric=metric,
            )
            for suffix, kind, metric, what in checks
        ]

    def _build_runbook_alarm(self, name: str, machine: sfn.StateMachine) -> cloudwatch.Alarm:
        return self._alarm(
            f"{name}Failed",
            name=f"{name}-failed",
            description=(
                f"A {name} run failed or timed out: its input was "
                "rejected, or it could not report; see the execution in the Step Functions console"
            ),
            metric=cloudwatch.MathExpression(
                expression="FILL(failed, 0) + FILL(timedOut, 0)",
                using_metrics={
                    "failed": machine.metric_failed(period=ALARM_PERIOD, statistic="Sum"),
                    "timedOut": machine.metric_timed_out(period=ALARM_PERIOD, statistic="Sum"),
                },
                label="Failed or timed-out runs",
                period=ALARM_PERIOD,
            ),
        )

    def _build_dashboard(
        self,
        ingest: FerryFunction,
        ingestion: FerryIngestion,
        probe: FerryFunction,
        runbooks: FerryRunbooks,
        readiness: sfn.StateMachine | None,
    ) -> cloudwatch.Dashboard:
        fn = ingest.function
        period = DASHBOARD_PERIOD

        def graph(
            title: str, left: Sequence[cloudwatch.IMetric], right: Sequence[cloudwatch.IMetric] = ()
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(
                title=title, left=list(left), right=list(right), width=WIDGET_WIDTH, height=WIDGET_HEIGHT
            )

        def search(
            metric_name: str, label: str, statistic: str = "Sum", every: Duration = period
        ) -> cloudwatch.MathExpression:
            # Every dimension set of the metric (Powertools adds `service` to `kind`/`reason`): one line each.
            return cloudwatch.MathExpression(
                expression=(
                    f'SEARCH(\'Namespace="{METRICS_NAMESPACE}" MetricName="{metric_name}"\', '
                    f"'{statistic}', {int(every.to_seconds())})"
                ),
                using_metrics={},
                label=label,
                period=every,
            )

        # Readiness is answered once a day (and by hand): a day per point, the worst answer of the day.
        readiness_row: list[cloudwatch.IWidget] = []
        if readiness is not None:
            readiness_row = [
                graph(
                    "readiness grade per zone (0 ready, 1 at-risk, 2 not-ready)",
                    [search(METRIC_READINESS_GRADE, "", "Maximum", READINESS_PERIOD)],
                ),
                graph(
                    "readiness findings, by kind", [search(METRIC_READINESS_FINDINGS, "", "Maximum", READINESS_PERIOD)]
                ),
                graph(
                    "readiness runs: started, succeeded, failed",
                    [
                        readiness.metric_started(period=READINESS_PERIOD, statistic="Sum"),
                        readiness.metric_succeeded(period=READINESS_PERIOD, statistic="Sum"),
                        readiness.metric_failed(period=READINESS_PERIOD, statistic="Sum"),
                    ],
                ),
            ]

        return cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{DASHBOARD_NAME}-{Stack.of(self).region}",
            widgets=[
                [
                    graph(
                        "ingest: invocations and errors",
                        [
                            fn.metric_invocations(period=period, statistic="Sum"),
                            fn.metric_errors(period=period, statistic="Sum"),
                            fn.metric_throttles(period=period, statistic="Sum"),
                        ],
                    ),
                    graph(
                        "ingest: duration",
                        [fn.metric_duration(period=period, statistic=stat) for stat in ("p50", "p99", "Maximum")],
                    ),
                    graph(
                        "ingestion queue: age (s, left) and dead letters (right)",
                        [
                            ingestion.queue.metric_approximate_age_of_oldest_message(
                                period=period, statistic="Maximum", label="Oldest message age"
                            )
                        ],
                        [
                            ingestion.dead_letter_queue.metric_approximate_number_of_messages_visible(
                                period=period, statistic="Maximum", label="Dead letters"
                            )
                        ],
                    ),
                ],
                [
                    graph("signals translated, by kind", [search(METRIC_SIGNALS_TRANSLATED, "")]),
                    graph("events skipped, by reason", [search(METRIC_EVENTS_SKIPPED, "")]),
                    graph("static-stability holds, by subject", [search(METRIC_STATIC_STABILITY_HOLD, "")]),
                ],
                [
                    # Minimum: one failed probe in the period shows as 0 (unhealthy).
                    graph("probe: API healthy (1) per cluster", [search(METRIC_API_HEALTHY, "", "Minimum")]),
                    graph(
                        "probe: nodes not ready, per cluster and zone", [search(METRIC_NODES_NOT_READY, "", "Maximum")]
                    ),
                    graph(
                        "probe: oldest lease (s), per cluster and zone", [search(METRIC_LEASE_AGE_MAX, "", "Maximum")]
                    ),
                ],
                [
                    graph(
                        "probe: invocations and errors",
                        [
                            probe.function.metric_invocations(period=period, statistic="Sum"),
                            probe.function.metric_errors(period=period, statistic="Sum"),
                            probe.function.metric_throttles(period=period, statistic="Sum"),
                        ],
                    ),
                    graph(
                        "probe: duration",
                        [
                            probe.function.metric_duration(period=period, statistic=stat)
                            for stat in ("p50", "p99", "Maximum")
                        ],
                    ),
                ],
                [
                    graph(
                        f"runbook {name}: started, succeeded, failed",
                        [
                            machine.metric_started(period=period, statistic="Sum"),
                            machine.metric_succeeded(period=period, statistic="Sum"),
                            machine.metric_failed(period=period, statistic="Sum"),
                        ],
                    )
                    for name, machine in runbooks.state_machines.items()
                ],
                *([readiness_row] if readiness_row else []),
            ],
        )
