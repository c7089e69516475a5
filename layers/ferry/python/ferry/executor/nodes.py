"""Giving a fenced node back once it is healthy again: Ferry's out-of-service taint comes off, the cordon stays.

The taint told Kubernetes to force-delete the node's pods and detach its volumes while its kubelet was gone;
once the kubelet is back (the probe sees it Ready with a fresh lease), Kubernetes' own guidance is to remove
it. Only the taint Ferry added comes off: its mark (`ferry.io/out-of-service`, written in the same write as the
taint) says so, and `ferry.domain.rehoming.failback.release_of` is the one rule, shared with failback. A
person's out-of-service taint (no mark) stays whatever the node's state. The write is conditioned on the
node's resourceVersion and made again from a fresh read on 409. The cordon Ferry put on stays until failback,
so nothing is scheduled onto the node before its zone has been quiet for the hold-down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from ferry.adapters.kube_writes import KubeWriter
from ferry.adapters.reporting import AuditLog
from ferry.domain.clusters import ClusterRegistration
from ferry.domain.modes import Mode
from ferry.domain.rehoming.inventory import OUT_OF_SERVICE_TAINT as OUT_OF_SERVICE
from ferry.executor import may_act
from ferry.observability import logger


class NodeReleaser:
    def __init__(self, mode: Mode, *, connect: Callable[[ClusterRegistration], KubeWriter], audit: AuditLog) -> None:
        self._mode = mode
        self._connect = connect
        self._audit = audit

    def release(self, registration: ClusterRegistration, nodes: Iterable[str], *, now: datetime) -> list[str]:
        """Lift Ferry's out-of-service taint from these nodes; return the ones it was lifted from (audited)."""
        wanted = list(nodes)
        if not wanted or not may_act(self._mode):
            return []
        released = []
        with self._connect(registration) as writer:
            for node in wanted:
                if OUT_OF_SERVICE in writer.release(node).taints:
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
