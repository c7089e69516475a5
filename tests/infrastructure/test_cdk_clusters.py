"""SelfManagedCluster (cdk/clusters.py): a control plane Ferry can move, and nothing more open than Kubernetes needs.

What a user cares about: a control-plane member in each zone behind an internal API load balancer that only
sends traffic to ready members; launches and terminations that wait for Ferry and reach its ingestion rule;
nodes that reach only their own settings and join material (workers never the control plane's key); security
groups that open exactly the Kubernetes ports; backups that cannot be read publicly or lost to a delete; and
none of it in the default synth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack

from cdk.cluster_stack import ExampleClusterStack
from cdk.clusters import ClusterProps, ClusterPropsError
from cdk.constants import ETCD_PORTS, KUBELET_PORT, KUBERNETES_API_PORT, VXLAN_PORT
from cdk.settings import SubnetSetting, VpcSetting
from ferry.domain.conventions import CLUSTER_TAG
from tests.infrastructure import test_cdk_nag
from tests.infrastructure.synthesis import CLUSTER_STACK_ID, Synthesized
from tests.infrastructure.test_cdk_network import IN_VPC

pytestmark = pytest.mark.xdist_group("cdk-synth")

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture(scope="module")
def stack(cluster_synthesized: Synthesized) -> ExampleClusterStack:
    found = cluster_synthesized.app.node.find_child(CLUSTER_STACK_ID)
    assert isinstance(found, ExampleClusterStack)
    return found


@pytest.fixture(scope="module")
def resources(cluster_synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return dict(cluster_synthesized.template_of(CLUSTER_STACK_ID)["Resources"])


def _id(stack: Stack, construct: Any) -> str:
    return str(stack.get_logical_id(getattr(construct.node, "default_child", None) or construct))


def _props(resources: dict[str, dict[str, Any]], stack: Stack, construct: Any) -> dict[str, Any]:
    return dict(resources[_id(stack, construct)]["Properties"])


def _of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value["Properties"] for key, value in resources.items() if value["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- built only when asked for ---------------------------------------------------------------------------


def test_the_default_synth_builds_no_cluster(synthesized: Synthesized) -> None:
    stacks = [child.node.id for child in synthesized.app.node.children if isinstance(child, Stack)]
    assert stacks == ["Ferry"]


# --- one control-plane member per zone, workers per zone ------------------------------------------------


def test_each_zone_has_a_control_plane_group_of_one_and_a_worker_group(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    cluster = stack.cluster
    subnets = _of_type(resources, "AWS::EC2::Subnet")
    assert list(cluster.control_plane_groups) == list(ZONES) == list(cluster.worker_groups)
    for zone in ZONES:
        control_plane = _props(resources, stack, cluster.control_plane_groups[zone])
        workers = _props(resources, stack, cluster.worker_groups[zone])
        assert (control_plane["MinSize"], control_plane["MaxSize"]) == ("1", "1")
        assert (workers["MinSize"], workers["MaxSize"]) == ("2", "5")
        for group in (control_plane, workers):
            (subnet,) = group["VPCZoneIdentifier"]
            assert subnets[subnet["Ref"]]["AvailabilityZone"] == zone
        assert control_plane["TargetGroupARNs"] == [{"Ref": _id(stack, cluster.target_group)}]
        assert "TargetGroupARNs" not in workers
        overrides = workers["MixedInstancesPolicy"]["LaunchTemplate"]["Overrides"]
        assert [o["InstanceType"] for o in overrides] == ["m6i.large", "m5.large"]
    names = sorted(
        g["AutoScalingGroupName"] for g in _of_type(resources, "AWS::AutoScaling::AutoScalingGroup").values()
    )
    assert names == sorted(
        [f"ferry-east-1-control-plane-{z[-1]}" for z in ZONES] + [f"ferry-east-1-workers-{z[-1]}" for z in ZONES]
    )


def test_every_group_has_a_launch_and_a_terminate_hook_that_wait_for_ferry(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    hooks = _of_type(resources, "AWS::AutoScaling::LifecycleHook")
    groups = [*stack.cluster.control_plane_groups.values(), *stack.cluster.worker_groups.values()]
    for group in groups:
        mine = {
            h["LifecycleTransition"]: h
            for h in hooks.values()
            if h["AutoScalingGroupName"] == {"Ref": _id(stack, group)}
        }
        assert set(mine) == {"autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING"}
        launch, terminate = mine["autoscaling:EC2_INSTANCE_LAUNCHING"], mine["autoscaling:EC2_INSTANCE_TERMINATING"]
        assert launch["DefaultResult"] == "ABANDON"  # a node Ferry never saw Ready does not join the group
        assert terminate["DefaultResult"] == "CONTINUE"  # a node goes, drained or not, after the timeout
        assert terminate["HeartbeatTimeout"] > 300  # DrainNode's deadline is 5 minutes
        for hook in (launch, terminate):
            # No SNS/SQS target: Auto Scaling sends lifecycle events to EventBridge, where Ferry's rule is.
            assert "NotificationTargetARN" not in hook and "RoleARN" not in hook
            metadata = json.loads(hook["NotificationMetadata"])
            assert metadata["cluster"] == "east-1" and metadata["role"] in {"control-plane", "worker"}
    assert len(hooks) == 2 * len(groups)


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for the exact-value patterns Ferry's lifecycle rule uses."""
    for key, wanted in pattern.items():
        if isinstance(wanted, dict):
            if not isinstance(event.get(key), dict) or not _matches(wanted, event[key]):
                return False
        elif event.get(key) not in wanted:
            return False
    return True


