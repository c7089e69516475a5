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

from cdk.constants import CDK_JSON, STACK_ID
from cdk.settings import Settings
from cdk.stack import FerryStack


def project_context() -> dict[str, Any]:
    """The context of cdk.json (feature flags), which the CDK CLI would pass but in-process synth must read."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def build_app(*, outdir: str | None = None, context: Mapping[str, Any] | None = None) -> App:
    """The app with Ferry's stack and the AwsSolutions checks, not yet synthesized."""
    app = App(outdir=outdir, context=dict(context) if context is not None else None)
    FerryStack(app, STACK_ID, settings=Settings.from_context(app.node))
    Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
    return app


def main() -> None:
    # Under the CDK CLI, the context (cdk.json and -c) and the output folder come from the environment.
    build_app().synth()


if __name__ == "__main__":
    main()
