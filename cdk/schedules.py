"""Running a function on a fixed rate, the same way for every scheduled Ferry function.

A scheduled round that fails is not retried: by the time a retry ran, the next round would be due and
would see fresher data, and two rounds at once would only double the load (on clusters that may be
struggling, or on EBS). Errors are alarmed on instead (cdk/monitoring.py).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from cdk.functions import FerryFunction

# EventBridge and Lambda accept no shorter maximum event age than a minute.
_MIN_EVENT_AGE = Duration.minutes(1)
# Delivery of the event to Lambda (not the function's own failures) may be retried within the same period.
_DELIVERY_RETRIES = 2


def schedule_function(
    scope: Construct, construct_id: str, *, function: FerryFunction, every: Duration, description: str
) -> events.Rule:
    """A rule running `function` every `every`; an invocation older than one period is dropped, not retried."""
    max_age = Duration.seconds(max(every.to_seconds(), _MIN_EVENT_AGE.to_seconds()))
    function.function.configure_async_invoke(retry_attempts=0, max_event_age=max_age)
    rule = events.Rule(scope, construct_id, description=description, schedule=events.Schedule.rate(every))
    rule.add_target(targets.LambdaFunction(function.function, max_event_age=max_age, retry_attempts=_DELIVERY_RETRIES))
    return rule
