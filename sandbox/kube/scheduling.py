"""Matching rules shared by the scheduler, the taint eviction controller and the volume controllers.

Taints against tolerations, node selectors and required node affinity, and a PersistentVolume's node
affinity against a node: the same predicates decide where a pod may run, when it must leave a node, and
in which zone a volume can be used.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.objects import Obj, labels_of, name_of


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """`v1.Toleration.ToleratesTaint`."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    if (toleration.get("operator") or "Equal") == "Exists":
        return True
    return (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(pod: Obj, taints: list[Obj], effects: tuple[str, ...]) -> list[Obj]:
    tolerations = pod.get("spec", {}).get("tolerations") or []
    return [
        taint
        for taint in taints
        if taint.get("effect") in effects and not any(tolerates(toleration, taint) for toleration in tolerations)
    ]


def _expression_matches(expression: Obj, labels: dict[str, str]) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator")
    values = expression.get("values") or []
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:
        try:
            actual, bound = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return actual > bound if operator == "Gt" else actual < bound
    return False


def _term_matches(term: Obj, node: Obj) -> bool:
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term selects nothing
    labels = labels_of(node)
    return all(_expression_matches(expression, labels) for expression in expressions) and all(
        _expression_matches(field, {"metadata.name": name_of(node)}) for field in fields
    )


def node_selector_matches(selector: Obj | None, node: Obj) -> bool:
    """A `v1.NodeSelector`: its terms are ORed."""
    if selector is None:
        return True
    return any(_term_matches(term, node) for term in selector.get("nodeSelectorTerms") or [])


def pod_fits_node_affinity(pod: Obj, node: Obj) -> bool:
    """`spec.nodeSelector` and required node affinity (what the NodeAffinity filter checks)."""
    spec: dict[str, Any] = pod.get("spec", {})
    labels = labels_of(node)
    if any(labels.get(key) != value for key, value in (spec.get("nodeSelector") or {}).items()):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return node_selector_matches(required, node)


def volume_fits_node(volume: Obj, node: Obj) -> bool:
    """A PersistentVolume's `spec.nodeAffinity.required` (an EBS volume's zone) against a node."""
    required = (volume.get("spec", {}).get("nodeAffinity") or {}).get("required")
    return node_selector_matches(required, node)
