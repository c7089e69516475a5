"""SelfManagedCluster: a kubeadm Kubernetes cluster on EC2 whose control plane Ferry can move between zones.

kube-up.sh's and kOps' masters are bound to their zone by their etcd volume: when the zone dies the member
stays dead until it returns. Here each zone has its own control-plane Auto Scaling group of one instance,
behind an internal NLB (TCP 6443, health check HTTPS /readyz), so that a member can be replaced, and in
another zone if its own is impaired (ReplaceControlPlaneMember, planned). Workers have a group per zone.

What it builds (docs/CLUSTERS.md has the picture and what is planned):

- a VPC over the cluster's zones (public subnets for the NAT gateways only, private node subnets with a NAT
  gateway per zone so that no zone depends on another's, isolated subnets for Ferry's functions), or an
  existing VPC given by id (`ClusterProps.existing_vpc`, nothing looked up);
- launch templates requiring IMDSv2 (hop limit 1: pods cannot borrow the node's role) whose user data is
  deploy/cluster/bootstrap-node.sh, reading its settings from SSM parameters and its join material from two
  secrets (workers never get the control plane's certificate key);
- Auto Scaling lifecycle hooks on launch and terminate, whose events AWS sends to EventBridge, where Ferry's
  `LifecycleActions` rule (cdk/ingestion.py) takes them to ingest;
- security groups allowing only what Kubernetes needs, instance roles limited to the cluster's own
  parameters and secrets (and, by condition, to those tagged with its `ferry:cluster` tag), an encrypted,
  versioned, SSL-only S3 bucket for etcd backups.

Not deployed by default: the CDK app builds an example only with `-c exampleCluster=<name>` (cdk/app.py).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, SecretValue, Tags, Validations
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk.constants import (
    BOOTSTRAP_SCRIPT,
    CLUSTER_PARAMETER_PATH,
    CLUSTER_SECRET_PREFIX,
    ETCD_BACKUP_MINUTES_RANGE,
    ETCD_BACKUP_RETENTION,
    ETCD_PORTS,
    ETCD_SNAPSHOT_PREFIX,
    KUBELET_PORT,
    KUBERNETES_API_PORT,
    LAUNCH_HOOK_TIMEOUT,
    LOG_RETENTION,
    NAME_PREFIX,
    TERMINATE_HOOK_TIMEOUT,
    VXLAN_PORT,
)
from cdk.grants import scoped_policy
from cdk.network import Placement
from cdk.settings import VpcSetting
from ferry.domain.conventions import CLUSTER_TAG

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class ClusterPropsError(ValueError):
    """A cluster's props are out of range; the message names the prop."""


