"""Probing: the schedule that runs the probe, Ferry's own look at every registered cluster.

AWS events say little and late about a zone whose nodes merely stop answering; the probe reads node
readiness, leases and `/readyz` itself, every minute by default (`-c probeIntervalMinutes=N`, 1-60), so that
probes alone make a dead zone IMPAIRED within three periods (issue 4). What the probe may read (cluster
credentials, EC2 instance states) comes with its FunctionSpec (cdk/constants.py); its metrics are on the
dashboard and its errors alarmed on (cdk/monitoring.py).
"""

from __future__ import annotations

from aws_cdk import Duration
from constructs import Construct

from cdk.functions import FerryFunction
from cdk.schedules import schedule_function


class FerryProbing(Construct):
    """The probe's schedule."""

    def __init__(self, scope: Construct, construct_id: str, *, probe: FerryFunction, interval_minutes: int) -> None:
        super().__init__(scope, construct_id)
        self.interval = Duration.minutes(interval_minutes)
        self.rule = schedule_function(
            self,
            "Schedule",
            function=probe,
            every=self.interval,
            description=f"Runs {probe.spec.function_name} every {interval_minutes} minute(s)",
        )
