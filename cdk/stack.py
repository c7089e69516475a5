"""FerryStack: composes Ferry's constructs; it holds no resources of its own.

Reading this file should tell a newcomer what Ferry deploys and how the parts connect: state and
notifications first (every function needs both), then the layers and functions, then what feeds them
(ingestion, the probe's schedule) and what watches them (monitoring). Adding a function is a FunctionSpec
in cdk/constants.py, a folder under functions/ and one `_build_function` line here.
"""

from __future__ import annotations

from aws_cdk import Environment, Stack, Tags
from constructs import Construct

from cdk.constants import INGEST, PROBE, STACK_DESCRIPTION, TAGS, FunctionSpec
from cdk.functions import FerryFunction
from cdk.ingestion import FerryIngestion
from cdk.layers import FerryLayers
from cdk.monitoring import FerryMonitoring
from cdk.notifications import FerryNotifications
from cdk.probing import FerryProbing
from cdk.settings import Settings
from cdk.state import FerryState


class FerryStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(
            scope,
            construct_id,
            env=Environment(account=settings.account, region=settings.region),
            description=STACK_DESCRIPTION,
        )
        for key, value in TAGS.items():
            Tags.of(self).add(key, value)
        self.settings = settings
        self.functions: list[FerryFunction] = []

        self.state = FerryState(self, "State")
        self.notifications = FerryNotifications(self, "Notifications", email=settings.notify_email)
        self.layers = FerryLayers(self, "Layers")

        self.ingest = self._build_function("Ingest", INGEST)
        self.ingestion = FerryIngestion(self, "Ingestion", consumer=self.ingest)
        self.probe = self._build_function("Probe", PROBE)
        self.probing = FerryProbing(self, "Probing", probe=self.probe, interval_minutes=settings.probe_interval_minutes)

        self.monitoring = FerryMonitoring(
            self,
            "Monitoring",
            topic=self.notifications.topic,
            functions=self.functions,
            ingestion=self.ingestion,
            probe=self.probe,
        )

    def _build_function(self, construct_id: str, spec: FunctionSpec) -> FerryFunction:
        function = FerryFunction(
            self,
            construct_id,
            spec=spec,
            settings=self.settings,
            layers=self.layers,
            state=self.state,
            notifications=self.notifications,
        )
        self.functions.append(function)
        return function
