"""The HTTP face of the sandbox API server: routing, authentication, fault injection, JSON in and out, watch.

It speaks the Kubernetes REST API over plain HTTP/1.1 with keep-alive on 127.0.0.1, so the official client
(and anything else that speaks the API) works against it unchanged. Everything about what a request
*means* is in `registry.py`; this module only maps URLs and verbs onto it and writes the answers.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from sandbox.kube import discovery, errors, patches
from sandbox.kube.errors import ApiError
from sandbox.kube.faults import Fault, Faults
from sandbox.kube.objects import Obj
from sandbox.kube.registry import DeleteOptions, Registry
from sandbox.kube.resources import NAMESPACES, ResourceType, by_path
from sandbox.kube.selectors import LabelSelector, fields_match, parse_field_selector, parse_label_selector
from sandbox.kube.store import Change

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")
RULES_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
FERRY_RBAC = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "ferry-rbac.yaml"


@cache
def _manifest_rules() -> tuple[tuple[str, tuple[dict[str, Any], ...]], ...]:
    found: dict[str, list[dict[str, Any]]] = {}
    for document in yaml.safe_load_all(FERRY_RBAC.read_text()):
        if document and document["kind"] in ("ClusterRole", "Role"):
            scope = document["metadata"].get("namespace", "") if document["kind"] == "Role" else ""
            found.setdefault(scope, []).extend(document["rules"])
    return tuple((scope, tuple(rules)) for scope, rules in found.items())


def ferry_rules() -> dict[str, list[dict[str, Any]]]:
    """The rules deploy/kubernetes/ferry-rbac.yaml grants Ferry, by namespace ("": its ClusterRole), fresh."""
    return {scope: [json.loads(json.dumps(r)) for r in rules] for scope, rules in _manifest_rules()}


_HEALTH_CHECKS = ("ping", "log", "etcd", "informer-sync", "poststarthook/start-apiextensions-controllers")
_WATCH_POLL = 0.5


@dataclass(frozen=True)
class Route:
    rt: ResourceType
    namespace: str | None  # None: every namespace (or a cluster-scoped resource)
    name: str
    subresource: str

    @property
    def resource(self) -> str:
        return f"{self.rt.plural}/{self.subresource}" if self.subresource else self.rt.plural


@dataclass(frozen=True)
class ScaleWrite:
    """One write through a scale subresource: `order` is process-wide, so writes to several clusters compare."""

    order: int
    at: datetime  # sandbox time
    kind: str
    namespace: str
    name: str
    replicas: int


_SCALE_ORDER = itertools.count()


@dataclass
class Response:
    code: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] | None = None


def route(path: str) -> Route | None:
    """The resource a URL names, or None when it names none (the caller answers 404)."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace: str | None = None
    if (
        rest
        and rest[0] == "namespaces"
        and len(rest) >= 3
        and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))
    ):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    rt = by_path(group, version, rest[0])
    if rt is None or (namespace is not None and not rt.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if rt.namespaced and namespace is None and name:
        return None
    if subresource and rt.subresource(subresource) is None:
        return None
    return Route(rt, namespace, name, subresource)


class ApiServer:
    """The listening side: one ThreadingHTTPServer on 127.0.0.1, closed during an outage, reopened after."""

    def __init__(
        self,
        registry: Registry,
        *,
        token: str,
        version: str,
        faults: Faults,
        authenticator: Callable[[str], bool] | None = None,
    ) -> None:
        self.registry = registry
        self.store = registry.store
        self.token = token
        # A bearer token is accepted when it is `token`, or when the authenticator says so (an EKS cluster's
        # double checks the STS-presigned tokens Ferry makes: sandbox/eks.py).
        self.authenticator = authenticator
        self.version = discovery.version_info(version)
        self.faults = faults
        # What the token may do, by namespace ("" for cluster-wide): Ferry's manifest unless a test changes it.
        # Only SelfSubjectRulesReview reads it; the double authorizes every request of the token.
        self.rules: dict[str, list[dict[str, Any]]] = ferry_rules()
        self.port = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._counts: Counter[str] = Counter()
        self._scales: list[ScaleWrite] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._stopping.clear()
        self._listen()

    def stop(self) -> None:
        self._stopping.set()
        self._close()

    def set_outage(self, down: bool) -> None:
        with self._lock:
            if down == self.faults.outage:
                return
            self.faults.outage = down
        if down:
            self._close()
        elif not self._stopping.is_set():
            self._listen()

    def request_count(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def scale_writes(self) -> list[ScaleWrite]:
        with self._lock:
            return list(self._scales)

    def _listen(self) -> None:
        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_class(self))
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name=f"kube-api-{self.port}"
        )
        self._thread.start()

    def _close(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def count(self, verb: str, resource: str) -> None:
        with self._lock:
            self._counts[f"{verb} {resource}"] += 1

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    def authentic(self, authorization: str) -> bool:
        """Whether an Authorization header carries a token this server accepts."""
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer":
            return False
        return token == self.token or (self.authenticator is not None and self.authenticator(token))

    # --- dispatch -------------------------------------------------------------------------------------------

    def dispatch(self, method: str, path: str, query: dict[str, str], body: bytes, headers: Any) -> Response:
        # Authentication comes before authorization, as on a real server: anonymous requests may read the
        # public health paths (system:public-info-viewer), but a request carrying a wrong token is 401
        # everywhere, health paths included.
        credentials = headers.get("Authorization", "")
        if credentials and not self.authentic(credentials):
            self.count(method.lower(), path)
            raise errors.unauthorized()
        if path in PUBLIC_PATHS or path.startswith(("/readyz/", "/livez/", "/healthz/")):
            self.count(method.lower(), path)
            return self._public(path, query)
        if not credentials:
            self.count(method.lower(), path)
            raise errors.unauthorized()
        if path == RULES_REVIEW_PATH and method == "POST":
            self.count("create", "selfsubjectrulesreviews")
            return _json(201, self._rules_review(_parse(body)))
        target = route(path)
        if target is None:
            self.count(method.lower(), path)
            if method == "GET":
                document = self._discovery(path)
                if document is not None:
                    return _json(200, document)
            raise errors.no_such_path()
        verb = _verb(method, target, query)
        self.count(verb, target.resource)
        return self._resource(verb, target, query, body, headers)

    def _rules_review(self, review: Any) -> dict[str, Any]:
        """A SelfSubjectRulesReview answered from `rules` (the caller's token stands for Ferry's identity): the
        ClusterRole's rules in every namespace, a Role's only in its own, as RBAC's authorizer lists them."""
        namespace = str(((review or {}).get("spec") or {}).get("namespace", ""))
        granted = [r for scope, rules in self.rules.items() if scope in ("", namespace) for r in rules]
        return {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": namespace},
            "status": {
                "resourceRules": [r for r in granted if "resources" in r],
                "nonResourceRules": [r for r in granted if "nonResourceURLs" in r],
                "incomplete": False,
            },
        }

    def _public(self, path: str, query: dict[str, str]) -> Response:
        if path == "/version":
            return _json(200, self.version)
        if "verbose" in query:
            checks = "".join(f"[+]{check} ok\n" for check in _HEALTH_CHECKS)
            return Response(
                200, f"{checks}{path.strip('/').split('/')[0]} check passed\n".encode(), "text/plain; charset=utf-8"
            )
        return Response(200, b"ok", "text/plain; charset=utf-8")

    def _discovery(self, path: str) -> dict[str, Any] | None:
        parts = [part for part in path.split("/") if part]
        if parts == ["api"]:
            return discovery.api_versions(f"127.0.0.1:{self.port}")
        if parts == ["apis"]:
            return discovery.api_group_list()
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(parts[1])
        if parts == ["api", "v1"]:
            return discovery.api_resource_list("", "v1")
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.api_resource_list(parts[1], parts[2])
        return None

    def _resource(self, verb: str, target: Route, query: dict[str, str], body: bytes, headers: Any) -> Response:
        rt, name, sub = target.rt, target.name, target.subresource
        namespace = target.namespace or ""
        dry_run = _dry_run(query)
        registry = self.registry
        if verb == "list":
            page = registry.list(
                rt,
                target.namespace if rt.namespaced else None,
                label_selector=query.get("labelSelector", ""),
                field_selector=query.get("fieldSelector", ""),
                limit=_int(query, "limit"),
                continue_token=query.get("continue", ""),
            )
            return Response(
                200, self._list_body(rt, page.items, page.resource_version, page.continue_token, page.remaining)
            )
        if verb == "get":
            return self._object(200, rt, registry.get(rt, namespace, name, subresource=sub))
        if verb == "create":
            if sub == "eviction":
                return _json(201, registry.evict(namespace, name, _parse(body), dry_run=dry_run))
            if sub == "binding":
                return _json(201, registry.bind(namespace, name, _parse(body)))
            return self._object(201, rt, registry.create(rt, namespace, _parse(body), dry_run=dry_run))
        if verb == "update":
            updated = registry.update(rt, namespace, name, _parse(body), subresource=sub, dry_run=dry_run)
            if sub == "scale" and not dry_run:
                self._record_scale(rt, namespace, name, updated)
            return self._object(200, rt, updated)
        if verb == "patch":
            content_type = headers.get("Content-Type", "").split(";")[0].strip()
            if content_type not in patches.PATCH_TYPES:
                raise errors.unsupported_media_type(content_type, patches.PATCH_TYPES)
            created = (
                content_type == patches.APPLY
                and self.store.get(rt.key, namespace if rt.namespaced else "", name) is None
            )
            result = registry.patch(
                rt,
                namespace,
                name,
                content_type,
                _parse(body),
                subresource=sub,
                dry_run=dry_run,
                field_manager=query.get("fieldManager"),
            )
            if sub == "scale" and not dry_run:
                self._record_scale(rt, namespace, name, result)
            return self._object(201 if created else 200, rt, result)
        options = DeleteOptions.from_body(_parse(body) if body.strip() else None, query)
        if verb == "delete":
            return self._object(200, rt, registry.delete(rt, namespace, name, options, dry_run=dry_run))
        result = registry.delete_collection(
            rt,
            target.namespace if rt.namespaced else None,
            options,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            dry_run=dry_run,
        )
        return _json(200, result)

    def _record_scale(self, rt: ResourceType, namespace: str, name: str, scale: Obj) -> None:
        """Test support: every write through a scale subresource, in order across every cluster of the process
        (a make-before-break test reads the order of scale calls from here)."""
        replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        with self._lock:
            self._scales.append(
                ScaleWrite(next(_SCALE_ORDER), self.registry.clock.now(), rt.kind, namespace, name, replicas)
            )

    def _object(self, code: int, rt: ResourceType, obj: Obj) -> Response:
        stored = obj.get("kind") == rt.kind and obj.get("metadata", {}).get("name")
        return Response(code, self.store.encode(rt.key, obj) if stored else _dumps(obj))

    def _list_body(self, rt: ResourceType, items: list[Obj], version: int, token: str, remaining: int | None) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(version)}
        if token:
            metadata["continue"] = token
        if remaining is not None:
            metadata["remainingItemCount"] = remaining
        head = _dumps({"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": metadata})
        encoded = b",".join(self.store.encode(rt.key, item) for item in items)
        return head[:-1] + b',"items":[' + encoded + b"]}"

    # --- watch ----------------------------------------------------------------------------------------------

    def watch(self, handler: BaseHTTPRequestHandler, target: Route, query: dict[str, str]) -> None:
        """Stream watch events as newline-delimited JSON in a chunked response until the timeout."""
        rt = target.rt
        namespace = target.namespace if rt.namespaced else None
        try:
            labels = parse_label_selector(query.get("labelSelector", ""))
            fields = parse_field_selector(query.get("fieldSelector", ""))
        except ValueError as problem:
            raise errors.bad_request(str(problem)) from problem
        for requirement in fields:
            if not rt.supports_field(requirement.field):
                raise errors.bad_request(f"field label not supported: {requirement.field}")
        timeout = min(max(_int(query, "timeoutSeconds") or 1800, 1), 3600)

        def matches(obj: Obj | None) -> bool:
            return obj is not None and _selected(obj, labels) and fields_match(obj, fields)

        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        requested = query.get("resourceVersion", "")
        if requested in ("", "0"):
            page = self.registry.list(
                rt,
                namespace,
                label_selector=query.get("labelSelector", ""),
                field_selector=query.get("fieldSelector", ""),
            )
            since = page.resource_version
            for item in page.items:
                _chunk(handler, b'{"type":"ADDED","object":' + self.store.encode(rt.key, item) + b"}\n")
        else:
            since = int(requested) if requested.isdigit() else 0
            if since + 1 < self.store.oldest_change():
                gone = errors.expired(f"too old resource version: {since} ({self.store.oldest_change() - 1})")
                gone.code, gone.reason = 410, "Expired"
                _chunk(handler, _dumps({"type": "ERROR", "object": gone.status()}) + b"\n")
                _chunk(handler, b"")
                return
        deadline = time.monotonic() + timeout
        while not self._stopping.is_set() and not self.faults.outage and time.monotonic() < deadline:
            with self.store.changed:
                if self.store.resource_version <= since:
                    self.store.changed.wait(min(_WATCH_POLL, max(deadline - time.monotonic(), 0)))
            for change in self.store.changes_since(since):
                since = change.resource_version
                event = _watch_event(change, rt, namespace, matches)
                if event is not None:
                    _chunk(handler, b'{"type":"' + event[0].encode() + b'","object":' + _dumps(event[1]) + b"}\n")
        _chunk(handler, b"")


