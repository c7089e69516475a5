"""A real Kubernetes control plane on this machine, for tests: the envtest pattern, plus the controllers.

The sandbox's double (`sandbox/kube`) is fast and lets a test move the clock and inject faults; it is still a
double. This module starts the real thing beside it from a directory of binaries (`FERRY_KUBE_ASSETS`, as
envtest users know `KUBEBUILDER_ASSETS`: etcd, kube-apiserver, kube-controller-manager, kube-scheduler), so
the same tests and Ferry's own flows can run against both, and where they differ the real one is right.

Everything lives in one temporary directory (certificates, tokens, etcd's data) and listens on free ports of
127.0.0.1, so two test runs never collide; every process gets its own process group, and `stop()` (also
registered with atexit) ends exactly those groups. There are no kubelets and no CSI driver: see
`sandbox/realnodes.py` for the stand-ins.

The controller manager runs with test-sized periods (see `CONTROLLER_MANAGER_TIMINGS`): a silent node turns
Unknown after 8 s rather than 50 s; everything else keeps its default, the pod GC's fixed 20 s period included.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ferry.domain.clusters import ClusterKind, ClusterRegistration

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

ASSETS_VARIABLE = "FERRY_KUBE_ASSETS"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
HOW_TO_GET_THEM = (
    f"set {ASSETS_VARIABLE} to a directory holding {', '.join(BINARIES)} "
    "(unpack ../shared/kube/kubernetes-*.tar.xz and point at its bin/; envtest's binaries plus the "
    "controller manager and scheduler of the same version do too)"
)
# Test-sized periods, each the smallest the controller manager accepts with room for a loaded 2-core machine:
# a node whose heartbeats stop is Unknown (and tainted unreachable) after 8 s instead of 50 s; the PV
# binder's resync, which is what binds a claim the watch missed, runs every 2 s instead of 15 s.
CONTROLLER_MANAGER_TIMINGS = {
    "--node-monitor-grace-period": "8s",
    "--node-monitor-period": "1s",
    "--pvclaimbinder-sync-period": "2s",
    "--attach-detach-reconcile-sync-period": "2s",
}
START_TIMEOUT = 60.0


def assets_dir() -> Path | None:
    """The directory `FERRY_KUBE_ASSETS` names, when it holds every binary; None when unset."""
    value = os.environ.get(ASSETS_VARIABLE)
    if not value:
        return None
    path = Path(value)
    missing = [name for name in BINARIES if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{ASSETS_VARIABLE}={value} lacks {', '.join(missing)}: {HOW_TO_GET_THEM}")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- certificates -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_path, key_path


def _certificate(
    common_name: str,
    *,
    issuer: _Pair | None = None,
    server: bool = False,
    client: bool = False,
) -> _Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] * server + [ExtendedKeyUsageOID.CLIENT_AUTH] * client
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if server:
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    return _Pair(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


# --- the control plane ------------------------------------------------------------------------------------


class RealControlPlane:
    """etcd, kube-apiserver, kube-controller-manager and kube-scheduler, started from `assets`.

    `token` is a static token of a user in `system:masters` (what the tests and the stand-ins use); the
    controller manager and the scheduler have tokens of their own. `ca_pem` is the API server's CA.
    """

    def __init__(self, assets: Path, *, name: str = "real", log_dir: Path | None = None) -> None:
        self.assets = assets
        self.name = name
        self.token = secrets.token_hex(16)
        self.ca_pem = ""
        self.port = 0
        self.workdir: Path | None = None
        self._log_dir = log_dir
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        """The CA bundle's path (exists while the control plane runs)."""
        assert self.workdir is not None
        return str(self.workdir / "pki" / "ca.crt")

    # --- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        work = self.workdir = Path(tempfile.mkdtemp(prefix=f"ferry-kube-{self.name}-"))
        atexit.register(self.stop)
        try:
            self._start(work)
        except BaseException:
            self.stop()
            raise

    def _start(self, work: Path) -> None:
        pki = work / "pki"
        pki.mkdir()
        ca = _certificate("ferry-test-ca")
        ca_crt, _ = ca.write(pki, "ca")
        self.ca_pem = ca_crt.read_text()
        serving_crt, serving_key = _certificate("kube-apiserver", issuer=ca, server=True).write(pki, "apiserver")
        front_ca = _certificate("ferry-test-front-proxy-ca")
        front_ca_crt, _ = front_ca.write(pki, "front-proxy-ca")
        proxy_crt, proxy_key = _certificate("front-proxy-client", issuer=front_ca, client=True).write(
            pki, "front-proxy-client"
        )
        # The service-account signing pair: any key the API server can sign with (ES256 here).
        _, sa_key = _certificate("service-accounts").write(pki, "sa")
        sa_pub = pki / "sa.pub"
        sa_pub.write_bytes(
            serialization.load_pem_private_key(sa_key.read_bytes(), None)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

        controller_token, scheduler_token = secrets.token_hex(16), secrets.token_hex(16)
        tokens = work / "tokens.csv"
        tokens.write_text(
            f'{self.token},admin,admin,"system:masters"\n'
            f'{controller_token},system:kube-controller-manager,kcm,"system:masters"\n'
            f"{scheduler_token},system:kube-scheduler,scheduler\n"
        )
        tokens.chmod(0o600)
        # Anonymous requests only for the health endpoints: a wrong token is still refused everywhere else.
        authentication = work / "authentication.yaml"
        authentication.write_text(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n"
            "anonymous:\n  enabled: true\n  conditions:\n"
            "  - path: /healthz\n  - path: /livez\n  - path: /readyz\n"
        )

        etcd_port, peer_port, self.port = free_port(), free_port(), free_port()
        self._spawn(
            "etcd",
            "--name=default",
            f"--data-dir={work / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
            f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync",
            "--quota-backend-bytes=1073741824",
            "--log-level=warn",
        )
        self._spawn(
            "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={serving_crt}",
            f"--tls-private-key-file={serving_key}",
            f"--client-ca-file={ca_crt}",
            f"--token-auth-file={tokens}",
            f"--authentication-config={authentication}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={sa_pub}",
            f"--service-account-signing-key-file={sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--endpoint-reconciler-type=none",  # 127.0.0.1 cannot be the `kubernetes` Service's endpoint
            f"--requestheader-client-ca-file={front_ca_crt}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={proxy_crt}",
            f"--proxy-client-key-file={proxy_key}",
            "--allow-privileged=true",
        )
        self._wait_ready()
        self._spawn(
            "kube-controller-manager",
            f"--kubeconfig={self._kubeconfig(work / 'controller-manager.kubeconfig', controller_token, ca_crt)}",
            "--bind-address=127.0.0.1",
            "--secure-port=0",
            "--leader-elect=false",
            "--use-service-account-credentials=false",
            f"--service-account-private-key-file={sa_key}",
            f"--root-ca-file={ca_crt}",
            "--cluster-name=" + self.name,
            *(f"{flag}={value}" for flag, value in CONTROLLER_MANAGER_TIMINGS.items()),
        )
        scheduler_kubeconfig = self._kubeconfig(work / "scheduler.kubeconfig", scheduler_token, ca_crt)
        self._spawn(
            "kube-scheduler",
            f"--kubeconfig={scheduler_kubeconfig}",
            f"--authentication-kubeconfig={scheduler_kubeconfig}",
            f"--authorization-kubeconfig={scheduler_kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--leader-elect=false",
        )

    def stop(self) -> None:
        """End every process group this control plane started, and remove its directory."""
        processes, self._processes = self._processes, []
        # Newest first, each ended before the next: the API server goes before etcd, so none of them waits on
        # a peer that is already gone. Their state is thrown away, so nothing needs a graceful shutdown.
        for process in reversed(processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        if self.workdir is not None and self._log_dir is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def __enter__(self) -> RealControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, binary: str, *args: str) -> None:
        assert self.workdir is not None
        log_path = (self._log_dir or self.workdir) / f"{self.name}-{binary}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(self.assets / binary), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends it and its children, nothing else
            )
        self._processes.append(process)

    def _kubeconfig(self, path: Path, token: str, ca: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: {self.name}\n  cluster:\n    server: {self.url}\n    certificate-authority: {ca}\n"
            f"users:\n- name: user\n  user:\n    token: {token}\n"
            f"contexts:\n- name: {self.name}\n  context:\n    cluster: {self.name}\n    user: user\n"
            f"current-context: {self.name}\n"
        )
        path.chmod(0o600)
        return path

    def _wait_ready(self) -> None:
        context = ssl.create_default_context(cadata=self.ca_pem)
        deadline = time.monotonic() + START_TIMEOUT
        problem = "no answer"
        while time.monotonic() < deadline:
            for process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args!r} exited with {process.returncode}: {self._log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", context=context, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError) as error:
                problem = str(error)
            time.sleep(0.2)
        raise TimeoutError(f"kube-apiserver not ready after {START_TIMEOUT:.0f} s ({problem}): {self._log_tail()}")

    def _log_tail(self) -> str:
        assert self.workdir is not None
        logs = sorted((self._log_dir or self.workdir).glob(f"{self.name}-*.log"))
        return " | ".join(f"{log.name}: {log.read_text(errors='replace')[-600:]}" for log in logs)

    # --- clients ------------------------------------------------------------------------------------------

    def api_client(self) -> ApiClient:
        """The official client over TLS with the admin token, as a kubeconfig with this CA would configure it."""
        from kubernetes import client

        assert self.workdir is not None
        configuration = client.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = self.ca_file
        configuration.api_key = {"BearerToken": self.token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
        return client.ApiClient(configuration)

    def secret_value(self) -> dict[str, str]:
        """What Ferry's registry keeps in Secrets Manager for a self-managed cluster: token and CA."""
        import base64

        return {"token": self.token, "certificate-authority-data": base64.b64encode(self.ca_pem.encode()).decode()}

    def registration(
        self, zones: tuple[str, ...], *, region: str = "us-east-1", secret: str = ""
    ) -> ClusterRegistration:
        """The registry entry Ferry needs to reach this cluster; its secret holds `secret_value()`."""
        return ClusterRegistration(
            name=self.name,
            kind=ClusterKind.SELF_MANAGED,
            endpoint=self.url,
            region=region,
            zones=zones,
            credentials_secret=secret or f"ferry/clusters/{self.name}",
        )
