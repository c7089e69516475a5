"""Ferry: keeps Kubernetes workloads on AWS alive when a zone, a node or a control plane fails.

This package is the shared code every Ferry Lambda function imports from its layer. The domain modules
(signals, translators, detection, planning) are pure; only `ferry.adapters` talks to AWS or Kubernetes.
"""