def _watch_event(change: Change, rt: ResourceType, namespace: str | None, matches: Any) -> tuple[str, Obj] | None:
    if change.resource != rt.key or (namespace is not None and change.namespace != namespace):
        return None
    now, before = matches(change.obj) and change.type != "DELETED", matches(change.previous)
    if change.type == "DELETED":
        return ("DELETED", change.obj) if before else None
    if now:
        return ("MODIFIED" if before else "ADDED", change.obj)
    return ("DELETED", change.obj) if before else None


def _selected(obj: Obj, labels: LabelSelector) -> bool:
    return labels.matches(obj.get("metadata", {}).get("labels") or {})


def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def _verb(method: str, target: Route, query: dict[str, str]) -> str:
    collection = not target.name
    if method == "GET":
        if collection:
            return "watch" if query.get("watch", "").lower() in ("1", "true") else "list"
        return "get"
    allowed = {
        ("POST", True): "create",
        ("DELETE", True): "deletecollection",
        ("PUT", False): "update",
        ("PATCH", False): "patch",
        ("DELETE", False): "delete",
        ("POST", False): "create",
    }
    verb = allowed.get((method, collection))
    if verb is None:
        raise errors.method_not_allowed()
    sub = target.rt.subresource(target.subresource) if target.subresource else None
    if sub is not None and verb not in sub.verbs:
        raise errors.method_not_allowed()
    if sub is None and verb == "create" and not collection:
        raise errors.method_not_allowed()
    if target.rt.namespaced and target.namespace is None and verb not in ("list", "watch"):
        raise errors.method_not_allowed()
    if target.rt is NAMESPACES and verb == "deletecollection":
        raise errors.method_not_allowed()
    return verb


