"""The AWS half of the sandbox: moto as a real HTTP server, with a fault-injecting proxy in front of it.

Ferry's code talks to AWS through boto3 clients configured by endpoint only (`AWS_ENDPOINT_URL`), exactly as
in production; here that endpoint is a small stdlib reverse proxy on 127.0.0.1 that forwards every request
to a `moto.server.ThreadedMotoServer`. The proxy exists because moto cannot fail: when a zone is marked
failing, EC2 requests that concern that zone's instances, volumes or subnets (or every EC2 request, if
chosen) get the error a real EC2 endpoint sends (`Unavailable`/503 or `InternalError`/500, EC2 XML), and
Ferry cannot tell the difference.

The sandbox's own set-up and staging (seeding instances, stopping a zone, reading the inventory) go straight
to moto, so a staged EC2 fault never gets in the way of staging the next step.

moto's backends are global to the process, so each `AwsSandbox` is its own AWS account: a fresh account id
that the proxy (and the sandbox's own clients) send in moto's `x-moto-account-id` header. Two sandboxes in one
process (a test's world beside a module's) never see each other's tables or instances.
"""

from __future__ import annotations

import copy
import email.utils
import functools
import http.client
import json
import logging
import re
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
ACCOUNT_HEADER = "x-moto-account-id"  # moto keeps one set of backends per account id
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
IMAGE_ID = "ami-12c6146b"  # one of moto's built-in AMIs: looking one up costs seconds
INSTANCE_TYPE = "m6i.large"
VPC_CIDR = "10.0.0.0/16"
EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AwsNames:
    """The names of what Ferry's stack would create, as the sandbox creates them."""

    table: str = "ferry-state"
    topic: str = "ferry-notifications"
    events_queue: str = "ferry-events"
    events_dlq: str = "ferry-events-dlq"
    readback_queue: str = "ferry-notifications-readback"  # subscribed to the topic, so the demo can show them
    max_receive_count: int = 3  # as cdk/constants.py MAX_RECEIVE_COUNT
    visibility_timeout: int = 30


# --- what exists --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instance:
    id: str
    name: str
    cluster: str
    zone: str
    state: str


@dataclass(frozen=True, slots=True)
class Volume:
    id: str
    zone: str
    state: str
    size_gib: int
    snapshot_id: str | None
    tags: Mapping[str, str] = field(hash=False)
    root: bool = False  # an instance's boot volume, deleted with it on termination: not data

    @property
    def pvc(self) -> str | None:
        """`namespace/name` of the claim the EBS CSI driver created it for, if any."""
        name = self.tags.get("kubernetes.io/created-for/pvc/name")
        return f"{self.tags.get('kubernetes.io/created-for/pvc/namespace', 'default')}/{name}" if name else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    id: str
    volume_id: str
    state: str
    tags: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Inventory:
    """What exists in the sandbox account at one moment: the before/after table and the invariants read it."""

    instances: tuple[Instance, ...]
    volumes: tuple[Volume, ...]
    snapshots: tuple[Snapshot, ...]

    def instance_states(self, zone: str) -> Counter[str]:
        return Counter(i.state for i in self.instances if i.zone == zone)

    def data_volume_ids(self) -> frozenset[str]:
        """Volumes that hold data (not boot volumes): the ones Ferry never deletes (docs/ARCHITECTURE.md, rule 2)."""
        return frozenset(v.id for v in self.volumes if not v.root)

    def volume(self, volume_id: str) -> Volume | None:
        return next((v for v in self.volumes if v.id == volume_id), None)