@pytest.mark.parametrize("transition", ["launch", "terminate"])
def test_ferrys_ingestion_rule_takes_these_groups_lifecycle_events(
    synthesized: Synthesized, stack: ExampleClusterStack, resources: dict[str, dict[str, Any]], transition: str
) -> None:
    (rule,) = [r for r in synthesized.stack.ingestion.rules if r.node.id == "LifecycleActions"]
    pattern = synthesized.resources[synthesized.logical_id(rule)]["Properties"]["EventPattern"]
    sample = json.loads((EVENTS / f"autoscaling-{transition}-lifecycle.json").read_text())
    hooks = _of_type(resources, "AWS::AutoScaling::LifecycleHook").values()
    groups = _of_type(resources, "AWS::AutoScaling::AutoScalingGroup").values()
    for group in groups:
        for hook in hooks:
            event = {
                **sample,
                "detail": {
                    **sample["detail"],
                    "AutoScalingGroupName": group["AutoScalingGroupName"],
                    "LifecycleHookName": hook["LifecycleHookName"],
                    "NotificationMetadata": hook["NotificationMetadata"],
                },
            }
            assert _matches(pattern, event), (group["AutoScalingGroupName"], hook["LifecycleHookName"])


# --- the API's load balancer ------------------------------------------------------------------------------


