"""Names and tunables of Ferry's infrastructure, in one place.

A reviewer should be able to answer "how long is the timeout?", "what is the alarm called?" or "which
context key switches act mode on?" from this module alone; the constructs only read from here. Paths are
absolute (derived from the repository root) so the app synthesizes the same from any working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

# --- where things are --------------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYERS_DIR = REPO_ROOT / "layers"
# Local bundles (pip installs per requirements hash) are cached here between synths; see cdk/bundling.py.
BUILD_DIR = REPO_ROOT / ".build"
CDK_JSON = REPO_ROOT / "cdk.json"
DEFAULT_OUTDIR = REPO_ROOT / "cdk.out"

# --- the app -----------------------------------------------------------------------------------------
STACK_ID = "Ferry"
STACK_DESCRIPTION = "Ferry: keeps Kubernetes workloads alive through AZ, node and control-plane failures"
# Synth must work offline and without credentials: an explicit environment avoids the CLI's lookup.
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
NAME_PREFIX = "ferry"
TAGS = {"ferry:managed": "true"}


class ContextKey:
    """The `-c key=value` settings the app reads (all optional)."""

    ACCOUNT = "account"
    REGION = "region"
    MODE = "mode"
    NOTIFY_EMAIL = "notifyEmail"
    LOG_LEVEL = "logLevel"


MODES = ("observe", "act")
DEFAULT_MODE = "observe"  # DESIGN.md invariant 6: a fresh deployment only observes.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL = "INFO"

# --- Lambda ------------------------------------------------------------------------------------------
# 3.12, not the newest runtime: the pinned dependencies and the precompiled bytecode are built for it
# (cdk/bundling.py), and the test suite runs on it.
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64  # Graviton: cheaper per GB-second; every pinned wheel has aarch64
HANDLER = "handler.handler"
SERVICE_NAME = NAME_PREFIX
METRICS_NAMESPACE = "Ferry"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Log groups have explicit names (/aws/lambda/ferry-<fn>): a retained one would block the next deployment
# of the same stack with "already exists", and the audit trail Ferry owes lives in DynamoDB, not in logs.
LOG_REMOVAL_POLICY = RemovalPolicy.DESTROY
# Lambda's hard limit on a function's unzipped code plus all of its layers.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between Ferry's functions; everything else is the same for all of them."""

    name: str  # folder under functions/, and the function is called ferry-<name>
    description: str
    memory_mb: int
    timeout: Duration
    kubernetes: bool = False  # only functions that talk to clusters get the (large) kubernetes layer
    reserved_concurrency: int | None = None
    # Read-only calls that AWS cannot scope to a resource (ec2:Describe*), granted on "*" in a policy of their
    # own, limited to the stack's region, and acknowledged there; only Describe/Get/List actions are accepted.
    unscoped_reads: tuple[str, ...] = ()

    @property
    def function_name(self) -> str:
        return f"{NAME_PREFIX}-{self.name}"


INGEST = FunctionSpec(
    name="ingest",
    description="Translates AWS events from the ingestion queue into Ferry signals",
    memory_mb=256,
    timeout=Duration.seconds(30),
    # ferry.adapters.ec2.InstanceDirectory: an instance's zone and cluster tags (EC2 events name only the
    # instance) and the zone-id -> zone-name map (ARC events speak zone ids).
    unscoped_reads=("ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"),
)
# Every function of the stack; tests check each one's limits (e.g. unzipped size) against this list.
FUNCTIONS = (INGEST,)


@dataclass(frozen=True)
class LayerSpec:
    """A Lambda layer: either a source folder copied as is (`python/...` inside) or a requirements file."""

    name: str
    description: str
    source: Path  # the asset folder; for pip layers, the folder holding requirements.txt
    pip: bool  # True: pip install -r <source>/requirements.txt; False: copy <source> as it is
    no_deps: bool = False

    @property
    def requirements(self) -> Path:
        return self.source / "requirements.txt"


FERRY_LAYER = LayerSpec(
    name="ferry",
    description="Ferry's own package (domain, planners, adapters)",
    source=LAYERS_DIR / "ferry",
    pip=False,
)
DEPS_LAYER = LayerSpec(
    name="deps",
    description="Pinned third-party runtime dependencies every Ferry function uses",
    source=LAYERS_DIR / "deps",
    pip=True,
)
# --no-deps: its transitive dependencies are pinned in its requirements file, or come from the deps layer.
KUBERNETES_LAYER = LayerSpec(
    name="kubernetes",
    description="The official Kubernetes client, for the functions that talk to clusters",
    source=LAYERS_DIR / "kubernetes",
    pip=True,
    no_deps=True,
)

# --- ingestion ---------------------------------------------------------------------------------------
# SQS -> Lambda: AWS recommends a visibility timeout of at least 6x the function timeout (plus the batching
# window) so that retries of a throttled batch do not make messages visible again while still in flight.
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_RECEIVE_COUNT = 3  # then the message goes to the DLQ: malformed events must not loop forever
BATCH_SIZE = 10
MAX_BATCHING_WINDOW = Duration.seconds(1)  # small: a zonal event should reach the detector within seconds
QUEUE_RETENTION = Duration.days(4)
DLQ_RETENTION = Duration.days(14)  # the maximum, to leave time to inspect and redrive
ALARM_NAME_PREFIX = f"{NAME_PREFIX}-"  # CONVENTIONS.md: only alarms with this prefix are Ferry's own

HEALTH_SERVICES = ("EC2", "EBS", "ELASTICLOADBALANCING")
# A node's instance leaving "running" is what matters to Ferry (fencing is confirmed by stopped/terminated);
# every other transition of every instance in the account would only cost invocations.
INSTANCE_STATES = ("stopping", "stopped", "shutting-down", "terminated")

# --- state -------------------------------------------------------------------------------------------
PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expires_at"

# --- monitoring --------------------------------------------------------------------------------------
DASHBOARD_NAME = "Ferry"
ALARM_PERIOD = Duration.minutes(1)
DASHBOARD_PERIOD = Duration.minutes(5)
METRIC_SIGNALS_TRANSLATED = "SignalsTranslated"  # EMF, dimension "kind"
METRIC_EVENTS_SKIPPED = "EventsSkipped"  # EMF, dimension "reason"