class _TransactionBackups:
    """Stands in for the `copy` module inside moto's DynamoDB backend, to make its transaction backups cheap.

    Before every TransactWriteItems moto deep-copies each table the transaction names, to roll back to if an
    item fails: about 0.17 ms per item, half a second per call once a game day's table holds 3,000 items.
    A transaction of Puts, Deletes and ConditionChecks only replaces or removes whole items (it changes none in
    place), so copying the table's item index restores the same state; a transaction with an Update keeps
    moto's deep copy. Ferry's transactions are Puts and ConditionChecks (ferry.adapters.states)."""

    def __init__(self) -> None:
        self._index_only = threading.local()

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table) and getattr(self._index_only, "on", False):
            backup = copy.copy(value)  # items: {hash: {range: Item}}, or {hash: Item} without a range key
            backup.items = defaultdict(dict, {k: dict(v) if isinstance(v, dict) else v for k, v in value.items.items()})
            return backup
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def install(self) -> None:
        import moto.dynamodb.models as backend

        if isinstance(backend.copy, _TransactionBackups):
            return
        moto_transaction = backend.DynamoDBBackend.transact_write_items

        def transact_write_items(this: Any, transact_items: list[dict[str, Any]]) -> None:
            self._index_only.on = not any("Update" in item for item in transact_items)
            try:
                moto_transaction(this, transact_items)
            finally:
                self._index_only.on = False

        backend.copy = self  # type: ignore[assignment]
        backend.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


@functools.cache
def _session() -> boto3.session.Session:
    """One boto3 session for every world of a process: a session loads each service's model from disk once
    (the EC2 model alone is tens of megabytes of JSON); worlds differ by endpoint, never by credentials."""
    return boto3.session.Session(region_name=REGION, **CREDENTIALS)


def _tags(raw: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or ()}


def _instance(raw: Mapping[str, Any]) -> Instance:
    tags = _tags(raw.get("Tags"))
    return Instance(
        id=raw["InstanceId"],
        name=tags.get("Name", ""),
        cluster=tags.get("ferry:cluster", ""),
        zone=raw["Placement"]["AvailabilityZone"],
        state=raw["State"]["Name"],
    )