def test_the_api_is_an_internal_nlb_that_sends_only_to_ready_members(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    cluster = stack.cluster
    balancer = _props(resources, stack, cluster.load_balancer)
    assert balancer["Type"] == "network" and balancer["Scheme"] == "internal"
    assert {"Key": "load_balancing.cross_zone.enabled", "Value": "true"} in balancer["LoadBalancerAttributes"]
    (listener,) = _of_type(resources, "AWS::ElasticLoadBalancingV2::Listener").values()
    assert (listener["Port"], listener["Protocol"]) == (KUBERNETES_API_PORT, "TCP")
    targets = _props(resources, stack, cluster.target_group)
    assert (targets["Port"], targets["Protocol"], targets["TargetType"]) == (KUBERNETES_API_PORT, "TCP", "instance")
    assert (targets["HealthCheckProtocol"], targets["HealthCheckPath"], targets["HealthCheckPort"]) == (
        "HTTPS",
        "/readyz",
        str(KUBERNETES_API_PORT),
    )
    assert {"Key": "preserve_client_ip.enabled", "Value": "false"} in targets["TargetGroupAttributes"]


# --- nodes: launch templates, roles ------------------------------------------------------------------------


def test_launch_templates_require_imdsv2_encrypt_and_run_the_bootstrap_script(
    resources: dict[str, dict[str, Any]],
) -> None:
    templates = _of_type(resources, "AWS::EC2::LaunchTemplate")
    assert len(templates) == 2
    roles = set()
    for template in templates.values():
        data = template["LaunchTemplateData"]
        assert data["MetadataOptions"] == {"HttpPutResponseHopLimit": 1, "HttpTokens": "required"}
        ((device),) = data["BlockDeviceMappings"]
        assert device["Ebs"]["Encrypted"] is True
        assert data["Monitoring"] == {"Enabled": True}
        user_data = json.dumps(data["UserData"])
        raw = data["UserData"]["Fn::Base64"]  # control-plane members': joined with the backup bucket's name
        parts = [raw] if isinstance(raw, str) else raw["Fn::Join"][1]
        longest = "".join(part if isinstance(part, str) else "b" * 63 for part in parts)  # a bucket name: <= 63
        assert len(longest.encode()) < 16 * 1024  # EC2 refuses more user data
        assert "export FERRY_CLUSTER=east-1" in user_data and "set -euo pipefail" in user_data
        assert "kubeadm init --config" in user_data and "kubeadm join --config" in user_data
        role = "control-plane" if "FERRY_ROLE=control-plane" in user_data else "worker"
        roles.add(role)
        assert ("export FERRY_CONTROL_PLANE_SECRET=" in user_data) == (role == "control-plane")
        assert data["ImageId"]["Ref"].startswith("SsmParameterValue")
    assert roles == {"control-plane", "worker"}


def _role_statements(stack: Stack, resources: dict[str, dict[str, Any]], role: Any) -> list[dict[str, Any]]:
    role_ref = {"Ref": _id(stack, role)}
    return [
        statement
        for policy in _of_type(resources, "AWS::IAM::Policy").values()
        if role_ref in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize("node_role", ["control-plane", "worker"])
def test_nodes_read_their_own_settings_and_join_material_only_while_tagged_with_their_cluster(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]], node_role: str
) -> None:
    cluster = stack.cluster
    role = cluster.control_plane_role if node_role == "control-plane" else cluster.worker_role
    # (Control-plane members also write etcd snapshots: the next test.)
    statements = [s for s in _role_statements(stack, resources, role) if s["Action"] != "s3:PutObject"]
    granted = {action: statement for statement in statements for action in _as_list(statement["Action"])}
    assert set(granted) == {"ssm:GetParameter", "secretsmanager:GetSecretValue"}
    for statement in statements:
        assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{CLUSTER_TAG}": "east-1"}}
        assert "*" not in json.dumps(statement["Resource"])
    named = [json.dumps(r) for r in _as_list(granted["ssm:GetParameter"]["Resource"])]
    parameters = [_id(stack, p) for p in cluster.parameters.values()]
    assert sorted(next(p for p in parameters if p in arn) for arn in named) == sorted(parameters)
    secrets = {r["Ref"] for r in _as_list(granted["secretsmanager:GetSecretValue"]["Resource"])}
    expected = {_id(stack, cluster.join_secret)}
    if node_role == "control-plane":
        expected.add(_id(stack, cluster.control_plane_secret))
    assert secrets == expected  # a worker never reads the certificate key of the control plane's certificates


