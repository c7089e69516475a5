"""Local stand-ins for what Ferry talks to, so the demo and the end-to-end tests run on one machine.

`sandbox.kube` serves the real Kubernetes REST API with in-process controllers; `sandbox.aws` puts moto
behind a fault-injecting proxy. Ferry's production code talks to them through its ordinary adapters and
never knows it is not talking to the real thing.
"""
