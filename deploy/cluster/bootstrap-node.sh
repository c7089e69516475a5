#!/bin/bash
# Bootstraps one node of a Ferry SelfManagedCluster with kubeadm: `kubeadm init` on the control-plane instance
# Ferry named the init node, `kubeadm join` (as a control-plane member or a worker) everywhere else.
#
# It runs as the instance's user data (cdk/clusters.py puts the FERRY_* settings above it). What it reads:
#   - instance metadata, through IMDSv2 only (the launch template refuses IMDSv1): instance id, zone, region,
#     private address;
#   - SSM parameters under $FERRY_PARAMETERS: kubernetes-version (e.g. 1.31.4), api-endpoint (the internal
#     NLB's name), pod-cidr, package-repository (an RPM repository of kubeadm/kubelet/kubectl for that minor);
#   - Secrets Manager: $FERRY_JOIN_SECRET {token, caCertHash, initInstance} for every node, and, on
#     control-plane nodes only, $FERRY_CONTROL_PLANE_SECRET {certificateKey}. Ferry writes both (the
#     BootstrapNode runbook, planned): until they hold what this node needs it waits, at most
#     $FERRY_WAIT_SECONDS, then fails, and the launch lifecycle hook abandons the instance.
#
# Control-plane nodes also get a systemd timer (ferry-etcd-backup.timer) that every $FERRY_ETCD_BACKUP_MINUTES
# saves an etcd snapshot (`etcdctl snapshot save`, run in the etcd static pod's container, which has etcdctl
# and the certificates) and copies it to s3://$FERRY_ETCD_BACKUP_BUCKET/snapshots/, on the member that is
# etcd's leader only: one snapshot per interval for the cluster, taken over by the next leader when a member
# (or its zone) is lost. The bucket's lifecycle rule expires old snapshots (cdk/clusters.py).
#
# Secrets never reach a log, the console or a command line: they live in shell variables and in kubeadm's
# configuration file (mode 0600, root only), kubeadm is passed the file, and init is told not to print the
# token or the certificate key. Nothing here turns on xtrace.
#
# FERRY_ROOT prefixes every path written (empty on a node; tests/infrastructure/test_bootstrap_script.py runs the
# script against a temporary root with stand-ins for aws, curl, dnf, systemctl and kubeadm).
set -euo pipefail
umask 077

readonly CLUSTER="${FERRY_CLUSTER:?FERRY_CLUSTER is required}"
readonly ROLE="${FERRY_ROLE:?FERRY_ROLE is required (control-plane or worker)}"
readonly PARAMETERS="${FERRY_PARAMETERS:?FERRY_PARAMETERS is required}"
readonly JOIN_SECRET="${FERRY_JOIN_SECRET:?FERRY_JOIN_SECRET is required}"
readonly CONTROL_PLANE_SECRET="${FERRY_CONTROL_PLANE_SECRET:-}"
readonly BACKUP_BUCKET="${FERRY_ETCD_BACKUP_BUCKET:-}"
readonly BACKUP_MINUTES="${FERRY_ETCD_BACKUP_MINUTES:-15}"
readonly WAIT_SECONDS="${FERRY_WAIT_SECONDS:-900}"
readonly POLL_SECONDS="${FERRY_POLL_SECONDS:-10}"
readonly ROOT="${FERRY_ROOT:-}"
readonly IMDS="http://169.254.169.254/latest"
readonly API_PORT=6443

log() { echo "ferry-bootstrap[${CLUSTER}/${ROLE}]: $*" >&2; }  # never given a secret

case "${ROLE}" in
  control-plane)
    [[ -n "${CONTROL_PLANE_SECRET}" ]] || { log "FERRY_CONTROL_PLANE_SECRET is required"; exit 2; }
    [[ -n "${BACKUP_BUCKET}" ]] || { log "FERRY_ETCD_BACKUP_BUCKET is required"; exit 2; }
    [[ "${BACKUP_MINUTES}" =~ ^[1-9][0-9]*$ ]] || { log "FERRY_ETCD_BACKUP_MINUTES must be whole minutes"; exit 2; }
    ;;
  worker) ;;
  *) log "FERRY_ROLE must be control-plane or worker, got '${ROLE}'"; exit 2 ;;
