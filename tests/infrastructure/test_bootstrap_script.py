"""deploy/cluster/bootstrap-node.sh, the user data of a SelfManagedCluster's nodes, run against stand-ins.

It will run as root on a real instance, where a mistake costs a cluster; here it runs under bash with a
temporary root and stand-ins on PATH for curl (an IMDSv2-only metadata service), aws (SSM parameters and
Secrets Manager), dnf, systemctl, modprobe, sysctl, containerd, sleep and kubeadm, each recording its
arguments. What a user cares about: it reads what it documents (IMDSv2, the SSM parameters, the secrets for
its role only), inits only on the instance Ferry chose, joins otherwise, gives up after a bounded wait, and
never puts a planted secret on a console, in a log or on a command line.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "cluster" / "bootstrap-node.sh"
TOKEN = "abcdef.0123456789abcdef"
CERTIFICATE_KEY = "c0ffee" * 10 + "beef"
CA_CERT_HASH = "sha256:" + "ab" * 32
INSTANCE = "i-0123456789abcdef0"
OTHER = "i-0fedcba9876543210"
PARAMETERS = {
    "kubernetes-version": "1.31.4",
    "api-endpoint": "east-1-api-0123456789.elb.us-east-1.amazonaws.com",
    "pod-cidr": "192.168.0.0/16",
    "package-repository": "https://packages.example.com/kubernetes/v1.31/rpm/",
}

# Each stand-in appends "<name> <args...>" to $FAKE_LOG.
RECORD = 'printf "%s" "$(basename "$0")" >> "$FAKE_LOG"; printf " %s" "$@" >> "$FAKE_LOG"; echo >> "$FAKE_LOG"\n'
FAKES = {
    # IMDSv2 only: metadata without the session token is refused, as with HttpTokens=required.
    "curl": RECORD
    + """
url="${@: -1}"
case "$url" in
  */api/token) [[ " $* " == *" -X PUT "* ]] && echo imds-session && exit 0; exit 22 ;;
esac
[[ " $* " == *"X-aws-ec2-metadata-token: imds-session"* ]] || exit 22
case "$url" in
  */instance-id) echo "$FAKE_INSTANCE" ;;
  */placement/availability-zone) echo us-east-1b ;;
  */placement/region) echo us-east-1 ;;
  */local-ipv4) echo 10.0.1.10 ;;
  *) exit 22 ;;
esac
""",
    "aws": RECORD
    + """
if [[ "$1 $2" == "ssm get-parameter" ]]; then
  while [[ "$1" != --name ]]; do shift; done
  cat "$FAKE_PARAMETERS/$(basename "$2")"