def _tag_specs(resource: str, tags: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


# --- the fault proxy ----------------------------------------------------------------------------------------


class Ec2Error(StrEnum):
    """The EC2 error codes the proxy answers with; each carries the HTTP status EC2 uses for it."""

    UNAVAILABLE = "Unavailable"
    INTERNAL_ERROR = "InternalError"

    @property
    def status(self) -> int:
        return 503 if self is Ec2Error.UNAVAILABLE else 500

    @property
    def message(self) -> str:
        if self is Ec2Error.UNAVAILABLE:
            return "The service is unavailable. Please try again shortly."
        return "An internal error has occurred."


class FaultScope(StrEnum):
    ZONE = "zone"  # only requests naming the zone's instances, volumes, subnets or the zone itself
    ALL = "all"  # every EC2 request while the zone is failing


@dataclass(frozen=True, slots=True)
class ZoneFault:
    scope: FaultScope
    error: Ec2Error


@dataclass(frozen=True, slots=True)
class FaultHit:
    zone: str
    fault: ZoneFault
    action: str  # the EC2 Action of the refused request


class ZoneResolver(Protocol):
    def __call__(self, resource_id: str) -> str | None: ...


_SERVICE_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_ID_PARAM = re.compile(r"^(?:.*\.)?(InstanceId|VolumeId|ResourceId|SubnetId)(?:\.\d+)?$")
_ZONE_PARAM = re.compile(r"^(?:Placement\.)?AvailabilityZone$")
_FILTER_NAME = re.compile(r"^Filter\.(\d+)\.Name$")
_ZONAL_FILTERS = frozenset({"availability-zone", "instance-id", "volume-id", "subnet-id", "attachment.instance-id"})
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"})


def ec2_error_body(error: Ec2Error, request_id: str) -> bytes:
    """The XML body a real EC2 endpoint returns for an error (the `ec2` protocol, not the generic query one)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{error.value}</Code><Message>{error.message}</Message></Error></Errors>"
        f"<RequestID>{request_id}</RequestID></Response>"
    ).encode()


def request_service(headers: Mapping[str, str]) -> str | None:
    """The service a SigV4-signed request is for, from its credential scope (all services share one host)."""
    match = _SERVICE_IN_AUTH.search(headers.get("Authorization", ""))
    return match.group(1) if match else None


def zonal_references(params: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """The zones and the resource ids an EC2 query request names, in parameters or in filters."""
    zones: set[str] = set()
    ids: set[str] = set()
    for key, value in params.items():
        if _ZONE_PARAM.match(key):
            zones.add(value)
        elif _ID_PARAM.match(key):
            ids.add(value)
        elif (m := _FILTER_NAME.match(key)) and value in _ZONAL_FILTERS:
            prefix = f"Filter.{m.group(1)}.Value."
            values = {v for k, v in params.items() if k.startswith(prefix)}
            (zones if value == "availability-zone" else ids).update(values)
    return zones, ids


def complete_lifecycle_action_body(request_id: str) -> bytes:
    """What Auto Scaling answers a CompleteLifecycleAction with (the query protocol's empty result)."""
    return (
        '<CompleteLifecycleActionResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">'
        "<CompleteLifecycleActionResult/>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</CompleteLifecycleActionResponse>"
    ).encode()


class FaultProxy:
    """A reverse proxy to moto that answers EC2 requests for failing zones with real EC2 errors.

    It also stands in for the one call Ferry makes that moto lacks, Auto Scaling's CompleteLifecycleAction
    (moto answers it with a 500, which botocore retries): answered as Auto Scaling does, and each call kept in
    `completed_lifecycle_actions` (its parameters) for the tests to read, as the adapter test reads its Stubber.
    """

    def __init__(self, upstream: str, resolve_zone: ZoneResolver, add_headers: Mapping[str, str]) -> None:
        parts = urlsplit(upstream)
        self._add_headers = dict(add_headers)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._resolve_zone = resolve_zone
        self._faults: dict[str, ZoneFault] = {}
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # per service
        self.failed: Counter[str] = Counter()  # per "<zone> <Action>"
        self.completed_lifecycle_actions: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False  # keep-alive connections must not hold up stop()
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def set_fault(self, zone: str, fault: ZoneFault | None) -> None:
        with self._lock:
            if fault is None:
                self._faults.pop(zone, None)
            else:
                self._faults[zone] = fault

    def failing_zones(self) -> dict[str, ZoneFault]:
        with self._lock:
            return dict(self._faults)

    def count(self, service: str | None, hit: FaultHit | None) -> None:
        with self._lock:
            self.requests[service or "?"] += 1
            if hit:
                self.failed[f"{hit.zone} {hit.action}"] += 1

    def fault_for(self, service: str | None, body: bytes) -> FaultHit | None:
        """The fault that applies to this request, if any."""
        faults = self.failing_zones()
        if service != "ec2" or not faults:
            return None
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = params.get("Action", "?")
        zones, ids = zonal_references(params)
        zones |= {z for z in map(self._resolve_zone, ids) if z}
        for zone, fault in faults.items():
            if fault.scope is FaultScope.ALL or zone in zones:
                return FaultHit(zone, fault, action)
        return None

    def stand_in(self, service: str | None, body: bytes) -> bytes | None:
        """The answer to a call moto lacks (recorded), or None to forward the request."""
        if service != "autoscaling":
            return None
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if params.get("Action") != "CompleteLifecycleAction":
            return None
        with self._lock:
            self.completed_lifecycle_actions.append({k: v for k, v in params.items() if k not in ("Action", "Version")})
        return complete_lifecycle_action_body(_rid())

    def _forward(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        local = _upstream_connections
        conn: http.client.HTTPConnection | None = getattr(local, "conn", None)
        for attempt in range(2):  # moto may close an idle keep-alive connection: reconnect once
            if conn is None:
                conn = http.client.HTTPConnection(*self._upstream, timeout=60)
                local.conn = conn
            try:
                conn.request(method, path, body=body, headers=dict(headers))
                resp = conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                conn = local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 120
            # The reply leaves in two writes (headers, then body): with Nagle's algorithm on, the body waits for
            # the client's delayed ACK of the headers, 40 ms on Linux, on every AWS call of the sandbox.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                _log.debug("proxy: " + format, *args)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers.update(proxy._add_headers)
                service = request_service(headers)
                hit = proxy.fault_for(service, body)
                proxy.count(service, hit)
                if hit:
                    error = hit.fault.error
                    self._reply(error.status, [("Content-Type", "text/xml")], ec2_error_body(error, _rid()))
                    return
                if (answer := proxy.stand_in(service, body)) is not None:
                    self._reply(200, [("Content-Type", "text/xml")], answer)
                    return
                try:
                    status, resp_headers, resp_body = proxy._forward(self.command, self.path, headers, body)
                except OSError as exc:
                    self._reply(
                        502, [("Content-Type", "text/plain")], f"sandbox proxy: moto unreachable: {exc}".encode()
                    )
                    return
                self._reply(status, resp_headers, resp_body)

            def _reply(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        return Handler


_upstream_connections = threading.local()


def _rid() -> str:
    return str(uuid.uuid4())


# --- the account --------------------------------------------------------------------------------------------


class EbsProvisioner:
    """The EBS CSI driver's part for one cluster: a `sandbox.kube.VolumeProvisioner` backed by moto.

    It goes through the fault proxy, like the real driver goes through the EC2 API, so a failing zone also
    fails provisioning there.
    """

    def __init__(self, ec2: Any, cluster: str, on_volume: ZoneRecorder | None = None) -> None:
        self._ec2 = ec2
        self._cluster = cluster
        self._on_volume = on_volume

    def create_volume(self, zone: str, size_gib: int, claim: dict[str, Any]) -> str:
        meta = claim.get("metadata", {})
        tags = {
            "kubernetes.io/created-for/pvc/name": meta.get("name", ""),
            "kubernetes.io/created-for/pvc/namespace": meta.get("namespace", "default"),
            f"kubernetes.io/cluster/{self._cluster}": "owned",
            "ebs.csi.aws.com/cluster": "true",
        }
        volume = self._ec2.create_volume(
            AvailabilityZone=zone,
            Size=size_gib,
            VolumeType="gp3",
            TagSpecifications=_tag_specs("volume", tags),
            ClientToken=meta.get("uid") or _rid(),
        )
        if self._on_volume:
            self._on_volume(volume["VolumeId"], zone)
        return str(volume["VolumeId"])

    def delete_volume(self, volume_id: str) -> None:
        self._ec2.delete_volume(VolumeId=volume_id)


class ZoneRecorder(Protocol):
    def __call__(self, resource_id: str, zone: str) -> None: ...


class AwsSandbox:
    """moto on 127.0.0.1 behind the fault proxy, holding what Ferry's stack and the clusters' EC2 side hold.

    `endpoint_url` is what Ferry's clients get (the proxy); `client()` gives the sandbox's own clients, which
    go straight to moto.
    """

    def __init__(self, names: AwsNames | None = None, zones: Iterable[str] = ZONES) -> None:
        self.names = names or AwsNames()
        self.zones = tuple(zones)
        self.account_id = f"{uuid.uuid4().int % 10**12:012d}"
        _TransactionBackups().install()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._proxy: FaultProxy | None = None
        self._session = _session()
        self._clients: dict[tuple[str, bool, int | None], Any] = {}
        self._zone_of: dict[str, str] = {}  # instance, volume and subnet ids -> zone
        self.subnets: dict[str, str] = {}  # zone -> subnet id
        self.vpc_id = ""
        self.topic_arn = ""
        self.queue_urls: dict[str, str] = {}

    # lifecycle

    def start(self) -> AwsSandbox:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server logs every request otherwise
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        self._proxy = FaultProxy(self.moto_url, self.zone_of, {ACCOUNT_HEADER: self.account_id})
        self._proxy.start()
        self._create_network()
        self._create_ferry_resources()
        return self

    def stop(self) -> None:
        if self._proxy:
            self._proxy.stop()
        self._moto.stop()

    def __enter__(self) -> AwsSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        """Where Ferry's clients point: the fault proxy."""
        return self.proxy.url

    @property
    def proxy(self) -> FaultProxy:
        if self._proxy is None:
            raise RuntimeError("AwsSandbox.start() first")
        return self._proxy

    def client(self, service: str, *, through_proxy: bool = False, max_attempts: int | None = None) -> Any:
        """A boto3 client for the sandbox account; straight to moto unless `through_proxy`.

        `max_attempts` counts the first attempt too (botocore's `total_max_attempts`).
        """
        key = (service, through_proxy, max_attempts)
        if key not in self._clients:
            retries = {"total_max_attempts": max_attempts, "mode": "standard"}
            config = Config(retries=retries) if max_attempts else None
            url = self.endpoint_url if through_proxy else self.moto_url
            client = self._session.client(service, endpoint_url=url, config=config)
            client.meta.events.register("before-send", self._add_account_header)
            self._clients[key] = client
        return self._clients[key]

    def _add_account_header(self, request: Any, **_: Any) -> None:
        request.headers[ACCOUNT_HEADER] = self.account_id

    # set-up

    def _create_network(self) -> None:
        ec2 = self.client("ec2")
        self.vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
        for n, zone in enumerate(self.zones):
            subnet = ec2.create_subnet(VpcId=self.vpc_id, CidrBlock=f"10.0.{n * 16}.0/20", AvailabilityZone=zone)
            self.subnets[zone] = subnet["Subnet"]["SubnetId"]
            self.record_zone(self.subnets[zone], zone)

    def _create_ferry_resources(self) -> None:
        names = self.names
        ddb = self.client("dynamodb")
        ddb.create_table(
            TableName=names.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=names.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        sqs = self.client("sqs")
        for queue in (names.events_dlq, names.readback_queue):
            self.queue_urls[queue] = sqs.create_queue(QueueName=queue)["QueueUrl"]
        dlq_arn = self.queue_arn(names.events_dlq)
        redrive = f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{names.max_receive_count}"}}'
        self.queue_urls[names.events_queue] = sqs.create_queue(
            QueueName=names.events_queue,
            Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(names.visibility_timeout)},
        )["QueueUrl"]
        sns = self.client("sns")
        self.topic_arn = sns.create_topic(Name=names.topic)["TopicArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=self.queue_arn(names.readback_queue))

    def queue_arn(self, queue: str) -> str:
        return f"arn:aws:sqs:{REGION}:{self.account_id}:{queue}"

    def record_zone(self, resource_id: str, zone: str) -> None:
        self._zone_of[resource_id] = zone

    def zone_of(self, resource_id: str) -> str | None:
        """The zone of an instance, volume or subnet (the proxy's question); looks up ids it has not seen."""
        if resource_id not in self._zone_of:
            zone = self._lookup_zone(resource_id)
            if zone is None:
                return None
            self._zone_of[resource_id] = zone
        return self._zone_of[resource_id]

    def _lookup_zone(self, resource_id: str) -> str | None:
        ec2 = self.client("ec2")
        try:
            if resource_id.startswith("i-"):
                reservations = ec2.describe_instances(InstanceIds=[resource_id])["Reservations"]
                return str(reservations[0]["Instances"][0]["Placement"]["AvailabilityZone"])
            if resource_id.startswith("vol-"):
                return str(ec2.describe_volumes(VolumeIds=[resource_id])["Volumes"][0]["AvailabilityZone"])
        except Exception:  # an id that does not exist concerns no zone; EC2 itself will say NotFound
            return None
        return None

    # the clusters' EC2 side

    def launch_instance(self, cluster: str, node: str, zone: str, *, control_plane: bool = False) -> str:
        """Run one EC2 instance for a Kubernetes node, tagged as the cluster's tooling tags it."""
        tags = {
            "Name": node,
            "ferry:cluster": cluster,
            f"kubernetes.io/cluster/{cluster}": "owned",
            "ferry:role": "control-plane" if control_plane else "worker",
        }
        reservation = self.client("ec2").run_instances(
            ImageId=IMAGE_ID,
            InstanceType=INSTANCE_TYPE,
            MinCount=1,
            MaxCount=1,
            SubnetId=self.subnets[zone],
            TagSpecifications=_tag_specs("instance", tags),
        )
        instance_id = str(reservation["Instances"][0]["InstanceId"])
        self.record_zone(instance_id, zone)
        return instance_id

    def provisioner(self, cluster: str) -> EbsProvisioner:
        return EbsProvisioner(self.client("ec2", through_proxy=True, max_attempts=2), cluster, self.record_zone)

    def snapshot_volume(self, volume_id: str, tags: Mapping[str, str], description: str = "") -> str:
        snapshot = self.client("ec2").create_snapshot(
            VolumeId=volume_id, Description=description, TagSpecifications=_tag_specs("snapshot", tags)
        )
        return str(snapshot["SnapshotId"])

    def instances(self, *, zone: str | None = None, state: str | None = None) -> list[Instance]:
        """The clusters' instances (tagged `ferry:cluster`), optionally of one zone and state."""
        filters = [{"Name": "tag-key", "Values": ["ferry:cluster"]}]
        if zone:
            filters.append({"Name": "availability-zone", "Values": [zone]})
        if state:
            filters.append({"Name": "instance-state-name", "Values": [state]})
        return sorted(map(_instance, self._describe_instances(filters)), key=lambda i: (i.cluster, i.name))

    def _describe_instances(self, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        pages = self.client("ec2").get_paginator("describe_instances").paginate(Filters=filters)
        return [raw for page in pages for reservation in page["Reservations"] for raw in reservation["Instances"]]

    def stop_zone_instances(self, zone: str, *, cluster: str | None = None) -> list[Instance]:
        """Stop every running cluster instance of the zone (moto stops at once: no `stopping` phase)."""
        return self._change_state(zone, "running", cluster, "stop_instances")

    def start_zone_instances(self, zone: str, *, cluster: str | None = None) -> list[Instance]:
        return self._change_state(zone, "stopped", cluster, "start_instances")

    def stop_instances(self, instance_ids: list[str]) -> None:
        self.client("ec2").stop_instances(InstanceIds=instance_ids)

    def _change_state(self, zone: str, from_state: str, cluster: str | None, call: str) -> list[Instance]:
        chosen = [i for i in self.instances(zone=zone, state=from_state) if cluster in (None, i.cluster)]
        if chosen:
            getattr(self.client("ec2"), call)(InstanceIds=[i.id for i in chosen])
        return chosen

    def fail_ec2_for_zone(
        self,
        zone: str,
        failing: bool,
        *,
        scope: FaultScope = FaultScope.ZONE,
        error: Ec2Error = Ec2Error.UNAVAILABLE,
    ) -> None:
        """Make the EC2 API fail (as seen through `endpoint_url`) for the zone, or stop failing."""
        self.proxy.set_fault(zone, ZoneFault(scope, error) if failing else None)

    # what exists

    def inventory(self) -> Inventory:
        ec2 = self.client("ec2")
        raw_instances = self._describe_instances([{"Name": "tag-key", "Values": ["ferry:cluster"]}])
        # moto leaves DeleteOnTermination out of describe_volumes; the instances' block devices carry it.
        boot = {
            device["Ebs"]["VolumeId"]
            for raw in raw_instances
            for device in raw.get("BlockDeviceMappings", [])
            if device.get("Ebs", {}).get("DeleteOnTermination")
        }
        volumes = tuple(
            Volume(
                id=v["VolumeId"],
                zone=v["AvailabilityZone"],
                state=v["State"],
                size_gib=v["Size"],
                snapshot_id=v.get("SnapshotId") or None,
                tags=_tags(v.get("Tags")),
                root=v["VolumeId"] in boot,
            )
            for page in ec2.get_paginator("describe_volumes").paginate()
            for v in page["Volumes"]
        )
        instances = tuple(sorted(map(_instance, raw_instances), key=lambda i: (i.cluster, i.name)))
        return Inventory(instances=instances, volumes=volumes, snapshots=self._snapshots(volumes))

    def _snapshots(self, volumes: Iterable[Volume]) -> tuple[Snapshot, ...]:
        """Snapshots of the volumes that exist or existed here, and every Ferry-managed one.

        moto's account also owns a snapshot behind each built-in AMI (hundreds): those are left out.
        """
        known = sorted({v.id for v in volumes} | {r for r in self._zone_of if r.startswith("vol-")})
        paginator = self.client("ec2").get_paginator("describe_snapshots")
        found: dict[str, Snapshot] = {}
        for filters in ([{"Name": "volume-id", "Values": known}], [{"Name": "tag-key", "Values": ["ferry:managed"]}]):
            if not filters[0]["Values"]:
                continue
            for page in paginator.paginate(OwnerIds=["self"], Filters=filters):
                for s in page["Snapshots"]:
                    found[s["SnapshotId"]] = Snapshot(
                        id=s["SnapshotId"], volume_id=s["VolumeId"], state=s["State"], tags=_tags(s.get("Tags"))
                    )
        return tuple(sorted(found.values(), key=lambda s: s.id))

    def zone_ids(self) -> dict[str, str]:
        """Zone name -> zone id (us-east-1a -> use1-az6 in moto's account), as AWS Health and ARC speak."""
        zones = self.client("ec2").describe_availability_zones()["AvailabilityZones"]
        return {z["ZoneName"]: z["ZoneId"] for z in zones}

    def put_events(self, events: Iterable[Mapping[str, Any]]) -> list[str]:
        """Deliver events as EventBridge's rule target would: each event's JSON as one message on the queue."""
        sqs = self.client("sqs")
        url = self.queue_urls[self.names.events_queue]
        return [sqs.send_message(QueueUrl=url, MessageBody=json.dumps(e))["MessageId"] for e in events]

    def notifications(self) -> list[dict[str, Any]]:
        """Drain what Ferry published to its SNS topic (read back through the subscribed queue)."""
        sqs = self.client("sqs")
        url = self.queue_urls[self.names.readback_queue]
        drained: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            drained.extend(batch)
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)]
            )
        return drained


# --- what AWS sends -----------------------------------------------------------------------------------------


class AwsEvents:
    """The EventBridge events AWS would send about the sandbox, made from the real-shaped samples in `events/`.

    Each sample is copied and given what the moment needs: a fresh event id, the sandbox time, the zone, the
    instances. Everything else (account, shape, the fields Ferry does not read) stays as AWS writes it.
    """

    SCHEDULED = "scheduled-event.json"
    HEALTH_OPEN = "health-ec2-issue-open.json"
    HEALTH_CLOSED = "health-ec2-issue-resolved.json"
    STATE_CHANGE = "ec2-state-change-{state}.json"
    STATE_CHANGE_FALLBACK = "ec2-state-change-stopped.json"
    SPOT_INTERRUPTION = "ec2-spot-interruption.json"
    INSTANCE_RETIREMENT = "health-scheduled-change.json"

    def __init__(self, account_id: str, zone_ids: Mapping[str, str], events_dir: Path = EVENTS_DIR) -> None:
        self._account_id = account_id
        self._zone_ids = dict(zone_ids)
        self._dir = events_dir
        self._health_arns: dict[str, str] = {}  # zone -> the open issue's ARN, reused when it closes

    def template(self, name: str) -> dict[str, Any]:
        path = self._dir / name
        if not path.exists():
            raise FileNotFoundError(f"sample event {path} is missing: the sandbox builds AWS events from it")
        return dict(json.loads(path.read_text()))

    def scheduled(self, rule: str, at: datetime) -> dict[str, Any]:
        """What an EventBridge schedule rule hands its target each time it fires."""
        event = self._envelope(self.template(self.SCHEDULED), at)
        event["time"] = at.astimezone(UTC).replace(second=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        event["resources"] = [f"arn:aws:events:{REGION}:{self._account_id}:rule/{rule}"]
        return event

    def instance_state_change(self, instance_id: str, state: str, at: datetime) -> dict[str, Any]:
        name = self.STATE_CHANGE.format(state=state)
        event = self._envelope(self.template(name if (self._dir / name).exists() else self.STATE_CHANGE_FALLBACK), at)
        event["resources"] = [f"arn:aws:ec2:{REGION}:{self._account_id}:instance/{instance_id}"]
        event["detail"].update({"instance-id": instance_id, "state": state})
        return event

    def health_issue(
        self, zone: str, instance_ids: Iterable[str], at: datetime, *, open_: bool = True
    ) -> dict[str, Any]:
        """An AWS Health EC2 operational issue for the zone (open), or its resolution (closed).

        As AWS writes it: no zone field; the zone's id in the description, the instances as affected entities.
        """
        event = self._envelope(self.template(self.HEALTH_OPEN if open_ else self.HEALTH_CLOSED), at)
        detail = event["detail"]
        stamp = email.utils.format_datetime(at.astimezone(UTC), usegmt=True)
        arn_prefix = detail["eventArn"].rsplit("_", 1)[0]
        if open_ or zone not in self._health_arns:
            self._health_arns[zone] = f"{arn_prefix}_{uuid.uuid4()}"
        ids = list(instance_ids)
        detail.update(
            eventArn=self._health_arns[zone],
            eventRegion=REGION,
            lastUpdatedTime=stamp,
            affectedEntities=[
                {"entityValue": i, "lastUpdatedTime": stamp, "status": "IMPAIRED" if open_ else "RESOLVED"} for i in ids
            ],
        )
        detail["startTime" if open_ else "endTime"] = stamp
        for description in detail.get("eventDescription", []):
            text = re.sub(r"use1-az\d+", self._zone_ids.get(zone, zone), description["latestDescription"])
            description["latestDescription"] = re.sub(rf"{REGION}[a-f]", zone, text)
        event["resources"] = ids
        return event

    def spot_interruption(self, instance_id: str, at: datetime) -> dict[str, Any]:
        """EC2's two-minute warning that it reclaims a Spot instance (the instance's ARN in `resources`)."""
        event = self._envelope(self.template(self.SPOT_INTERRUPTION), at)
        event["resources"] = [f"arn:aws:ec2:{REGION}:{self._account_id}:instance/{instance_id}"]
        event["detail"]["instance-id"] = instance_id
        return event

    def instance_retirement(self, instance_ids: Iterable[str], at: datetime, *, retire_at: datetime) -> dict[str, Any]:
        """AWS Health's scheduled change: the instances will be retired (stopped or terminated) after `retire_at`.

        As AWS writes it for one account: the instances as affected entities and resources, no zone.
        """
        event = self._envelope(self.template(self.INSTANCE_RETIREMENT), at)
        detail = event["detail"]
        stamp = email.utils.format_datetime(at.astimezone(UTC), usegmt=True)
        retire = email.utils.format_datetime(retire_at.astimezone(UTC), usegmt=True)
        ids = list(instance_ids)
        detail.update(
            eventArn=f"{detail['eventArn'].rsplit('_', 1)[0]}_{uuid.uuid4()}",
            eventRegion=REGION,
            lastUpdatedTime=stamp,
            startTime=retire,
            affectedEntities=[{"entityValue": i, "lastUpdatedTime": stamp, "status": "PENDING"} for i in ids],
        )
        for description in detail.get("eventDescription", []):
            description["latestDescription"] = re.sub(
                r"after .* GMT\.", f"after {retire}.", description["latestDescription"]
            )
        event["resources"] = [f"arn:aws:ec2:{REGION}:{self._account_id}:instance/{i}" for i in ids]
        return event

    def _envelope(self, template: Mapping[str, Any], at: datetime) -> dict[str, Any]:
        event = copy.deepcopy(dict(template))
        event.update(id=str(uuid.uuid4()), time=at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), region=REGION)
        event["account"] = self._account_id
        if "affectedAccount" in event.get("detail", {}):
            event["detail"]["affectedAccount"] = self._account_id
        return event