@dataclass(frozen=True)
class ClusterProps:
    """One cluster. Later the federation configuration file feeds these; for now they are given directly."""

    name: str
    zones: tuple[str, ...]  # an odd number (etcd quorum), one control-plane member in each
    kubernetes_version: str  # e.g. 1.31.4; the package repository must serve that minor
    package_repository: str  # an RPM repository of kubelet/kubeadm/kubectl (the operator's choice or mirror)
    # SSM parameter holding the AMI id (public parameters like /aws/service/ami-amazon-linux-latest/...),
    # resolved by CloudFormation at deploy time; injectable, since moto and tests cannot hold the real names.
    ami_parameter: str
    control_plane_instance_type: str = "m6i.large"
    worker_instance_types: tuple[str, ...] = ("m6i.large", "m5.large")
    workers_per_zone: int = 2
    max_workers_per_zone: int = 5
    pod_cidr: str = "192.168.0.0/16"
    vpc_cidr: str = "10.0.0.0/16"  # for a new VPC
    # The etcd snapshot interval (the control plane's RPO): the leader's timer writes one to the bucket this often.
    etcd_backup_minutes: int = 15
    existing_vpc: VpcSetting | None = field(default=None)  # its subnets: the nodes' private subnets, one per zone

    def validate(self) -> None:
        if not _NAME.match(self.name):
            raise ClusterPropsError(f"name must be lowercase letters, digits and '-', at most 32, got {self.name!r}")
        if len(self.zones) < 3 or len(self.zones) % 2 == 0 or len(set(self.zones)) != len(self.zones):
            raise ClusterPropsError(f"zones must be an odd number (3 or more) of distinct zones, got {self.zones}")
        if not _VERSION.match(self.kubernetes_version):
            raise ClusterPropsError(f"kubernetes_version must be like 1.31.4, got {self.kubernetes_version!r}")
        if not self.package_repository.startswith("https://"):
            raise ClusterPropsError(f"package_repository must be an https URL, got {self.package_repository!r}")
        if not self.worker_instance_types:
            raise ClusterPropsError("worker_instance_types must name at least one instance type")
        if not 0 <= self.workers_per_zone <= self.max_workers_per_zone:
            raise ClusterPropsError(
                f"workers_per_zone must be from 0 to max_workers_per_zone ({self.max_workers_per_zone}), "
                f"got {self.workers_per_zone}"
            )
        low, high = ETCD_BACKUP_MINUTES_RANGE
        if not low <= self.etcd_backup_minutes <= high:
            raise ClusterPropsError(
                f"etcd_backup_minutes must be from {low} to {high} minutes, got {self.etcd_backup_minutes!r}"
            )
        if self.existing_vpc is not None:
            self.existing_vpc.validate()
            if set(self.existing_vpc.zones) != set(self.zones):
                raise ClusterPropsError(
                    f"existing_vpc must give one subnet in each of {self.zones}, got {self.existing_vpc.zones}"
                )

    @property
    def parameter_path(self) -> str:
        return f"{CLUSTER_PARAMETER_PATH}/{self.name}"

    @property
    def secret_path(self) -> str:
        return f"{CLUSTER_SECRET_PREFIX}clusters/{self.name}"


