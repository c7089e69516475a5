"""Ferry's CDK app: one stack per account and region, one construct per capability (see cdk/stack.py).

jsii starts a Node.js process for every synth and prints a banner on each start when that Node.js release
is past its end of life (this machine runs Node 20). The banner says nothing the operator can act on during
a synth, so it is silenced here, before any module of the package imports aws_cdk; an explicit setting in
the environment still wins.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
