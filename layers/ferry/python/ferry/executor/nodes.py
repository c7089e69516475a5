"""Giving a fenced node back once it is healthy again: the out-of-service taint comes off, the cordon stays.

The taint told Kubernetes to force-delete the node's pods and detach its volumes while its kubelet was gone;
once the kubelet is back (the probe sees it Ready with a fresh lease), Kubernetes' own guidance is to remove
it. The cordon Ferry put on stays until failback, so nothing is scheduled onto the node before its zone has
been quiet for the hold-down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from ferry.adapters.kube_writes import KubeWriter
from ferry.adapters.reporting import AuditLog
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.modes import Mode
from ferry.executor import may_act
from ferry.observability import logger

OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


class NodeReleaser:
    def __init__(self, mode: Mode, *, connect: Callable[[ClusterRegistration], KubeWriter], audit: AuditLog) -> None:
        self._mode = mode
        self._connect = connect
        self._audit = audit

    def release(self, registration: ClusterRegistration, nodes: Iterable[str], *, now: datetime) -> list[str]:
        """Lift the out-of-service taint from these nodes; return the ones it was lifted from (audited)."""
        wanted = list(nodes)
        if not wanted or not may_act(self._mode):
            return []
        released = []
        with self._connect(registration) as writer:
            for node in wanted:
                if writer.remove_taint(node, OUT_OF_SERVICE):
                    self._audit.record(
                        f"release:{registration.name}:{node}:{int(now.timestamp())}",
                        now,
                        {
                            "what": f"lifted {OUT_OF_SERVICE} from {registration.name}/{node}",
                            "who": "ferry-probe",
                            "why": "the node Ferry fenced is Ready again with a fresh lease; its cordon stays",
                            "mode": self._mode.value,
                        },
                    )
                    released.append(node)
        if released:
            logger.info("fenced nodes released", extra={"cluster": registration.name, "nodes": released})
        return released
