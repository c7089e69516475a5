"""A Kubernetes API server for the sandbox: the real REST API over HTTP, with in-process controllers.

`KubeCluster` is the facade; `SandboxClock` the time it runs on; `VolumeProvisioner` what it calls to make
EBS volumes. See `cluster.py` for the knobs and `server.py`/`registry.py` for the API semantics.
"""

from sandbox.kube.clock import SandboxClock
from sandbox.kube.cluster import KubeCluster
from sandbox.kube.controllers import VolumeProvisioner

__all__ = ["KubeCluster", "SandboxClock", "VolumeProvisioner"]
