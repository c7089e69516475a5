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
import re
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
BUCKET = "ferry-east-1-etcdbackups-0123456789ab"
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
if [[ "$1 $2" == "s3 cp" ]]; then
  [[ -n "${FAKE_S3_FAILS:-}" ]] && { echo "upload failed: AccessDenied" >&2; exit 1; }
  key="${4#s3://*/}"; mkdir -p "$FAKE_S3/$(dirname "$key")"; cp "$3" "$FAKE_S3/$key"
elif [[ "$1 $2" == "ssm get-parameter" ]]; then
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
    # The etcd static pod's container: `ps` finds it (unless FAKE_ETCD=stopped), `exec ... etcdctl` answers for it.
    "crictl": RECORD
    + """
case "$1" in
  ps) [[ "${FAKE_ETCD:-running}" == running ]] && echo 3f2a9c0etcd; exit 0 ;;
  exec) shift 2 ;;
  *) exit 2 ;;
esac
[[ "$1" == etcdctl ]] || exit 2
if [[ " $* " == *" endpoint status "* ]]; then
  printf '"ClusterID" : 14841639068965178418\n"MemberID" : %s\n"Revision" : 4122\n"Leader" : %s\n' \
    "$FAKE_MEMBER" "$FAKE_LEADER"
elif [[ " $* " == *" snapshot save "* ]]; then
  echo "etcd snapshot of $FAKE_MEMBER" > "$FERRY_ROOT${@: -1}"
else
  exit 2
fi
""",
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
    extra_env: dict[str, str] | None = None,
) -> Run:
    """The script as cloud-init would run it; `secrets` maps a secret's id to its successive values."""
    bin_dir, root, parameters, secret_dir = (tmp_path / d for d in ("bin", "root", "parameters", "secrets"))
    for folder in (bin_dir, root, parameters, secret_dir):
        folder.mkdir(parents=True)
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
        env["FERRY_ETCD_BACKUP_BUCKET"] = BUCKET
        env["FERRY_ETCD_BACKUP_MINUTES"] = "15"
    env.update(extra_env or {})
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


@pytest.mark.parametrize(
    ("extra_env", "message"),
    [
        pytest.param({"FERRY_ETCD_BACKUP_BUCKET": ""}, "FERRY_ETCD_BACKUP_BUCKET is required", id="no-bucket"),
        pytest.param({"FERRY_ETCD_BACKUP_MINUTES": "0"}, "FERRY_ETCD_BACKUP_MINUTES must be", id="zero-minutes"),
    ],
)
def test_a_control_plane_node_without_its_backup_settings_stops_before_anything_is_read(
    tmp_path: Path, extra_env: dict[str, str], message: str
) -> None:
    result = run(tmp_path, role="control-plane", secrets=BOTH, extra_env=extra_env)
    assert (result.returncode, result.calls) == (2, [])
    assert message in result.output


# --- etcd backups --------------------------------------------------------------------------------------------


def test_control_plane_members_get_the_backup_timer_and_workers_do_not(tmp_path: Path) -> None:
    member = run(tmp_path / "member", role="control-plane", secrets=BOTH, instance=OTHER)
    worker = run(tmp_path / "worker", role="worker", secrets={"join": [JOIN]})
    assert (member.returncode, worker.returncode) == (0, 0), member.output + worker.output

    units = member.root / "etc" / "systemd" / "system"
    timer = (units / "ferry-etcd-backup.timer").read_text()
    assert "OnUnitActiveSec=15min" in timer and "WantedBy=timers.target" in timer
    service = (units / "ferry-etcd-backup.service").read_text()
    assert "EnvironmentFile=/etc/ferry/etcd-backup.env" in service
    assert "ExecStart=/usr/local/sbin/ferry-etcd-backup" in service
    settings = (member.root / "etc" / "ferry" / "etcd-backup.env").read_text().split()
    assert settings == [
        "FERRY_CLUSTER=east-1",
        "FERRY_REGION=us-east-1",
        f"FERRY_INSTANCE_ID={OTHER}",
        f"FERRY_ETCD_BACKUP_BUCKET={BUCKET}",
    ]
    assert "systemctl enable --now ferry-etcd-backup.timer" in member.calls
    assert os.access(member.root / "usr" / "local" / "sbin" / "ferry-etcd-backup", os.X_OK)
    crictl = (member.root / "etc" / "crictl.yaml").read_text()
    assert crictl == "runtime-endpoint: unix:///run/containerd/containerd.sock\n"
    assert_no_secret_leaks(member)

    assert not (worker.root / "etc" / "systemd").exists() and not (worker.root / "etc" / "ferry").exists()
    assert not (worker.root / "etc" / "crictl.yaml").exists()
    assert not [c for c in worker.calls if "ferry-etcd-backup" in c]


