"""Ferry: keeps Kubernetes workloads on AWS alive when a zone, a node or a control plane fails.

This package is the shared code every Ferry Lambda function imports from its layer, in four layers
(import-linter enforces them, docs/ARCHITECTURE.md explains them):

- `ferry.services`: what each function does, start to end: read through adapters, decide, hand to the executor;
- `ferry.executor`: the only code that changes the world and the only code that reads the mode or a dry run;
- `ferry.adapters`: the only code that imports boto3, botocore or kubernetes; they store and fetch, never decide;
- `ferry.domain`: pure decisions (signals, translators, detection, re-homing planning), no I/O at all.
"""
