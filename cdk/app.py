"""The CDK app entry point: `cdk.json` runs `python -m cdk.app`; `python -m cdk.synth` builds it in-process.

The AwsSolutions checks of cdk-nag run on every synth, so a finding fails the build where it is introduced.
Acknowledgements are made next to the resource they concern (never here, never for a whole stack), each
with the reason a reviewer needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from cdk.cluster_stack import ExampleClusterStack
from cdk.clusters import ClusterProps
from cdk.constants import (
    CDK_JSON,
    DEFAULT_CLUSTER_AMI_PARAMETER,
    DEFAULT_KUBERNETES_VERSION,
    STACK_ID,
    ExampleClusterKey,
)
from cdk.settings import Settings, SettingsError
from cdk.stack import FerryStack


def project_context() -> dict[str, Any]:
    """The context of cdk.json (feature flags), which the CDK CLI would pass but in-process synth must read."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def build_app(*, outdir: str | None = None, context: Mapping[str, Any] | None = None) -> App:
    """The app with Ferry's stack and the AwsSolutions checks, not yet synthesized."""
    app = App(outdir=outdir, context=dict(context) if context is not None else None)
    settings = Settings.from_context(app.node)
    example = example_cluster_props(app, settings)
    if example is None:
        FerryStack(app, STACK_ID, settings=settings)
    else:
        # Ferry goes into the example cluster's VPC (its isolated Ferry subnets), and may reach the cluster's API
        # through its load balancer and each control-plane member directly (the probe's /readyz per member).
        cluster = ExampleClusterStack(app, f"{STACK_ID}Cluster-{example.name}", settings=settings, props=example)
        ferry = FerryStack(app, STACK_ID, settings=settings, placement=cluster.cluster.ferry_placement())
        if ferry.network is not None:  # always, given a placement
            cluster.cluster.allow_api_from(ferry.network.security_group, "Ferry's in-VPC functions")
    Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
    return app


def example_cluster_props(app: App, settings: Settings) -> ClusterProps | None:
    """The example cluster's props (`-c exampleCluster=<name>`), over zones a, b and c of the region; or None."""
    name = app.node.try_get_context(ExampleClusterKey.EXAMPLE_CLUSTER)
    if not name:
        return None
    repository = app.node.try_get_context(ExampleClusterKey.PACKAGE_REPOSITORY)
    if not repository:
        raise SettingsError(
            f"context '{ExampleClusterKey.PACKAGE_REPOSITORY}' (an https RPM repository of kubeadm, kubelet and "
            f"kubectl {DEFAULT_KUBERNETES_VERSION.rsplit('.', 1)[0]}) is required with "
            f"'{ExampleClusterKey.EXAMPLE_CLUSTER}'"
        )
    props = ClusterProps(
        name=str(name),
        zones=tuple(f"{settings.region}{letter}" for letter in "abc"),
        kubernetes_version=DEFAULT_KUBERNETES_VERSION,
        package_repository=str(repository),
        ami_parameter=str(app.node.try_get_context(ExampleClusterKey.AMI_PARAMETER) or DEFAULT_CLUSTER_AMI_PARAMETER),
    )
    try:
        props.validate()
    except ValueError as error:
        raise SettingsError(f"context '{ExampleClusterKey.EXAMPLE_CLUSTER}': {error}") from None
    return props


def main() -> None:
    # Under the CDK CLI, the context (cdk.json and -c) and the output folder come from the environment.
    build_app().synth()


if __name__ == "__main__":
    main()
