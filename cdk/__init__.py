"""Ferry's CDK app: one stack per account and region, one construct per capability (see cdk/stack.py).

jsii starts a Node.js process for every synth and prints a banner on each start when that Node.js release
is past its end of life (this machine runs Node 20). The banner says nothing the operator can act on during
a synth, so it is silenced here, before any module of the package imports aws_cdk; an explicit setting in
the environment still wins.

The app imports two pure modules of the Ferry package: `ferry.domain.conventions` (the tags and names its IAM
conditions must share with the code that writes them) and `ferry.domain.configuration` (the reader of the
configuration file, with the models it checks the file against). The Ferry layer's folder goes on `sys.path`
here, once, so that `python -m cdk.app` (cdk.json), `python -m cdk.synth` and the tests import it the same
way. Nothing else of Ferry is imported by the app (tests/infrastructure/test_cdk_conventions.py checks it).
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

FERRY_LAYER_PATH = str(Path(__file__).resolve().parent.parent / "layers" / "ferry" / "python")
if FERRY_LAYER_PATH not in sys.path:
    sys.path.append(FERRY_LAYER_PATH)