def test_only_control_plane_members_write_etcd_snapshots_and_only_new_objects_under_snapshots(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    cluster = stack.cluster
    bucket = _id(stack, cluster.backups)
    writes = [s for s in _role_statements(stack, resources, cluster.control_plane_role) if "s3:" in json.dumps(s)]
    assert writes == [
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/snapshots/*"]]},
        }
    ]
    assert not [s for s in _role_statements(stack, resources, cluster.worker_role) if "s3:" in json.dumps(s)]
    # The timer's settings reach the members' user data (bootstrap-node.sh installs the timer).
    for template in _of_type(resources, "AWS::EC2::LaunchTemplate").values():
        user_data = json.dumps(template["LaunchTemplateData"]["UserData"])
        control_plane = "FERRY_ROLE=control-plane" in user_data
        assert ("export FERRY_ETCD_BACKUP_MINUTES=15" in user_data) == control_plane
        assert ("export FERRY_ETCD_BACKUP_BUCKET=" in user_data and {"Ref": bucket} == _bucket_ref(user_data)) == (
            control_plane
        )


def _bucket_ref(user_data: str) -> dict[str, str] | None:
    """The token right after `export FERRY_ETCD_BACKUP_BUCKET=` in a launch template's user data (JSON text)."""
    parts = json.loads(user_data)["Fn::Base64"]["Fn::Join"][1]
    for index, part in enumerate(parts):
        if isinstance(part, str) and part.rstrip("'").endswith("export FERRY_ETCD_BACKUP_BUCKET="):
            following = parts[index + 1]
            return following if isinstance(following, dict) else None
    return None


def test_the_clusters_resources_carry_its_tag_for_those_conditions(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    cluster = stack.cluster
    for construct in (*cluster.parameters.values(), cluster.join_secret, cluster.control_plane_secret):
        tags = _props(resources, stack, construct)["Tags"]
        tags = tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags}
        assert tags[CLUSTER_TAG] == "east-1"
    for group in _of_type(resources, "AWS::AutoScaling::AutoScalingGroup").values():
        assert {"Key": CLUSTER_TAG, "PropagateAtLaunch": True, "Value": "east-1"} in group["Tags"]


# --- security groups ---------------------------------------------------------------------------------------


def test_security_groups_open_only_the_kubernetes_ports(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    cluster = stack.cluster
    names = {
        _id(stack, cluster.load_balancer_security_group): "balancer",
        _id(stack, cluster.control_plane_security_group): "control-plane",
        _id(stack, cluster.worker_security_group): "workers",
    }

    def group(ref: Any) -> str:
        return names[ref["Fn::GetAtt"][0]] if isinstance(ref, dict) else ref

    ingress = set()
    for rule in _of_type(resources, "AWS::EC2::SecurityGroupIngress").values():
        source = group(rule["SourceSecurityGroupId"]) if "SourceSecurityGroupId" in rule else rule["CidrIp"]
        ingress.add((group(rule["GroupId"]), source, rule["IpProtocol"], rule["FromPort"], rule["ToPort"]))
    for logical_id, properties in _of_type(resources, "AWS::EC2::SecurityGroup").items():
        for rule in properties.get("SecurityGroupIngress", []):
            ingress.add((names[logical_id], rule["CidrIp"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"]))
    api, kubelet, (etcd_low, etcd_high) = KUBERNETES_API_PORT, KUBELET_PORT, ETCD_PORTS
    assert ingress == {
        ("balancer", "10.0.0.0/16", "tcp", api, api),
        ("control-plane", "balancer", "tcp", api, api),
        ("control-plane", "control-plane", "tcp", api, api),
        ("control-plane", "workers", "tcp", api, api),
        ("control-plane", "control-plane", "tcp", etcd_low, etcd_high),
        ("control-plane", "control-plane", "tcp", kubelet, kubelet),
        ("workers", "control-plane", "tcp", kubelet, kubelet),
        ("control-plane", "control-plane", "udp", VXLAN_PORT, VXLAN_PORT),
        ("control-plane", "workers", "udp", VXLAN_PORT, VXLAN_PORT),
        ("workers", "control-plane", "udp", VXLAN_PORT, VXLAN_PORT),
        ("workers", "workers", "udp", VXLAN_PORT, VXLAN_PORT),
    }


def test_ferrys_subnets_in_the_clusters_vpc_have_no_route_out(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    placement = stack.cluster.ferry_placement()
    assert len(placement.subnets) == len(ZONES)
    associations = _of_type(resources, "AWS::EC2::SubnetRouteTableAssociation").values()
    routes = _of_type(resources, "AWS::EC2::Route").values()
    for subnet in placement.subnets:
        subnet_id = stack.get_logical_id(subnet.node.default_child)  # type: ignore[arg-type]
        (table,) = [a["RouteTableId"] for a in associations if a["SubnetId"] == {"Ref": subnet_id}]
        assert [r for r in routes if r["RouteTableId"] == table] == []  # no NAT, no internet gateway


# --- Ferry in the cluster's VPC ------------------------------------------------------------------------------


def test_ferrys_kubernetes_functions_run_in_the_clusters_ferry_subnets_and_reach_its_api_on_6443(
    cluster_synthesized: Synthesized, stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    ferry = cluster_synthesized.stack
    assert ferry.network is not None
    functions_group = {"Fn::GetAtt": [cluster_synthesized.logical_id(ferry.network.security_group), "GroupId"]}
    ferry_subnets = {_id(stack, subnet) for subnet in stack.cluster.ferry_placement().subnets}

    def output_of(reference: Any) -> str:
        """The cluster stack's output a Ferry resource reads (a cross-stack reference)."""
        found = reference["Fn::GetStackOutput"]
        assert found["StackName"] == CLUSTER_STACK_ID
        return str(found["OutputName"])

    placed = {
        f.spec.name: cluster_synthesized.resources[cluster_synthesized.logical_id(f.function)]["Properties"].get(
            "VpcConfig"
        )
        for f in ferry.functions
    }
    assert {name for name, config in placed.items() if config} == IN_VPC
    for name in IN_VPC:
        config = placed[name]
        assert config["SecurityGroupIds"] == [functions_group], name
        subnets = [output_of(subnet) for subnet in config["SubnetIds"]]
        # One isolated Ferry subnet per zone of the cluster, nothing of the nodes' subnets.
        assert len(subnets) == len(ZONES) and all("FerrySubnet" in s for s in subnets), (name, subnets)
        assert all(any(logical in s for logical in ferry_subnets) for s in subnets), (name, subnets)

    # Ferry's group may open 6443 to the load balancer and to each member; the rules live in Ferry's stack.
    balancer = _id(stack, stack.cluster.load_balancer_security_group)
    members = _id(stack, stack.cluster.control_plane_security_group)
    ingress = {
        (output_of(r["Properties"]["GroupId"]), r["Properties"]["FromPort"], r["Properties"]["ToPort"])
        for r in cluster_synthesized.of_type("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("SourceSecurityGroupId") == functions_group
        and "Fn::GetStackOutput" in r["Properties"]["GroupId"]
    }
    api = KUBERNETES_API_PORT
    assert {(next(g for g in (balancer, members) if g in out), low, high) for out, low, high in ingress} == {
        (balancer, api, api),
        (members, api, api),
    }
    # The cluster's stack reads nothing of Ferry's: Ferry depends on the cluster, never the other way round.
    assert "Fn::GetStackOutput" not in json.dumps(resources) and "Fn::ImportValue" not in json.dumps(resources)


# --- backups -----------------------------------------------------------------------------------------------


def test_the_etcd_backup_bucket_is_private_encrypted_versioned_ssl_only_and_expires_old_snapshots(
    stack: ExampleClusterStack, resources: dict[str, dict[str, Any]]
) -> None:
    bucket_id = _id(stack, stack.cluster.backups)
    bucket = resources[bucket_id]
    assert bucket["DeletionPolicy"] == "Retain"
    properties = bucket["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == 30
    (policy,) = [p for p in _of_type(resources, "AWS::S3::BucketPolicy").values() if p["Bucket"] == {"Ref": bucket_id}]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- cdk-nag ---------------------------------------------------------------------------------------------


# aws-cdk-lib's own acknowledgements of its CloudFormation validation (the VPC's literal zones, the flow log's
# camelCase destination options): not Ferry's, and outside the AwsSolutions checks.
CDK_OWN = {"W3010", "F3002", "F3003"}


def test_cdk_nag_reports_nothing_and_each_acknowledgement_says_why(
    cluster_synthesized: Synthesized, stack: ExampleClusterStack
) -> None:
    test_cdk_nag.test_synth_with_aws_solutions_checks_reports_nothing(cluster_synthesized)
    ours = {}
    for (path, rule), reason in test_cdk_nag._acknowledgements(cluster_synthesized).items():
        if path.startswith(CLUSTER_STACK_ID):
            if rule in CDK_OWN:
                continue
            ours[(path, rule)] = reason
            assert rule.startswith("AwsSolutions-") and path.count("/") >= 2, (path, rule)
            assert len(reason.split()) >= 12 and reason.rstrip().endswith("."), (path, rule, reason)
    assert {rule for _, rule in ours} == {
        "AwsSolutions-S1",
        "AwsSolutions-SMG4",
        "AwsSolutions-ELB2",
        "AwsSolutions-AS2",
        "AwsSolutions-AS3",
        "AwsSolutions-EC26",
        # etcd snapshots: new objects under the bucket's snapshots/ prefix, nothing wider
        f"AwsSolutions-IAM5[Resource::<{_id(stack, stack.cluster.backups)}.Arn>/snapshots/*]",
    }


# --- props ---------------------------------------------------------------------------------------------------

GOOD = ClusterProps(
    name="east-1",
    zones=ZONES,
    kubernetes_version="1.31.4",
    package_repository="https://packages.example.com/kubernetes/v1.31/rpm/",
    ami_parameter="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"name": "East_1"}, "name must be", id="bad-name"),
        pytest.param({"zones": ZONES[:2]}, "odd number", id="two-zones-no-quorum"),
        pytest.param({"etcd_backup_minutes": 2}, "etcd_backup_minutes must be from 5 to 60", id="backups-too-often"),
        pytest.param({"zones": (*ZONES, "us-east-1d")}, "odd number", id="four-zones"),
        pytest.param({"zones": (ZONES[0], ZONES[0], ZONES[1])}, "distinct", id="zone-twice"),
        pytest.param({"kubernetes_version": "v1.31"}, "kubernetes_version", id="bad-version"),
        pytest.param({"package_repository": "http://x"}, "https URL", id="plain-http-repository"),
        pytest.param({"worker_instance_types": ()}, "worker_instance_types", id="no-worker-type"),
        pytest.param({"workers_per_zone": 6}, "workers_per_zone", id="more-than-max"),
        pytest.param(
            {
                "existing_vpc": VpcSetting(
                    "vpc-0123456789abcdef0",
                    "10.0.0.0/16",
                    tuple(SubnetSetting(f"subnet-0{z * 16}", f"us-east-1{z}", f"rtb-0{z * 16}") for z in "abd"),
                )
            },
            "existing_vpc must give one subnet in each",
            id="existing-vpc-other-zones",
        ),
    ],
)
def test_wrong_props_fail_naming_the_prop(changes: dict[str, Any], message: str) -> None:
    from dataclasses import replace

    with pytest.raises(ClusterPropsError, match=message):
        replace(GOOD, **changes).validate()
    GOOD.validate()


def test_the_example_needs_a_package_repository_and_names_the_setting() -> None:
    from aws_cdk import App

    from cdk.app import example_cluster_props
    from cdk.settings import Settings, SettingsError

    assert example_cluster_props(App(), Settings()) is None
    with pytest.raises(SettingsError, match="'clusterPackageRepository'"):
        example_cluster_props(App(context={"exampleCluster": "east-1"}), Settings())
    with pytest.raises(SettingsError, match="'exampleCluster': name must be"):
        example_cluster_props(
            App(context={"exampleCluster": "East_1", "clusterPackageRepository": "https://x.example.com/"}), Settings()
        )