@dataclass(frozen=True)
class Backup:
    returncode: int
    output: str
    calls: list[str]
    uploaded: dict[str, str]  # object key -> content
    left_on_disk: list[Path]


def backup(tmp_path: Path, *, member: str, leader: str, **fakes: str) -> Backup:
    """The backup a member's timer runs, on a member bootstrapped by the script, with etcd and S3 stand-ins."""
    node = run(tmp_path / "node", role="control-plane", secrets=BOTH)
    assert node.returncode == 0, node.output
    settings = dict(
        line.split("=", 1) for line in (node.root / "etc" / "ferry" / "etcd-backup.env").read_text().split()
    )
    s3, log = tmp_path / "s3", tmp_path / "backup-calls.log"
    (node.root / "var" / "lib" / "etcd").mkdir(parents=True)
    env = {
        **settings,  # what systemd's EnvironmentFile gives the service
        "PATH": f"{tmp_path / 'node' / 'bin'}:{os.environ['PATH']}",
        "FERRY_ROOT": str(node.root),
        "FAKE_LOG": str(log),
        "FAKE_S3": str(s3),
        "FAKE_MEMBER": member,
        "FAKE_LEADER": leader,
        **fakes,
    }
    done = subprocess.run(
        ["bash", str(node.root / "usr" / "local" / "sbin" / "ferry-etcd-backup")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    uploaded = {str(p.relative_to(s3)): p.read_text() for p in s3.rglob("*") if p.is_file()}
    return Backup(
        done.returncode,
        done.stdout + done.stderr,
        log.read_text().splitlines() if log.exists() else [],
        uploaded,
        list((node.root / "var" / "lib" / "etcd").iterdir()),
    )


LEADER = "9372538179322589801"
FOLLOWER = "9372538179322589802"  # the same as the leader once rounded to a double, as jq would


def test_the_leader_saves_a_snapshot_to_the_bucket_under_a_time_ordered_name_and_keeps_no_copy(
    tmp_path: Path,
) -> None:
    result = backup(tmp_path, member=LEADER, leader=LEADER)
    assert result.returncode == 0, result.output
    ((key, content),) = result.uploaded.items()
    assert re.fullmatch(rf"snapshots/\d{{8}}T\d{{6}}Z-{INSTANCE}\.db", key), key
    assert content == f"etcd snapshot of {LEADER}\n"
    (upload,) = [c for c in result.calls if c.startswith("aws s3 cp")]
    assert f"s3://{BUCKET}/{key}" in upload and "--sse AES256" in upload
    etcdctl = [c for c in result.calls if " etcdctl " in f" {c} "]
    assert all("--cacert=/etc/kubernetes/pki/etcd/ca.crt" in c and "https://127.0.0.1:2379" in c for c in etcdctl)
    assert result.left_on_disk == []


@pytest.mark.parametrize(
    ("member", "fakes", "returncode", "message"),
    [
        pytest.param(FOLLOWER, {}, 0, "is not the leader", id="a-follower-leaves-it-to-the-leader"),
        pytest.param(LEADER, {"FAKE_ETCD": "stopped"}, 1, "no running etcd container", id="etcd-not-running"),
        pytest.param(LEADER, {"FAKE_S3_FAILS": "1"}, 1, "AccessDenied", id="upload-refused"),
    ],
)
def test_no_snapshot_reaches_the_bucket_otherwise_and_none_is_left_on_disk(
    tmp_path: Path, member: str, fakes: dict[str, str], returncode: int, message: str
) -> None:
    result = backup(tmp_path, member=member, leader=LEADER, **fakes)
    assert result.returncode == returncode, result.output
    assert message in result.output
    assert result.uploaded == {}
    assert result.left_on_disk == []