esac

# --- instance metadata, IMDSv2 -------------------------------------------------------------------------------
imds_token=$(curl -sSf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "${IMDS}/api/token")
metadata() { curl -sSf -H "X-aws-ec2-metadata-token: ${imds_token}" "${IMDS}/meta-data/$1"; }
INSTANCE_ID=$(metadata instance-id)
ZONE=$(metadata placement/availability-zone)
REGION=$(metadata placement/region)
ADDRESS=$(metadata local-ipv4)
readonly INSTANCE_ID ZONE REGION ADDRESS
log "instance ${INSTANCE_ID} in ${ZONE}"

# --- settings ------------------------------------------------------------------------------------------------
parameter() {
  aws ssm get-parameter --region "${REGION}" --name "${PARAMETERS}/$1" --query Parameter.Value --output text
}
VERSION=$(parameter kubernetes-version)
ENDPOINT=$(parameter api-endpoint)
POD_CIDR=$(parameter pod-cidr)
REPOSITORY=$(parameter package-repository)
readonly VERSION ENDPOINT POD_CIDR REPOSITORY
[[ "${VERSION}" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { log "kubernetes-version must be like 1.31.4, got '${VERSION}'"; exit 2; }
log "Kubernetes ${VERSION}, API ${ENDPOINT}:${API_PORT}"

# --- the node: kernel settings, containerd, kubelet and kubeadm ----------------------------------------------
mkdir -p "${ROOT}/etc/modules-load.d" "${ROOT}/etc/sysctl.d" "${ROOT}/etc/yum.repos.d" "${ROOT}/etc/containerd"
printf 'overlay\nbr_netfilter\n' > "${ROOT}/etc/modules-load.d/kubernetes.conf"
modprobe overlay
modprobe br_netfilter
cat > "${ROOT}/etc/sysctl.d/90-kubernetes.conf" <<'EOF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
EOF
sysctl --system > /dev/null

cat > "${ROOT}/etc/yum.repos.d/kubernetes.repo" <<EOF
[kubernetes]
name=Kubernetes ${VERSION%.*}
baseurl=${REPOSITORY}
enabled=1
gpgcheck=1
gpgkey=${REPOSITORY%/}/repodata/repomd.xml.key
exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni
EOF
chmod 0644 "${ROOT}/etc/yum.repos.d/kubernetes.repo"
dnf install -y --disableexcludes=kubernetes containerd jq \
  "kubelet-${VERSION}" "kubeadm-${VERSION}" "kubectl-${VERSION}" > /dev/null
containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' > "${ROOT}/etc/containerd/config.toml"
systemctl enable --now containerd
systemctl enable kubelet

# --- what Ferry decided for this node ------------------------------------------------------------------------
secret_value() {
  aws secretsmanager get-secret-value --region "${REGION}" --secret-id "$1" --query SecretString --output text
}
field() { jq -r --arg name "$2" '.[$name] // empty' <<< "$1"; }

# Waits until the secret holds every named field; the value is left in SECRET_VALUE, never printed.
SECRET_VALUE=""
wait_for() {
  local secret="$1"; shift
  local deadline=$((SECONDS + WAIT_SECONDS)) missing
  while :; do
    missing=""
    if SECRET_VALUE=$(secret_value "${secret}" 2> /dev/null); then
      for name in "$@"; do [[ -n "$(field "${SECRET_VALUE}" "${name}")" ]] || missing="${missing} ${name}"; done
    else
      missing=" (secret unreadable)"
    fi
    [[ -z "${missing}" ]] && return 0
    if ((SECONDS >= deadline)); then
      log "gave up after ${WAIT_SECONDS}s waiting for ${secret}:${missing}"
      exit 1
    fi
    sleep "${POLL_SECONDS}"
  done
}

wait_for "${JOIN_SECRET}" token initInstance
JOIN_VALUE="${SECRET_VALUE}"
TOKEN=$(field "${JOIN_VALUE}" token)
INIT_INSTANCE=$(field "${JOIN_VALUE}" initInstance)
CERTIFICATE_KEY=""
if [[ "${ROLE}" == control-plane ]]; then
  wait_for "${CONTROL_PLANE_SECRET}" certificateKey
  CERTIFICATE_KEY=$(field "${SECRET_VALUE}" certificateKey)
fi

# --- kubeadm ---------------------------------------------------------------------------------------------------
readonly CONFIG_DIR="${ROOT}/etc/kubernetes/ferry"
readonly CONFIG="${CONFIG_DIR}/kubeadm.yaml"
mkdir -p "${CONFIG_DIR}"
chmod 0700 "${CONFIG_DIR}"
# Zone and region labels are among those a kubelet may set on its own node; Ferry reads zones from them, and
# instance ids from the provider id.
readonly LABELS="topology.kubernetes.io/zone=${ZONE},topology.kubernetes.io/region=${REGION},ferry.io/role=${ROLE}"
readonly PROVIDER_ID="aws:///${ZONE}/${INSTANCE_ID}"

node_registration() {
  cat <<EOF
nodeRegistration:
  kubeletExtraArgs:
    - name: node-labels
      value: "${LABELS}"
    - name: provider-id
      value: "${PROVIDER_ID}"
EOF
}

if [[ "${ROLE}" == control-plane && "${INIT_INSTANCE}" == "${INSTANCE_ID}" ]]; then
  log "initialising the cluster (Ferry chose this instance)"
  cat > "${CONFIG}" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
bootstrapTokens:
  - token: "${TOKEN}"
    ttl: 24h0m0s
certificateKey: "${CERTIFICATE_KEY}"
localAPIEndpoint:
  advertiseAddress: "${ADDRESS}"
  bindPort: ${API_PORT}
$(node_registration)
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
clusterName: "${CLUSTER}"
kubernetesVersion: "v${VERSION}"
controlPlaneEndpoint: "${ENDPOINT}:${API_PORT}"
networking:
  podSubnet: "${POD_CIDR}"
EOF
  chmod 0600 "${CONFIG}"
  kubeadm init --config "${CONFIG}" --upload-certs --skip-token-print --skip-certificate-key-print
else
  # A joining node also needs the CA's hash, which Ferry writes once the init node's API answers.
  wait_for "${JOIN_SECRET}" caCertHash
  CA_CERT_HASH=$(field "${SECRET_VALUE}" caCertHash)
  log "joining the cluster as ${ROLE}"
  {
    cat <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: "${ENDPOINT}:${API_PORT}"
    token: "${TOKEN}"
    caCertHashes:
      - "${CA_CERT_HASH}"
$(node_registration)
EOF
    if [[ "${ROLE}" == control-plane ]]; then
      cat <<EOF
controlPlane:
  certificateKey: "${CERTIFICATE_KEY}"
  localAPIEndpoint:
    advertiseAddress: "${ADDRESS}"
    bindPort: ${API_PORT}
EOF
    fi
  } > "${CONFIG}"
  chmod 0600 "${CONFIG}"
  kubeadm join --config "${CONFIG}"
fi

# --- etcd backups (control-plane members) -----------------------------------------------------------------------
if [[ "${ROLE}" == control-plane ]]; then
  mkdir -p "${ROOT}/etc/ferry" "${ROOT}/usr/local/sbin" "${ROOT}/etc/systemd/system"
  # crictl (the backup reaches the etcd container with it) would otherwise guess among deprecated endpoints.
  printf 'runtime-endpoint: unix:///run/containerd/containerd.sock\n' > "${ROOT}/etc/crictl.yaml"
  chmod 0644 "${ROOT}/etc/crictl.yaml"
  # No secret in here: where to write, and who this member is.
  cat > "${ROOT}/etc/ferry/etcd-backup.env" <<EOF
FERRY_CLUSTER=${CLUSTER}
FERRY_REGION=${REGION}
FERRY_INSTANCE_ID=${INSTANCE_ID}
FERRY_ETCD_BACKUP_BUCKET=${BACKUP_BUCKET}
EOF
  cat > "${ROOT}/usr/local/sbin/ferry-etcd-backup" <<'BACKUP'
#!/bin/bash
# One etcd snapshot of this control-plane member to S3, if this member is etcd's leader (written by Ferry's
# bootstrap-node.sh, run by ferry-etcd-backup.timer). The snapshot is saved inside the etcd static pod's
# container (kubeadm's image has etcdctl; /var/lib/etcd is the host's directory mounted there), copied out by
# the host's aws CLI with the node's role, and removed from the disk whatever happens.
set -euo pipefail
umask 077
readonly CLUSTER="${FERRY_CLUSTER:?}" REGION="${FERRY_REGION:?}" INSTANCE_ID="${FERRY_INSTANCE_ID:?}"
readonly BUCKET="${FERRY_ETCD_BACKUP_BUCKET:?}" ROOT="${FERRY_ROOT:-}"
readonly SNAPSHOT=/var/lib/etcd/ferry-snapshot.db  # the same path in the container and on the host
log() { echo "ferry-etcd-backup[${CLUSTER}/${INSTANCE_ID}]: $*" >&2; }

container=$(crictl ps --quiet --state running --name '^etcd$' | head -n 1)
[[ -n "${container}" ]] || { log "no running etcd container on this member"; exit 1; }
etcdctl() {
  crictl exec "${container}" etcdctl --endpoints=https://127.0.0.1:2379 \
    --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt \
    --key=/etc/kubernetes/pki/etcd/healthcheck-client.key "$@"
}
# `fields` rather than JSON: member ids are 64-bit numbers, which jq may round.
status=$(etcdctl endpoint status --write-out=fields)
member=$(awk -F' : ' '$1 == "\"MemberID\"" {print $2}' <<< "${status}")
leader=$(awk -F' : ' '$1 == "\"Leader\"" {print $2}' <<< "${status}")
[[ -n "${member}" && -n "${leader}" ]] || { log "etcd did not say who leads"; exit 1; }
if [[ "${member}" != "${leader}" ]]; then
  log "member ${member} is not the leader (${leader}): the leader takes the snapshot"
  exit 0
fi
trap 'rm -f "${ROOT}${SNAPSHOT}" "${ROOT}${SNAPSHOT}.part"' EXIT
etcdctl snapshot save "${SNAPSHOT}" > /dev/null
key="snapshots/$(date -u +%Y%m%dT%H%M%SZ)-${INSTANCE_ID}.db"  # names sort by time: the newest is the last
aws s3 cp "${ROOT}${SNAPSHOT}" "s3://${BUCKET}/${key}" --region "${REGION}" --sse AES256 --only-show-errors
log "snapshot written to s3://${BUCKET}/${key}"
BACKUP
  chmod 0755 "${ROOT}/usr/local/sbin/ferry-etcd-backup"
  cat > "${ROOT}/etc/systemd/system/ferry-etcd-backup.service" <<EOF
[Unit]
Description=Ferry: etcd snapshot to S3 (the leader's only)
After=kubelet.service

[Service]
Type=oneshot
EnvironmentFile=/etc/ferry/etcd-backup.env
ExecStart=/usr/local/sbin/ferry-etcd-backup
EOF
  cat > "${ROOT}/etc/systemd/system/ferry-etcd-backup.timer" <<EOF
[Unit]
Description=Ferry: etcd snapshot to S3 every ${BACKUP_MINUTES} minutes

[Timer]
OnBootSec=5min
OnUnitActiveSec=${BACKUP_MINUTES}min
RandomizedDelaySec=30s

[Install]
WantedBy=timers.target
EOF
  chmod 0644 "${ROOT}"/etc/systemd/system/ferry-etcd-backup.{service,timer} "${ROOT}/etc/ferry/etcd-backup.env"
  systemctl daemon-reload
  systemctl enable --now ferry-etcd-backup.timer
  log "etcd snapshots every ${BACKUP_MINUTES} minutes to s3://${BACKUP_BUCKET}/snapshots/ (leader only)"
fi

log "kubeadm finished; Ferry completes the launch once the node is Ready"