def _dry_run(query: dict[str, str]) -> bool:
    value = query.get("dryRun")
    if value is None:
        return False
    if value != "All":
        raise errors.bad_request(f'Invalid dry run argument: "{value}": supported values: "All"')
    return True


def _int(query: dict[str, str], key: str) -> int:
    value = query.get(key, "")
    if not value:
        return 0
    try:
        return int(value)
    except ValueError as problem:
        raise errors.bad_request(f"invalid {key}: {value!r} is not an integer") from problem


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as problem:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {problem}") from problem


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json(code: int, value: Any) -> Response:
    return Response(code, _dumps(value))


def _handler_class(api: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "sandbox-kube-apiserver"
        sys_version = ""
        # A watch sends its headers, then one chunk per event: with Nagle's algorithm on, each event after the
        # first waits for the client's delayed ACK (40 ms on Linux). The real API server's Go net/http sets
        # TCP_NODELAY on every connection too.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            api.track(self.connection, True)

        def finish(self) -> None:
            api.track(self.connection, False)
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

        def _handle(self) -> None:
            if api.faults.outage:
                self._drop()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            path = split.path.rstrip("/") or "/"
            query = {key: values[0] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
            decision = api.faults.decide()
            if decision.latency and api.stopping.wait(decision.latency):
                return
            if decision.fault is Fault.TIMEOUT:
                api.count(self.command.lower(), path)
                api.stopping.wait(api.faults.hang_seconds)
                if api.faults.outage or api.stopping.is_set():
                    self._drop()
                    return
                self._send(
                    _error_response(
                        errors.timeout(
                            "Timeout: request did not complete within requested timeout - context deadline exceeded"
                        )
                    )
                )
                return
            if decision.fault is Fault.ERROR:
                api.count(self.command.lower(), path)
                self._send(_error_response(_fault_error(decision.code, api.faults.retry_after)))
                return
            try:
                target = route(path)
                if self.command == "GET" and target is not None and query.get("watch", "").lower() in ("1", "true"):
                    if not api.authentic(self.headers.get("Authorization", "")):
                        raise errors.unauthorized()
                    api.count("watch", target.resource)
                    self.close_connection = True
                    api.watch(self, target, query)
                    return
                response = api.dispatch(self.command, path, query, body, self.headers)
            except ApiError as problem:
                response = _error_response(problem)
            except OSError:  # the client went away, or an outage shut the connection under a watch
                self.close_connection = True
                return
            except Exception as problem:
                log.exception("sandbox API server failed on %s %s", self.command, self.path)
                response = _error_response(errors.internal(str(problem)))
            self._send(response)

        def _send(self, response: Response) -> None:
            lines = [f"HTTP/1.1 {response.code} {self.responses.get(response.code, ('',))[0]}"]
            headers = {
                "Content-Type": response.content_type,
                "Content-Length": str(len(response.body)),
                "Cache-Control": "no-cache, private",
                "Audit-Id": "sandbox",
                **(response.headers or {}),
            }
            lines += [f"{key}: {value}" for key, value in headers.items()]
            try:
                self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + response.body)
            except OSError:
                self.close_connection = True

        def _drop(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


def _fault_error(code: int, retry_after: int) -> ApiError:
    """What an overloaded or failing API server (or the load balancer in front of it) answers."""
    if code == 429:
        return errors.too_many_requests("Too many requests, please try again later.", retry_after=retry_after)
    if code == 500:
        return errors.internal("etcdserver: request timed out")
    if code == 503:
        return errors.service_unavailable()
    if code == 504:
        return errors.timeout()
    return ApiError(
        code, "", f"the server responded with the status code {code} but did not return more information", {}
    )


def _error_response(problem: ApiError) -> Response:
    return Response(problem.code, _dumps(problem.status()), headers=problem.headers)