class SelfManagedCluster(Construct):
    """One cluster: its network, control plane (a group per zone), workers, API load balancer and backups."""

    def __init__(self, scope: Construct, construct_id: str, *, props: ClusterProps) -> None:
        super().__init__(scope, construct_id)
        props.validate()
        self.props = props
        Tags.of(self).add(CLUSTER_TAG, props.name)
        Tags.of(self).add(f"kubernetes.io/cluster/{props.name}", "owned")

        self.vpc, self.node_subnets, self.ferry_subnets = self._build_vpc(props)
        # The block as a literal, not the VPC's token: security group rules (and cdk-nag's checks) read it.
        self.cidr = props.existing_vpc.cidr if props.existing_vpc is not None else props.vpc_cidr
        self.backups = self._build_backups()
        self.join_secret, self.control_plane_secret = self._build_secrets(props)

        self.load_balancer_security_group = self._security_group("ApiLoadBalancer", "the API load balancer")
        self.control_plane_security_group = self._security_group("ControlPlane", "control-plane members")
        self.worker_security_group = self._security_group("Workers", "workers")
        self._allow_kubernetes_traffic()
        self.load_balancer, self.target_group = self._build_load_balancer()
        self.parameters = self._build_parameters(props)

        self.control_plane_role = self._build_role("ControlPlaneRole", "control-plane members", control_plane=True)
        self.worker_role = self._build_role("WorkerRole", "workers", control_plane=False)
        control_plane_template = self._build_launch_template(
            "ControlPlaneTemplate",
            role=self.control_plane_role,
            security_group=self.control_plane_security_group,
            node_role="control-plane",
            instance_type=props.control_plane_instance_type,
        )
        worker_template = self._build_launch_template(
            "WorkerTemplate",
            role=self.worker_role,
            security_group=self.worker_security_group,
            node_role="worker",
            instance_type=props.worker_instance_types[0],
        )
        self.control_plane_groups: dict[str, autoscaling.AutoScalingGroup] = {}
        self.worker_groups: dict[str, autoscaling.AutoScalingGroup] = {}
        self.lifecycle_hooks: list[autoscaling.LifecycleHook] = []
        for zone, subnet in zip(props.zones, self.node_subnets, strict=True):
            letter = zone[-1]
            control_plane = self._build_group(
                f"ControlPlane{letter.upper()}",
                name=f"{NAME_PREFIX}-{props.name}-control-plane-{letter}",
                subnet=subnet,
                template=control_plane_template,
                capacity=(1, 1),
                node_role="control-plane",
            )
            control_plane.attach_to_network_target_group(self.target_group)
            self.control_plane_groups[zone] = control_plane
            self.worker_groups[zone] = self._build_group(
                f"Workers{letter.upper()}",
                name=f"{NAME_PREFIX}-{props.name}-workers-{letter}",
                subnet=subnet,
                template=worker_template,
                capacity=(props.workers_per_zone, props.max_workers_per_zone),
                node_role="worker",
                instance_types=props.worker_instance_types,
            )

    # --- network ---------------------------------------------------------------------------------------------

    def _build_vpc(self, props: ClusterProps) -> tuple[ec2.IVpc, list[ec2.ISubnet], list[ec2.ISubnet]]:
        if props.existing_vpc is not None:
            placement = Placement.imported(self, props.existing_vpc)
            by_zone = {subnet.availability_zone: subnet for subnet in placement.subnets}
            # Ferry's functions then get their own subnets through the `vpc` setting (docs/NETWORK.md).
            return placement.vpc, [by_zone[zone] for zone in props.zones], []
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(props.vpc_cidr),
            availability_zones=list(props.zones),
            # One NAT gateway per zone: nodes fetch packages and images through it, and a zone's nodes must
            # not lose that when another zone fails.
            nat_gateways=len(props.zones),
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="Nodes", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19),
                # Ferry's in-VPC functions (cdk/network.py): no route out, route tables of their own.
                ec2.SubnetConfiguration(name="Ferry", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            restrict_default_security_group=True,
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        vpc.add_flow_log(
            "Rejected",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        nodes = vpc.select_subnets(subnet_group_name="Nodes").subnets
        ferry = vpc.select_subnets(subnet_group_name="Ferry").subnets
        return vpc, list(nodes), list(ferry)

    def ferry_placement(self) -> Placement:
        """Where Ferry's in-VPC functions go in this cluster's VPC: its isolated Ferry subnets."""
        if not self.ferry_subnets:
            raise ClusterPropsError("an existing VPC has no Ferry subnets of the cluster's: use the `vpc` setting")
        return Placement(vpc=self.vpc, subnets=tuple(self.ferry_subnets), api_cidr=self.cidr)

    def _security_group(self, construct_id: str, what: str) -> ec2.SecurityGroup:
        # Egress is opened rule by rule below, except HTTPS out (packages, images, AWS APIs through NAT).
        group = ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, description=f"{self.props.name}: {what}", allow_all_outbound=False
        )
        if construct_id != "ApiLoadBalancer":
            group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "packages, images and AWS APIs")
        return group

    def _allow_kubernetes_traffic(self) -> None:
        """Only what Kubernetes needs (docs/CLUSTERS.md has the table)."""
        api = ec2.Port.tcp(KUBERNETES_API_PORT)
        balancer, control_plane, workers = (
            self.load_balancer_security_group,
            self.control_plane_security_group,
            self.worker_security_group,
        )
        # Clients in the VPC reach the API through the load balancer, which forwards (and health-checks) to
        # each member; pods' traffic to the `kubernetes` Service reaches members directly.
        balancer.add_ingress_rule(ec2.Peer.ipv4(self.cidr), api, "Kubernetes API clients in the VPC")
        balancer.connections.allow_to(control_plane, api, "API and /readyz health checks")
        control_plane.connections.allow_from(control_plane, api, "API between members")
        control_plane.connections.allow_from(workers, api, "API from kubelets and pods")
        control_plane.connections.allow_from(
            control_plane, ec2.Port.tcp_range(*ETCD_PORTS), "etcd clients and peers between members"
        )
        kubelet = ec2.Port.tcp(KUBELET_PORT)
        control_plane.connections.allow_from(control_plane, kubelet, "kubelet API from the API server")
        workers.connections.allow_from(control_plane, kubelet, "kubelet API from the API server")
        # The pod network: the CNI's VXLAN overlay (Calico in VXLAN mode) between every pair of nodes.
        vxlan = ec2.Port.udp(VXLAN_PORT)
        for source in (control_plane, workers):
            for target in (control_plane, workers):
                target.connections.allow_from(source, vxlan, "pod network (VXLAN)")

    def allow_api_from(self, peer: ec2.IConnectable, description: str) -> None:
        """Let `peer` (Ferry's in-VPC functions) reach the API through the load balancer, and every member's API
        directly, as the probe does. The rules are made from the peer's side: when the peer is in another stack
        (Ferry's, which already depends on this one for the VPC), CDK puts both halves of each rule there, and
        no dependency from this stack on Ferry's (a cycle) is created."""
        api = ec2.Port.tcp(KUBERNETES_API_PORT)
        peer.connections.allow_to(self.load_balancer_security_group, api, f"{description}: the API load balancer")
        peer.connections.allow_to(self.control_plane_security_group, api, f"{description}: control-plane members")

    def _build_load_balancer(self) -> tuple[elbv2.NetworkLoadBalancer, elbv2.NetworkTargetGroup]:
        balancer = elbv2.NetworkLoadBalancer(
            self,
            "Api",
            vpc=self.vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnets=self.node_subnets),
            cross_zone_enabled=True,  # a member in any zone serves clients of every zone
            security_groups=[self.load_balancer_security_group],
        )
        target_group = elbv2.NetworkTargetGroup(
            self,
            "ApiTargets",
            vpc=self.vpc,
            target_type=elbv2.TargetType.INSTANCE,  # the control-plane groups register their instances
            port=KUBERNETES_API_PORT,
            protocol=elbv2.Protocol.TCP,
            # A member reaching the API through the balancer may be sent to itself: with the client's address
            # kept, that hairpin connection fails; the members see the balancer's address instead.
            preserve_client_ip=False,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                protocol=elbv2.Protocol.HTTPS,
                path="/readyz",
                port=str(KUBERNETES_API_PORT),
                interval=Duration.seconds(10),
                healthy_threshold_count=2,
                unhealthy_threshold_count=2,
            ),
        )
        balancer.add_listener(
            "Api",
            port=KUBERNETES_API_PORT,
            protocol=elbv2.Protocol.TCP,
            default_action=elbv2.NetworkListenerAction.forward([target_group]),
        )
        Validations.of(balancer).acknowledge(
            Acknowledgment(
                id="AwsSolutions-ELB2",
                reason=(
                    "A Network Load Balancer writes access logs for TLS listeners only; this one passes TCP "
                    "through to the API servers, which terminate TLS and keep their own audit log."
                ),
            )
        )
        return balancer, target_group

    # --- settings, secrets, backups --------------------------------------------------------------------------

    def _build_parameters(self, props: ClusterProps) -> dict[str, ssm.StringParameter]:
        values = {
            "kubernetes-version": props.kubernetes_version,
            "api-endpoint": self.load_balancer.load_balancer_dns_name,
            "pod-cidr": props.pod_cidr,
            "package-repository": props.package_repository,
        }
        return {
            name: ssm.StringParameter(
                self,
                f"Parameter{name.title().replace('-', '')}",
                parameter_name=f"{props.parameter_path}/{name}",
                string_value=value,
                description=f"{props.name}: {name}, read by deploy/cluster/bootstrap-node.sh",
            )
            for name, value in values.items()
        }

    def _build_secrets(self, props: ClusterProps) -> tuple[secretsmanager.Secret, secretsmanager.Secret]:
        def secret(construct_id: str, name: str, holds: str) -> secretsmanager.Secret:
            created = secretsmanager.Secret(
                self,
                construct_id,
                secret_name=f"{props.secret_path}/{name}",
                description=f"{props.name}: {holds}; written by Ferry, read by the nodes' bootstrap script",
                # Empty until Ferry writes it: the nodes wait for the fields they need (bootstrap-node.sh).
                secret_string_value=SecretValue.unsafe_plain_text("{}"),
            )
            Validations.of(created).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-SMG4",
                    reason=(
                        "Ferry writes and renews this value itself (BootstrapNode, planned: a bootstrap token is "
                        "replaced before its 24-hour expiry, the certificate key with each upload); a Secrets "
                        "Manager rotation function would race it."
                    ),
                )
            )
            return created

        return (
            secret("JoinSecret", "join", "bootstrap token, CA hash and the init instance"),
            secret("ControlPlaneSecret", "control-plane", "the certificate key of kubeadm's uploaded certificates"),
        )

    def _build_backups(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "EtcdBackups",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,  # a cluster's last backup outlives a deleted stack
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-snapshots",
                    expiration=ETCD_BACKUP_RETENTION,
                    noncurrent_version_expiration=Duration.days(7),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )
        Validations.of(bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason=(
                    "Only the cluster's etcd leader writes snapshots here (control-plane roles may only put objects "
                    "under snapshots/), every write is a versioned object; a server access log bucket per cluster "
                    "would have no reader, and CloudTrail data events cover audits where the account enables them."
                ),
            )
        )
        return bucket

    # --- nodes -----------------------------------------------------------------------------------------------

    def _build_role(self, construct_id: str, what: str, *, control_plane: bool) -> iam.Role:
        role = iam.Role(
            self,
            construct_id,
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"{self.props.name} {what}: their own settings and join material, nothing else",
        )
        # Named resources, and only while they carry this cluster's tag.
        tagged = {"StringEquals": {f"aws:ResourceTag/{CLUSTER_TAG}": self.props.name}}
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[parameter.parameter_arn for parameter in self.parameters.values()],
                conditions=tagged,
            )
        )
        if control_plane:
            # The etcd leader's snapshots (bootstrap-node.sh's timer): new objects under snapshots/ only; never a
            # read, a delete or a listing (old snapshots leave by the bucket's lifecycle rule).
            scoped_policy(
                self,
                "EtcdSnapshots",
                role=role,
                statements=[
                    iam.PolicyStatement(
                        actions=["s3:PutObject"], resources=[self.backups.arn_for_objects(f"{ETCD_SNAPSHOT_PREFIX}*")]
                    )
                ],
                reason=(
                    "Each etcd snapshot is a new object named by its time and member, unknown at deploy time; only "
                    "PutObject, only under this cluster's own backup bucket's snapshots/ prefix."
                ),
            )
        secrets = [self.join_secret] + ([self.control_plane_secret] if control_plane else [])
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[secret.secret_arn for secret in secrets],
                conditions=tagged,
            )
        )
        return role

    def _build_launch_template(
        self,
        construct_id: str,
        *,
        role: iam.Role,
        security_group: ec2.SecurityGroup,
        node_role: str,
        instance_type: str,
    ) -> ec2.LaunchTemplate:
        settings = {
            "FERRY_CLUSTER": self.props.name,
            "FERRY_ROLE": node_role,
            "FERRY_PARAMETERS": self.props.parameter_path,
            "FERRY_JOIN_SECRET": f"{self.props.secret_path}/join",
        }
        if node_role == "control-plane":
            settings["FERRY_CONTROL_PLANE_SECRET"] = f"{self.props.secret_path}/control-plane"
            settings["FERRY_ETCD_BACKUP_BUCKET"] = self.backups.bucket_name
            settings["FERRY_ETCD_BACKUP_MINUTES"] = str(self.props.etcd_backup_minutes)
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(
            *(f"export {key}={shlex.quote(value)}" for key, value in settings.items()),
            bootstrap_script_body(),
        )
        return ec2.LaunchTemplate(
            self,
            construct_id,
            machine_image=ec2.MachineImage.from_ssm_parameter(self.props.ami_parameter),
            instance_type=ec2.InstanceType(instance_type),
            role=role,
            security_group=security_group,
            user_data=user_data,
            require_imdsv2=True,
            http_put_response_hop_limit=1,  # containers cannot reach the node's credentials
            detailed_monitoring=True,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        40, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3, delete_on_termination=True
                    ),
                )
            ],
        )

    def _build_group(
        self,
        construct_id: str,
        *,
        name: str,
        subnet: ec2.ISubnet,
        template: ec2.LaunchTemplate,
        capacity: tuple[int, int],
        node_role: str,
        instance_types: tuple[str, ...] = (),
    ) -> autoscaling.AutoScalingGroup:
        mixed = (
            autoscaling.MixedInstancesPolicy(
                launch_template=template,
                launch_template_overrides=[
                    autoscaling.LaunchTemplateOverrides(instance_type=ec2.InstanceType(t)) for t in instance_types
                ],
                instances_distribution=autoscaling.InstancesDistribution(on_demand_percentage_above_base_capacity=100),
            )
            if instance_types
            else None
        )
        group = autoscaling.AutoScalingGroup(
            self,
            construct_id,
            auto_scaling_group_name=name,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=[subnet]),
            launch_template=None if mixed else template,
            mixed_instances_policy=mixed,
            min_capacity=capacity[0],
            max_capacity=capacity[1],
        )
        # The instance's launch waits for Ferry (BootstrapNode, planned: CONTINUE once the node is Ready, or
        # ABANDON); its termination waits for DrainNode, which completes the hook with CONTINUE once drained.
        # The events carry the cluster and the node's role, so that ingest need not look the group up.
        metadata = json.dumps({"cluster": self.props.name, "role": node_role}, separators=(",", ":"))
        self.lifecycle_hooks += [
            group.add_lifecycle_hook(
                "Launch",
                lifecycle_hook_name=f"{NAME_PREFIX}-launch",
                lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_LAUNCHING,
                default_result=autoscaling.DefaultResult.ABANDON,
                notification_metadata=metadata,
                heartbeat_timeout=LAUNCH_HOOK_TIMEOUT,
            ),
            group.add_lifecycle_hook(
                "Terminate",
                lifecycle_hook_name=f"{NAME_PREFIX}-terminate",
                lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
                default_result=autoscaling.DefaultResult.CONTINUE,
                notification_metadata=metadata,
                heartbeat_timeout=TERMINATE_HOOK_TIMEOUT,
            ),
        ]
        for rule, reason in _GROUP_ACKNOWLEDGEMENTS.items():
            Validations.of(group).acknowledge(Acknowledgment(id=rule, reason=reason))
        if mixed is not None:
            Validations.of(group).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-EC26",
                    reason=(
                        "cdk-nag's EC26 throws on a launch template given through a MixedInstancesPolicy instead of "
                        "checking it; the template's only volume is encrypted, which "
                        "tests/infrastructure/test_cdk_clusters.py checks for every template."
                    ),
                )
            )
        return group


_GROUP_ACKNOWLEDGEMENTS = {
    "AwsSolutions-AS2": (
        "EC2 health checks on purpose: replacing a control-plane member whose API is not ready would remove an "
        "etcd member without the care ReplaceControlPlaneMember takes, and a worker's readiness is Kubernetes' "
        "business; the load balancer's /readyz health check only steers traffic."
    ),
    "AwsSolutions-AS3": (
        "Every launch and termination passes a lifecycle hook whose events AWS sends to EventBridge, where "
        "Ferry's ingestion rule takes them to the ingest function; SNS notifications would duplicate them."
    ),
}


def bootstrap_script_body() -> str:
    """deploy/cluster/bootstrap-node.sh without its shebang (the user data has its own)."""
    lines = BOOTSTRAP_SCRIPT.read_text().splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("#!") else lines)
