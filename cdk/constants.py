"""Names and tunables of Ferry's infrastructure, in one place.

A reviewer should be able to answer "how long is the timeout?", "what is the alarm called?" or "which
context key switches act mode on?" from this module alone; the constructs only read from here. Paths are
absolute (derived from the repository root) so the app synthesizes the same from any working directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

# Tags, name prefixes and the runbooks' retry policy are shared with the Ferry package (IAM conditions on what
# its code writes): they live there, in one pure module, and only derived values are made here.
from ferry.domain import conventions

# --- where things are --------------------------------------------------------------------------------
REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
LAYERS_DIR = REPO_ROOT / "layers"
# Local bundles (pip installs per requirements hash) are cached here between synths; see cdk/bundling.py.
BUILD_DIR = REPO_ROOT / ".build"
CDK_JSON = REPO_ROOT / "cdk.json"
# The member clusters and federated apps that `cdk deploy` writes into the registry (ferry.domain.configuration).
DEFAULT_CONFIG = REPO_ROOT / "ferry.yaml"
DEFAULT_OUTDIR = REPO_ROOT / "cdk.out"

# --- the app -----------------------------------------------------------------------------------------
STACK_ID = "Ferry"
STACK_DESCRIPTION = "Ferry: keeps Kubernetes workloads alive through AZ, node and control-plane failures"
# Synth must work offline and without credentials: an explicit environment avoids the CLI's lookup.
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
NAME_PREFIX = conventions.NAME_PREFIX
TAGS = {conventions.MANAGED_TAG: conventions.MANAGED_VALUE}


class ContextKey:
    """The `-c key=value` settings the app reads (all optional)."""

    ACCOUNT = "account"
    REGION = "region"
    MODE = "mode"
    NOTIFY_EMAIL = "notifyEmail"
    LOG_LEVEL = "logLevel"
    PROBE_INTERVAL_MINUTES = "probeIntervalMinutes"
    CONFIG = "config"  # the configuration file (clusters, federated apps); relative paths from the repository
    VPC = "vpc"  # Ferry inside a VPC (docs/NETWORK.md): {"id", "cidr", "subnets": [{"id", "zone", "routeTable"}]}
    DYNAMODB_PREFIX_LIST = "dynamodbPrefixList"  # with `vpc`: the region's com.amazonaws.<region>.dynamodb list
    # Supervised mode (docs/SUPERVISED.md): how long a paused run waits for a decision, and what it does then.
    DECISION_TIMEOUT_SECONDS = "decisionTimeoutSeconds"
    ON_DECISION_TIMEOUT = "onDecisionTimeout"
    READINESS_HOUR_UTC = "readinessHourUtc"  # the hour (UTC) the daily ferry-Readiness run starts


MODES = ("observe", "supervised", "act")
ON_DECISION_TIMEOUT_CHOICES = ("abort", "proceed")
DEFAULT_ON_DECISION_TIMEOUT = "abort"  # nobody decided: nothing changes
DEFAULT_MODE = "observe"  # DESIGN.md invariant 6: a fresh deployment only observes.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL = "INFO"
# The probe is the fast voice of detection (issue 4: IMPAIRED within three probe periods); an hour is the
# longest period at which it still says anything useful.
DEFAULT_PROBE_INTERVAL_MINUTES = 1
PROBE_INTERVAL_RANGE = (1, 60)
# The daily readiness answer ("what if zone X failed now"), before the working day of most teams in the region.
DEFAULT_READINESS_HOUR_UTC = 6
READINESS_HOUR_RANGE = (0, 23)

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
    # False for Step Functions steps: they raise errors on purpose (StepPending, Throttled...) for the state
    # machine to retry, so their Errors metric counts retries, not failures. The state machines' failed runs
    # are alarmed on instead (cdk/monitoring.py); throttles are alarmed on for every function.
    alarm_on_errors: bool = True

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
# The EC2 reads that map instances to zones and clusters, and EBS volumes to their snapshots.
_INSTANCE_READS = ("ec2:DescribeInstances", "ec2:DescribeAvailabilityZones")
_EBS_READS = ("ec2:DescribeVolumes", "ec2:DescribeSnapshots")
PROBE = FunctionSpec(
    name="probe",
    description="Every minute: node readiness, leases and /readyz of every registered cluster, as signals",
    memory_mb=512,
    timeout=Duration.seconds(60),
    kubernetes=True,
    # ferry.services.probe: the nodes' instance states per zone (one batched call), and zone names.
    unscoped_reads=_INSTANCE_READS,
)
# The re-homing steps (docs/REHOMING.md). Their timeouts stay under the step lock's lease (the Ferry
# package's FERRY_STEP_LOCK_SECONDS, default 180 s): a pet's lock held by an invocation that died is taken
# over only after the lease, so a lease shorter than the timeout would let two invocations work on one pet.
RUNBOOK_PLAN = FunctionSpec(
    name="runbook-plan",
    description="Runbooks, first step: validate the input, read the clusters, plan and journal the plan",
    memory_mb=1024,  # a zone of 300 nodes and 200 pets, read from every cluster at once
    timeout=Duration.seconds(120),
    kubernetes=True,
    # ferry.services.reading: the nodes' instances, the pets' volumes and their snapshots.
    unscoped_reads=("ec2:DescribeInstances", *_EBS_READS),
    alarm_on_errors=False,
)
RUNBOOK_FENCE = FunctionSpec(
    name="runbook-fence",
    description="Runbooks, per node: confirm or force the instance stopped, cordon, free the pets' identities",
    memory_mb=512,
    timeout=Duration.seconds(120),  # the fence waits up to FERRY_FENCE_WAIT_SECONDS (default 60 s) for EC2
    kubernetes=True,
    unscoped_reads=("ec2:DescribeInstances",),  # a node's steps only ask EC2 about its instance
    alarm_on_errors=False,
)
RUNBOOK_REHOME = FunctionSpec(
    name="runbook-rehome",
    description="Runbooks, per pet: restore or re-provision its volume in a healthy zone and bring it back",
    memory_mb=512,
    timeout=Duration.seconds(120),
    kubernetes=True,
    # It re-checks (or retries) its node's fence before forcing anything, then works on volumes and snapshots.
    unscoped_reads=("ec2:DescribeInstances", *_EBS_READS),
    alarm_on_errors=False,
)
RUNBOOK_REPORT = FunctionSpec(
    name="runbook-report",
    description="Runbooks, last step and catch-all: the run's report, audited and sent to operators",
    memory_mb=256,
    timeout=Duration.seconds(30),
    alarm_on_errors=False,
)
SNAPSHOT_SCHEDULE = FunctionSpec(
    name="snapshot-schedule",
    description="Every 5 minutes: snapshot pets' EBS volumes within their RPO, prune the schedule's own",
    memory_mb=512,
    # Under the schedule's period, so that two runs never overlap (both would snapshot the same volume).
    timeout=Duration.seconds(240),
    kubernetes=True,
    unscoped_reads=_EBS_READS,
)
# Operator overrides (cdk/overrides.py): the one step of ferry-SetZone, a person's word on a zone.
ZONE_OVERRIDE = FunctionSpec(
    name="zone-override",
    description="SetZone: a person marks a zone healthy or holds it impaired, audited, decided as a signal",
    memory_mb=256,
    timeout=Duration.seconds(30),
)
SET_ZONE_MACHINE = "SetZone"  # ferry-SetZone; the Runbook of the same name in ferry.domain.runbooks
# Supervised mode (cdk/supervision.py): the pause in the runbooks that pause, and ferry-Decide's one step.
RUNBOOK_AWAIT = FunctionSpec(
    name="runbook-await",
    description="Supervised runs: record the paused run's task token and plan, tell how to decide; apply a timeout",
    memory_mb=256,
    timeout=Duration.seconds(30),
    alarm_on_errors=False,  # DecisionTimedOut (onTimeout abort) is raised on purpose, for the state machine
)
DECIDE = FunctionSpec(
    name="decide",
    description="Decide: a person approves or rejects a paused run, checked, audited, sent as its task token",
    memory_mb=256,
    timeout=Duration.seconds(30),
)
DECIDE_MACHINE = "Decide"  # ferry-Decide; the Runbook of the same name in ferry.domain.runbooks
# Readiness (cdk/readiness.py): the one step of ferry-Readiness, "what if zone X failed now", changing nothing.
READINESS = FunctionSpec(
    name="readiness",
    description="Readiness: what losing each zone now would do, per pet, app and zone; changes nothing",
    memory_mb=1024,  # every cluster read at once: 10 clusters of 300 nodes and 200 pets
    timeout=Duration.seconds(120),
    kubernetes=True,
    # ferry.services.reading: every node's instance (with its tags), every pet's volumes and snapshots.
    unscoped_reads=("ec2:DescribeInstances", *_EBS_READS),
)
READINESS_MACHINE = "Readiness"  # ferry-Readiness; the Runbook of the same name in ferry.domain.runbooks
METRIC_READINESS_GRADE = "ReadinessGrade"  # EMF, dimension "zone": 0 ready, 1 at-risk, 2 not-ready
METRIC_READINESS_FINDINGS = "ReadinessFindings"  # EMF, dimension "kind"
# Federated replicas (cdk/shifts.py): every Task of ShiftReplicas and FailoverCluster. Its plan reads each member's
# Deployment of each app (one GET per app and cluster: 100 apps over 4 clusters is 400 short calls).
RUNBOOK_SHIFT = FunctionSpec(
    name="runbook-shift",
    description="Federated replicas: plan a shift, scale up, check availability, scale down, report",
    memory_mb=512,
    timeout=Duration.seconds(120),
    kubernetes=True,
    alarm_on_errors=False,
)
SHIFT_REPLICAS_MACHINE = "ShiftReplicas"  # by hand, or as a stage
FAILOVER_CLUSTER_MACHINE = "FailoverCluster"  # the detector's hand-off at control plane DOWN
FAILBACK_CLUSTER_MACHINE = "FailbackCluster"  # by hand (planned: the detector's hand-off after the hold-down)
# Between two steps of a failback: the returned replicas serve a while before the next quarter comes back.
FAILBACK_STEP_WAIT = Duration.seconds(60)
# Apps scaled at once by each Map (each app's step calls every member it scales, one after the other).
SHIFT_CONCURRENCY = 10
# The Wait between two looks at the scale-ups' availability; the step gives up after FERRY_SHIFT_AVAILABLE_SECONDS.
SHIFT_POLL = Duration.seconds(10)
# Every function of the stack; tests check each one's limits (e.g. unzipped size) against this list.
FUNCTIONS = (
    INGEST,
    PROBE,
    RUNBOOK_PLAN,
    RUNBOOK_FENCE,
    RUNBOOK_REHOME,
    RUNBOOK_REPORT,
    SNAPSHOT_SCHEDULE,
    ZONE_OVERRIDE,
    RUNBOOK_AWAIT,
    DECIDE,
    READINESS,
    RUNBOOK_SHIFT,
)


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
ALARM_NAME_PREFIX = conventions.OWNED_ALARM_PREFIX  # CONVENTIONS.md: only alarms with this prefix are Ferry's own

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

# --- probing -----------------------------------------------------------------------------------------
# Cluster credentials (self-managed clusters: token and CA) live in Secrets Manager under this prefix; every
# function that talks to clusters may read them, and no other secret (cdk/grants.py).
CLUSTER_SECRET_PREFIX = conventions.SECRET_PREFIX
METRIC_API_HEALTHY = "ApiHealthy"  # EMF, dimension "cluster"; 1 or 0 per probe round
METRIC_NODES_NOT_READY = "NodesNotReady"  # EMF, dimensions "cluster" and "zone"
METRIC_LEASE_AGE_MAX = "LeaseAgeMax"  # EMF, seconds, dimensions "cluster" and "zone"
# EMF, dimension "subject" (open-ended): emitted by ferry.executor when the detector refuses to act because
# too many zones look broken at once (DESIGN.md, static stability).
METRIC_STATIC_STABILITY_HOLD = "StaticStabilityHold"
STATIC_STABILITY_ALARM = "static-stability"

# --- network (docs/NETWORK.md) -------------------------------------------------------------------------
KUBERNETES_API_PORT = 6443  # kube-apiserver behind its load balancer, and each control-plane member's
HTTPS_PORT = 443  # the VPC endpoints
# Lambda must have a network interface in at least two zones to survive a zone; Ferry exists for that case.
MIN_VPC_ZONES = 2


@dataclass(frozen=True)
class EndpointSpec:
    """An AWS API the in-VPC functions call, reached through a VPC endpoint of this VPC.

    `actions` is exactly what the in-VPC functions' roles are granted on that service (the endpoint's policy
    allows those roles those actions and nothing else; tests/infrastructure/test_cdk_network.py checks both
    directions). `endpoint_url_setting` is the variable botocore reads for that service's endpoint
    (`AWS_ENDPOINT_URL_<service id>`): interface endpoints are made without private DNS, so the functions are
    pointed at them by name and nothing else in the VPC changes route. None for DynamoDB's gateway endpoint,
    which works on the public name through the subnets' route tables.
    """

    construct_id: str
    service: str  # the endpoint service's last part: com.amazonaws.<region>.<service>
    actions: tuple[str, ...]
    endpoint_url_setting: str | None


ENDPOINTS = (
    EndpointSpec(
        "Ec2",
        "ec2",
        (
            # the probe, the runbooks and the schedule: instances (zones, fencing), volumes and snapshots
            "ec2:DescribeInstances",
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeVolumes",
            "ec2:DescribeSnapshots",
            "ec2:StopInstances",
            "ec2:CreateTags",
            "ec2:CreateVolume",
            "ec2:CreateSnapshot",
            "ec2:DeleteSnapshot",
        ),
        "AWS_ENDPOINT_URL_EC2",
    ),
    # Cluster credentials (ferry.adapters.kube.credentials_for); EKS tokens are presigned offline, no STS call.
    EndpointSpec(
        "SecretsManager", "secretsmanager", ("secretsmanager:GetSecretValue",), "AWS_ENDPOINT_URL_SECRETS_MANAGER"
    ),
    EndpointSpec("Sns", "sns", ("sns:Publish",), "AWS_ENDPOINT_URL_SNS"),  # notifications and reports
    EndpointSpec("StepFunctions", "states", ("states:StartExecution",), "AWS_ENDPOINT_URL_SFN"),  # the probe's handoffs
    # DrainNode completes an Auto Scaling terminate hook (ferry.adapters.lifecycle).
    EndpointSpec(
        "AutoScaling", "autoscaling", ("autoscaling:CompleteLifecycleAction",), "AWS_ENDPOINT_URL_AUTO_SCALING"
    ),
)
# Only with EKS clusters in the configuration file (ferry.adapters.eks): their endpoint and CA; and with an
# `eks_role_arn`, the role their tokens are signed as. The token itself is presigned offline (no STS call).
EKS_ENDPOINT = EndpointSpec("Eks", "eks", ("eks:DescribeCluster",), "AWS_ENDPOINT_URL_EKS")
STS_ENDPOINT = EndpointSpec("Sts", "sts", ("sts:AssumeRole",), "AWS_ENDPOINT_URL_STS")
# DynamoDB (the state table) is reached through a gateway endpoint; its actions are cdk/state.py's TABLE_ACTIONS.

# --- self-managed clusters (cdk/clusters.py, docs/CLUSTERS.md) ------------------------------------------
BOOTSTRAP_SCRIPT = REPO_ROOT / "deploy" / "cluster" / "bootstrap-node.sh"  # every node's user data
CLUSTER_PARAMETER_PATH = f"/{NAME_PREFIX}/clusters"  # SSM: /ferry/clusters/<cluster>/<setting>
ETCD_PORTS = (2379, 2380)  # etcd clients and peers, between control-plane members only
KUBELET_PORT = 10250
VXLAN_PORT = 4789  # the pod network's overlay (Calico in VXLAN mode), between every pair of nodes
# A launching node waits for Ferry to see it Ready (bootstrap-node.sh waits up to 15 minutes for its join
# material, then kubeadm); a terminating one for DrainNode, whose deadline is 5 minutes.
LAUNCH_HOOK_TIMEOUT = Duration.minutes(30)
TERMINATE_HOOK_TIMEOUT = Duration.minutes(10)
ETCD_BACKUP_RETENTION = Duration.days(30)
ETCD_BACKUP_MINUTES_RANGE = (5, 60)  # the snapshot interval: each is a full copy of etcd
ETCD_SNAPSHOT_PREFIX = "snapshots/"  # s3://<backups>/snapshots/<UTC time>-<instance>.db (bootstrap-node.sh)


class ExampleClusterKey:
    """Context of the example cluster stack (cdk/app.py): nothing of it is built without EXAMPLE_CLUSTER."""

    EXAMPLE_CLUSTER = "exampleCluster"  # the cluster's name
    PACKAGE_REPOSITORY = "clusterPackageRepository"
    AMI_PARAMETER = "clusterAmiParameter"


# Amazon Linux 2023 (dnf, containerd in its repositories): the public SSM parameter of its newest AMI.
DEFAULT_CLUSTER_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
DEFAULT_KUBERNETES_VERSION = "1.31.4"

# --- runbooks (Step Functions) -----------------------------------------------------------------------


@dataclass(frozen=True)
class NodeStep:
    """What a runbook does to its planned nodes, named as it is: its Map, the Map's Task (the node step,
    `runbook-fence`, which carries out whatever the node's plan holds) and the Pass state that reports a node
    whose step kept failing, with the words that report says."""

    map_state: str
    task: str
    not_done: str
    failure: str  # the reason's first words: "<failure>: <Error> (<Cause>)"
    map_comment: str
    task_comment: str


FENCE_NODES = NodeStep(
    map_state="FenceNodes",
    task="Fence",
    not_done="NodeNotFenced",
    failure="the fence step failed",
    map_comment="Fence each planned node and free its pets' identities, a few at a time",
    task_comment="Confirm or force the instance stopped, cordon, free",
)
DRAIN_NODES = NodeStep(
    map_state="DrainNodes",
    task="Drain",
    not_done="NodeNotDrained",
    failure="the drain step failed",
    map_comment="Drain the warned node: cordon it and evict its pods through their budgets; nothing is fenced",
    task_comment="Cordon, evict each pod through the Eviction API until the deadline, complete a terminate hook",
)


@dataclass(frozen=True)
class RunbookSpec:
    """One runbook state machine (docs/REHOMING.md): Plan, fence or drain the nodes, maybe re-home pets, Report."""

    name: str  # the runbook's name in ferry.domain.runbooks.Runbook, and the state machine is ferry-<name>
    description: str
    rehomes_pets: bool  # EvacuateZone and RehomePet move pets; FenceNode only fences and frees
    node_step: NodeStep = FENCE_NODES  # DrainNode drains its node instead
    # Started by the detector (a ferry.domain.detection Handoff): ingest and probe get its ARN and may start it.
    handoff: bool = False
    # Started by ingest on a node warning (ferry.domain.reactions.drain_request): ingest alone gets its ARN.
    started_on_warning: bool = False

    @property
    def state_machine_name(self) -> str:
        return f"{NAME_PREFIX}-{self.name}"

    @property
    def arn_setting(self) -> str:
        return arn_setting(self.name)


def arn_setting(runbook: str) -> str:
    """The variable holding a state machine's ARN, as ferry.domain.runbooks.arn_setting names it (the CDK app does
    not load that module): FERRY_SM_EVACUATE_ZONE."""
    return "FERRY_SM_" + re.sub(r"(?<!^)(?=[A-Z])", "_", runbook).upper()


EVACUATE_ZONE = RunbookSpec(
    name="EvacuateZone",
    description="Fence an impaired zone's nodes and re-home its pets to healthy zones",
    rehomes_pets=True,
    handoff=True,
)
REHOME_PET = RunbookSpec(
    name="RehomePet",
    description="Move one StatefulSet pod, with its data, to a healthy zone",
    rehomes_pets=True,
)
FENCE_NODE = RunbookSpec(
    name="FenceNode",
    description="Fence one lost node and free its pets' identities",
    rehomes_pets=False,
)
DRAIN_NODE = RunbookSpec(
    name="DrainNode",
    description="Cordon a warned node and evict its pods through PodDisruptionBudgets before its deadline",
    rehomes_pets=False,
    node_step=DRAIN_NODES,
    started_on_warning=True,
)
# Failback (ferry.domain.rehoming.failback): on the same steps; the node step gives each node back.
FAILBACK_ZONE = RunbookSpec(
    name="FailbackZone",
    description="Give a recovered zone's nodes back: lift Ferry's taints and cordons, report pets living away",
    rehomes_pets=False,
    handoff=True,
)
RUNBOOKS = (EVACUATE_ZONE, REHOME_PET, FENCE_NODE, DRAIN_NODE, FAILBACK_ZONE)

# Standard, not Express: an evacuation outlives Express's 5 minutes, and only Standard refuses a second
# execution of the same name, which is what makes two starts of one evacuation start one run.
RUNBOOK_TIMEOUT = Duration.hours(12)  # 200 pets at 10 at a time, each waiting minutes for its volume
FENCE_CONCURRENCY = 5  # instances stopped at once: bounded blast radius (DESIGN.md invariant 3)
DEFAULT_REHOME_CONCURRENCY = 10  # pets re-homed at once unless the input's maxConcurrency says otherwise
# Every Task's retries: ferry.domain.conventions.RUNBOOK_RETRIES (the steps' error names are the package's).
RUNBOOK_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS

# --- snapshots -----------------------------------------------------------------------------------------
SNAPSHOT_PERIOD = Duration.minutes(5)  # the snapshot schedule's rate (the package's FERRY_SNAPSHOT_PERIOD_SECONDS)
