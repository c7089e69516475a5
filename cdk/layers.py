"""The Lambda layers every Ferry function is assembled from.

Three layers, split by how often they change and who needs them: `ferry` (Ferry's own package, changes
with every feature), `deps` (pinned third-party runtime dependencies, changes rarely) and `kubernetes` (the
official client, 84 MB installed, only for functions that talk to clusters). A function that does not need
Kubernetes does not pay for it in size or cold start, and the kubernetes layer is not even published until a
function asks for it.
"""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk.bundling import layer_code
from cdk.constants import ARCHITECTURE, DEPS_LAYER, FERRY_LAYER, KUBERNETES_LAYER, RUNTIME, FunctionSpec, LayerSpec


class FerryLayers(Construct):
    """Builds each layer once per stack and hands every function the ones it needs."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.ferry = self._build_layer(FERRY_LAYER)
        self.deps = self._build_layer(DEPS_LAYER)
        self._kubernetes: lambda_.ILayerVersion | None = None

    @property
    def kubernetes(self) -> lambda_.ILayerVersion:
        if self._kubernetes is None:
            self._kubernetes = self._build_layer(KUBERNETES_LAYER)
        return self._kubernetes

    def for_function(self, spec: FunctionSpec) -> list[lambda_.ILayerVersion]:
        """The layers a function needs. Their order in the template is CDK's (the recognizeLayerVersion flag
        of cdk.json sorts them), not this list's: harmless, as no two layers ship the same path (tested)."""
        if spec.kubernetes:
            return [self.deps, self.kubernetes, self.ferry]
        return [self.deps, self.ferry]

    def _build_layer(self, spec: LayerSpec) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            spec.name.capitalize(),
            code=layer_code(spec),
            description=spec.description,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
