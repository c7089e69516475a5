"""FerryStack: composes Ferry's constructs; it holds no resources of its own.

Reading this file should tell a newcomer what Ferry deploys and how the parts connect: state and
notifications first (every function needs both), then the layers and functions, then what feeds them
(ingestion, the probe's schedule) and what watches them (monitoring). Adding a function is a FunctionSpec
in cdk/constants.py, a folder under functions/ and one `_build_function` line here.
"""

from __future__ import annotations

from aws_cdk import Duration, Environment, Stack, Tags
from constructs import Construct

from cdk.constants import (
    DECIDE,
    EKS_ENDPOINT,
    ENDPOINTS,
    INGEST,
    PROBE,
    READINESS,
    RUNBOOK_AWAIT,
    RUNBOOK_FENCE,
    RUNBOOK_PLAN,
    RUNBOOK_REHOME,
    RUNBOOK_REPORT,
    RUNBOOK_SHIFT,
    SNAPSHOT_SCHEDULE,
    STACK_DESCRIPTION,
    STS_ENDPOINT,
    TAGS,
    ZONE_OVERRIDE,
    ContextKey,
    FunctionSpec,
)
from cdk.functions import FerryFunction
from cdk.ingestion import FerryIngestion
from cdk.layers import FerryLayers
from cdk.monitoring import FerryMonitoring
from cdk.network import FerryNetwork, Placement
from cdk.notifications import FerryNotifications
from cdk.overrides import FerryOverrides
from cdk.probing import FerryProbing
from cdk.readiness import FerryReadiness
from cdk.registry import FerryRegistry
from cdk.runbooks import FerryRunbooks, RunbookSteps
from cdk.settings import Settings, SettingsError
from cdk.shifts import FerryShifts
from cdk.snapshots import FerrySnapshots
from cdk.state import FerryState
from cdk.supervision import FerryDecisions
from ferry.domain.clusters import ClusterKind


class FerryStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: Settings, placement: Placement | None = None
    ) -> None:
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
        # The member clusters and federated apps of the configuration file, written into the table on deploy.
        self.registry = FerryRegistry(self, "Registry", state=self.state, configuration=settings.configuration)
        self.notifications = FerryNotifications(self, "Notifications", email=settings.notify_email)
        self.layers = FerryLayers(self, "Layers")
        # Inside a VPC (the `vpc` setting, or a cluster's VPC given as `placement`): the functions that talk to
        # clusters reach their private API endpoints (cdk/network.py). Without either, no VPC at all.
        self.network = self._build_network(settings, placement)

        self.ingest = self._build_function("Ingest", INGEST)
        self.ingestion = FerryIngestion(self, "Ingestion", consumer=self.ingest)
        self.probe = self._build_function("Probe", PROBE)
        self.probing = FerryProbing(self, "Probing", probe=self.probe, interval_minutes=settings.probe_interval_minutes)

        # Re-homing (docs/REHOMING.md): the runbooks' steps and state machines; the detector (ingest and the
        # probe) hands off to them; the snapshot schedule keeps pets' data within their RPO beforehand.
        self.runbooks = FerryRunbooks(
            self,
            "Runbooks",
            steps=RunbookSteps(
                plan=self._build_function("RunbookPlan", RUNBOOK_PLAN),
                fence=self._build_function("RunbookFence", RUNBOOK_FENCE),
                rehome=self._build_function("RunbookRehome", RUNBOOK_REHOME),
                report=self._build_function("RunbookReport", RUNBOOK_REPORT),
                await_=self._build_function("RunbookAwait", RUNBOOK_AWAIT),
                decision_timeout=Duration.seconds(settings.decision_timeout_seconds),
            ),
        )
        # Federated replicas: ShiftReplicas and FailoverCluster (the detector's hand-off at control plane DOWN).
        self.shifts = FerryShifts(
            self, "Shifts", runbooks=self.runbooks, function=self._build_function("RunbookShift", RUNBOOK_SHIFT)
        )
        self.runbooks.allow_to_start(self.ingest, on_warnings=True)  # node warnings arrive as events only
        self.runbooks.allow_to_start(self.probe)
        # Operator overrides: a person's word on a zone (SetZone), decided by the detector like any signal.
        self.overrides = FerryOverrides(
            self, "Overrides", runbooks=self.runbooks, function=self._build_function("ZoneOverride", ZONE_OVERRIDE)
        )
        # Supervised mode: a person's decision on a paused run (ferry-Decide), sent as the run's task token.
        self.decisions = FerryDecisions(
            self,
            "Decisions",
            runbooks=self.runbooks,
            function=self._build_function("Decide", DECIDE),
            timeout_seconds=settings.decision_timeout_seconds,
            on_timeout=settings.on_decision_timeout,
        )
        # Readiness: "what if zone X failed now", daily and by hand, changing nothing.
        self.readiness = FerryReadiness(
            self,
            "ReadinessRuns",
            runbooks=self.runbooks,
            function=self._build_function("Readiness", READINESS),
            hour_utc=settings.readiness_hour_utc,
        )
        self.snapshot_schedule = self._build_function("SnapshotSchedule", SNAPSHOT_SCHEDULE)
        self.snapshots = FerrySnapshots(self, "Snapshots", function=self.snapshot_schedule)

        if self.network is not None:
            self.network.allow([f.role for f in self.functions if f.network is not None])

        self.monitoring = FerryMonitoring(
            self,
            "Monitoring",
            topic=self.notifications.topic,
            functions=self.functions,
            ingestion=self.ingestion,
            probe=self.probe,
            runbooks=self.runbooks,
            readiness=self.readiness.state_machine,
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
            network=self.network,
        )
        self.functions.append(function)
        return function

    def _build_network(self, settings: Settings, placement: Placement | None) -> FerryNetwork | None:
        if placement is None and settings.vpc is not None:
            placement = Placement.imported(self, settings.vpc)
        if placement is None:
            return None
        if settings.dynamodb_prefix_list is None:
            raise SettingsError(f"context '{ContextKey.DYNAMODB_PREFIX_LIST}' is required when Ferry runs in a VPC")
        eks = [c for c in settings.configuration.clusters if c.kind is ClusterKind.EKS]
        elsewhere = sorted(c.name for c in eks if c.region != settings.region)
        if elsewhere:
            # The EKS endpoint is this region's, and botocore sends every region's EKS calls to it.
            raise SettingsError(
                f"EKS clusters {', '.join(elsewhere)} are not in {settings.region}: inside a VPC Ferry reaches EKS "
                "through this region's endpoint only"
            )
        extra = (EKS_ENDPOINT,) if eks else ()
        if any(c.eks_role_arn for c in eks):
            extra += (STS_ENDPOINT,)
        return FerryNetwork(
            self,
            "Network",
            placement=placement,
            dynamodb_prefix_list=settings.dynamodb_prefix_list,
            table_arn=self.state.table.table_arn,
            endpoints=(*ENDPOINTS, *extra),
            eks_apis=bool(eks),
        )
