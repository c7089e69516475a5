"""The disruption controller: keeps each PodDisruptionBudget's status current for the eviction API.

Healthy pods are Ready and not being deleted; pods the eviction API just let go (`disruptedPods`) are not
counted for two minutes or until they are gone; percentages count against the owning controllers' scale.
"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

from sandbox.kube import resources
from sandbox.kube.controllers import Context
from sandbox.kube.controllers.owners import scaled_value
from sandbox.kube.errors import ApiError
from sandbox.kube.objects import (
    Obj,
    clone,
    controller_of,
    is_deleting,
    is_pod_ready,
    labels_of,
    name_of,
    namespace_of,
    parse_time,
    set_condition,
    uid_of,
)
from sandbox.kube.selectors import SelectorError, from_label_selector

_DISRUPTED_POD_TIMEOUT = timedelta(minutes=2)


class DisruptionController:
    """Keeps each PodDisruptionBudget's status (healthy pods, allowed disruptions) current."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.registry = context.registry

    def sync(self) -> None:
        for pdb in self.context.store.list(resources.POD_DISRUPTION_BUDGETS.key):
            self._sync(pdb)

    def _sync(self, pdb: Obj) -> None:
        store, spec, namespace = self.context.store, pdb.get("spec") or {}, namespace_of(pdb)
        try:
            selector = from_label_selector(spec.get("selector") or {})
        except SelectorError:
            return
        pods = [pod for pod in store.list(resources.PODS.key, namespace) if selector.matches(labels_of(pod))]
        min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
        if isinstance(min_available, int):
            expected, desired = len(pods), min_available
        else:
            expected = self._expected(pods)
            if max_unavailable is not None:
                desired = max(expected - scaled_value(max_unavailable, expected, round_up=True), 0)
            else:
                desired = scaled_value(min_available, expected, round_up=True)
        now = self.context.clock.now()
        by_name = {name_of(pod): pod for pod in pods}
        disrupted = {
            name: when
            for name, when in ((pdb.get("status") or {}).get("disruptedPods") or {}).items()
            if name in by_name and not is_deleting(by_name[name]) and parse_time(when) + _DISRUPTED_POD_TIMEOUT > now
        }
        healthy = sum(1 for pod in pods if is_pod_ready(pod) and not is_deleting(pod) and name_of(pod) not in disrupted)
        allowed = max(healthy - desired, 0)
        status = clone(pdb.get("status") or {})
        status.update(
            observedGeneration=pdb["metadata"].get("generation", 1),
            disruptionsAllowed=allowed,
            currentHealthy=healthy,
            desiredHealthy=desired,
            expectedPods=expected,
        )
        if disrupted:
            status["disruptedPods"] = disrupted
        else:
            status.pop("disruptedPods", None)
        reason = "SufficientPods" if allowed > 0 else "InsufficientPods"
        set_condition(
            status,
            {
                "type": "DisruptionAllowed",
                "status": "True" if allowed > 0 else "False",
                "reason": reason,
                "message": "",
                "observedGeneration": status["observedGeneration"],
            },
            self.registry.now(),
        )
        if status == pdb.get("status"):
            return
        version = pdb["metadata"]["resourceVersion"]

        def write(obj: Obj) -> None:
            # UpdateStatus of the budget as this pass read it: the eviction API may have spent a disruption
            # since (disruptionsAllowed down, the pod in disruptedPods). The server refuses the stale write
            # with 409 and the next pass, which that eviction asked for, counts again.
            obj["metadata"]["resourceVersion"] = version
            obj["status"] = status

        try:
            self.registry.mutate(resources.POD_DISRUPTION_BUDGETS, namespace, name_of(pdb), write, subresource="status")
        except ApiError as error:
            if error.code != HTTPStatus.CONFLICT:
                raise

    def _expected(self, pods: list[Obj]) -> int:
        """Percentages count against the owning controllers' scale, as the real controller does."""
        scales: dict[str, int] = {}
        loose = 0
        for pod in pods:
            ref = controller_of(pod)
            owner = self._owner(pod, ref) if ref else None
            if owner is None:
                loose += 1
            else:
                scales[uid_of(owner)] = owner.get("spec", {}).get("replicas", 1)
        return sum(scales.values()) + loose

    def _owner(self, pod: Obj, ref: Obj) -> Obj | None:
        kinds = {"StatefulSet": resources.STATEFUL_SETS, "ReplicaSet": resources.REPLICA_SETS}
        rt = kinds.get(ref.get("kind", ""))
        if rt is None:
            return None
        owner = self.context.store.get(rt.key, namespace_of(pod), ref.get("name", ""))
        return owner if owner is not None and uid_of(owner) == ref.get("uid") else None