elif [[ "$1 $2" == "secretsmanager get-secret-value" ]]; then
  while [[ "$1" != --secret-id ]]; do shift; done
  file="$FAKE_SECRETS/$(basename "$2")"
  calls="$file.calls"; n=$(( $(cat "$calls" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$calls"
  [[ -f "$file.$n" ]] && file="$file.$n"
  [[ -f "$file" ]] || { echo "ResourceNotFoundException" >&2; exit 254; }
  cat "$file"
else
  exit 2
fi
""",
    "containerd": RECORD + 'echo "SystemdCgroup = false"\n',
    **dict.fromkeys(("dnf", "systemctl", "modprobe", "sysctl", "sleep", "kubeadm"), RECORD),
}


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str  # stdout and stderr: what the console log and cloud-init's log would show
    calls: list[str]
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "etc" / "kubernetes" / "ferry" / "kubeadm.yaml"

    def called(self, name: str) -> list[str]:
        return [call for call in self.calls if call.split(" ", 1)[0] == name]


def run(
    tmp_path: Path,
    *,
    role: str,
    secrets: dict[str, list[dict[str, str]]],
    instance: str = INSTANCE,
    wait_seconds: int = 900,
) -> Run:
    """The script as cloud-init would run it; `secrets` maps a secret's id to its successive values."""
    bin_dir, root, parameters, secret_dir = (tmp_path / d for d in ("bin", "root", "parameters", "secrets"))
    for folder in (bin_dir, root, parameters, secret_dir):
        folder.mkdir()
    for name, body in FAKES.items():
        fake = bin_dir / name
        fake.write_text("#!/bin/bash\n" + body)
        fake.chmod(0o755)
    for name, value in PARAMETERS.items():
        (parameters / name).write_text(value + "\n")
    for secret, values in secrets.items():
        for n, value in enumerate(values, start=1):
            (secret_dir / f"{secret}.{n}").write_text(json.dumps(value))
        (secret_dir / secret).write_text(json.dumps(values[-1]))
    log = tmp_path / "calls.log"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(log),
        "FAKE_INSTANCE": instance,
        "FAKE_PARAMETERS": str(parameters),
        "FAKE_SECRETS": str(secret_dir),
        "FERRY_ROOT": str(root),
        "FERRY_CLUSTER": "east-1",
        "FERRY_ROLE": role,
        "FERRY_PARAMETERS": "/ferry/clusters/east-1",
        "FERRY_JOIN_SECRET": "ferry/clusters/east-1/join",
        "FERRY_WAIT_SECONDS": str(wait_seconds),
        "FERRY_POLL_SECONDS": "0",
    }
    if role == "control-plane":
        env["FERRY_CONTROL_PLANE_SECRET"] = "ferry/clusters/east-1/control-plane"
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = log.read_text().splitlines() if log.exists() else []
    return Run(done.returncode, done.stdout + done.stderr, calls, root)


JOIN = {"token": TOKEN, "initInstance": INSTANCE, "caCertHash": CA_CERT_HASH}
CONTROL_PLANE = {"certificateKey": CERTIFICATE_KEY}
BOTH = {"join": [JOIN], "control-plane": [CONTROL_PLANE]}


def assert_no_secret_leaks(result: Run) -> None:
    for secret in (TOKEN, CERTIFICATE_KEY):
        assert secret not in result.output, "a secret reached the console"
        assert not [call for call in result.calls if secret in call], "a secret was on a command line"
        leaked = [
            path
            for path in result.root.rglob("*")
            if path.is_file() and path != result.config and secret in path.read_text()
        ]
        assert leaked == [], leaked


pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="the script parses secrets with jq")


def test_the_script_is_valid_bash_and_strict() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    code = [line.strip() for line in SCRIPT.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert "set -euo pipefail" in code
    assert not [line for line in code if "set -x" in line or "xtrace" in line]


@pytest.mark.parametrize(
    ("role", "instance", "command"),
    [
        pytest.param("control-plane", INSTANCE, "init", id="control-plane-chosen-inits"),
        pytest.param("control-plane", OTHER, "join", id="control-plane-not-chosen-joins"),
        pytest.param("worker", INSTANCE, "join", id="worker-joins-even-with-the-init-id"),
    ],
)
def test_init_only_on_the_instance_ferry_chose_and_join_elsewhere(
    tmp_path: Path, role: str, instance: str, command: str
) -> None:
    secrets = BOTH if role == "control-plane" else {"join": [JOIN]}
    result = run(tmp_path, role=role, secrets=secrets, instance=instance)
    assert result.returncode == 0, result.output
    (kubeadm,) = result.called("kubeadm")
    assert kubeadm.split()[1] == command
    assert f"--config {result.config}" in kubeadm
    if command == "init":
        assert "--skip-token-print" in kubeadm and "--skip-certificate-key-print" in kubeadm
    config = result.config.read_text()
    assert stat.S_IMODE(result.config.stat().st_mode) == 0o600
    assert TOKEN in config
    assert (CERTIFICATE_KEY in config) == (role == "control-plane")
    assert "topology.kubernetes.io/zone=us-east-1b" in config and f"aws:///us-east-1b/{instance}" in config
    assert_no_secret_leaks(result)


def test_it_reads_metadata_with_imdsv2_and_the_documented_settings_only(tmp_path: Path) -> None:
    result = run(tmp_path, role="control-plane", secrets=BOTH)
    assert result.returncode == 0, result.output
    token_requests = [c for c in result.called("curl") if c.endswith("/api/token")]
    assert len(token_requests) == 1 and "-X PUT" in token_requests[0]
    assert all("X-aws-ec2-metadata-token: imds-session" in c for c in result.called("curl") if "meta-data" in c)
    parameters = sorted(c.split("--name ")[1].split()[0] for c in result.called("aws") if " ssm " in f" {c} ")
    assert parameters == sorted(f"/ferry/clusters/east-1/{name}" for name in PARAMETERS)
    secrets = {c.split("--secret-id ")[1].split()[0] for c in result.called("aws") if "secretsmanager" in c}
    assert secrets == {"ferry/clusters/east-1/join", "ferry/clusters/east-1/control-plane"}
    assert any("kubeadm-1.31.4" in c for c in result.called("dnf"))


def test_a_worker_never_asks_for_the_control_plane_secret(tmp_path: Path) -> None:
    result = run(tmp_path, role="worker", secrets={"join": [JOIN]})
    assert result.returncode == 0, result.output
    assert not [c for c in result.called("aws") if "control-plane" in c]
    assert CERTIFICATE_KEY not in result.config.read_text()


def test_a_joining_node_waits_for_ferry_to_publish_the_ca_hash(tmp_path: Path) -> None:
    without_hash = {k: v for k, v in JOIN.items() if k != "caCertHash"}
    result = run(tmp_path, role="worker", secrets={"join": [without_hash, without_hash, JOIN]})
    assert result.returncode == 0, result.output
    assert len([c for c in result.called("aws") if "secretsmanager" in c]) == 3
    assert CA_CERT_HASH in result.config.read_text()
    assert_no_secret_leaks(result)


@pytest.mark.parametrize(
    "secrets",
    [
        pytest.param({}, id="no-secret"),
        pytest.param({"join": [{"initInstance": INSTANCE}]}, id="no-token"),
        pytest.param({"join": [JOIN]}, id="no-certificate-key-for-a-control-plane-node"),
    ],
)
def test_it_gives_up_after_a_bounded_wait_without_running_kubeadm(
    tmp_path: Path, secrets: dict[str, list[dict[str, str]]]
) -> None:
    result = run(tmp_path, role="control-plane", secrets=secrets, wait_seconds=0)
    assert result.returncode == 1
    assert "gave up after 0s waiting for ferry/clusters/east-1/" in result.output
    assert result.called("kubeadm") == []
    assert_no_secret_leaks(result)


def test_a_wrong_role_stops_before_anything_is_read(tmp_path: Path) -> None:
    result = run(tmp_path, role="master", secrets=BOTH)
    assert result.returncode == 2
    assert "FERRY_ROLE must be control-plane or worker, got 'master'" in result.output
    assert result.calls == []
