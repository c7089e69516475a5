"""`python -m cdk.synth`: synthesize Ferry offline, without the CDK CLI, AWS credentials or Docker.

`make synth` runs this. It reads cdk.json's context like the CLI would, accepts the same `-c key=value`
settings, and writes the cloud assembly (templates, bundled assets, cdk-nag's report) to cdk.out.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cdk.app import build_app, project_context
from cdk.configuration import ConfigurationError
from cdk.constants import DEFAULT_OUTDIR
from cdk.settings import SettingsError


def _context_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cdk.synth", description=__doc__)
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        type=_context_pair,
        default=[],
        metavar="KEY=VALUE",
        help=(
            "context value (account, region, mode, notifyEmail, logLevel, probeIntervalMinutes, config, vpc, "
            "dynamodbPrefixList, exampleCluster, clusterPackageRepository, clusterAmiParameter); repeatable"
        ),
    )
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTDIR, help="cloud assembly folder")
    args = parser.parse_args(argv)

    started = time.monotonic()
    context = {**project_context(), **dict(args.context)}
    try:
        app = build_app(outdir=str(args.output), context=context)
        assembly = app.synth()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ConfigurationError as error:
        print("error: the configuration file is not valid:", *error.problems, sep="\n  ", file=sys.stderr)
        return 2
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        # cdk-nag has printed each finding above; the report is the same in machine-readable form.
        print(f"error: unacknowledged cdk-nag findings, see {args.output / 'validation-report.json'}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {Path(assembly.directory) / stack.template_file} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
