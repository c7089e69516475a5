"""API discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/<group>/<version>`) and `/version`.

Clients learn what a server serves from these before they talk to it (kubectl, the dynamic client,
`kubernetes.utils.create_from_yaml`), so they are generated from the same resource table the REST layer
routes on: what discovery lists is exactly what the server answers.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.kube.resources import ALL_VERBS, RESOURCES, ResourceType, groups


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{version}", "version": version} for version in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list() -> dict[str, Any]:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(name, versions) for name, versions in groups().items()],
    }


def api_group(name: str) -> dict[str, Any] | None:
    versions = groups().get(name)
    if versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entries(rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(ALL_VERBS),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    entries = [main]
    for sub in rt.subresources:
        entry: dict[str, Any] = {
            "name": f"{rt.plural}/{sub.name}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": sub.kind or rt.kind,
            "verbs": list(sub.verbs),
        }
        if sub.group is not None:
            entry["group"], entry["version"] = sub.group, sub.version
        entries.append(entry)
    return entries


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    served = [rt for rt in RESOURCES if rt.group == group and rt.version == version]
    if not served:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for rt in served for entry in _entries(rt)],
    }


def version_info(git_version: str) -> dict[str, str]:
    """`/version` for a configured gitVersion such as `v1.31.0` or `v1.31.2-eks-7f9249a`."""
    match = re.match(r"^v(\d+)\.(\d+)", git_version)
    if not match:
        raise ValueError(f"not a Kubernetes gitVersion: {git_version!r} (expected e.g. v1.31.0)")
    minor = match.group(2) + ("+" if "-" in git_version else "")
    return {
        "major": match.group(1),
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": "9edcffcde5595e8a5b1a35f88c421764e575afce",
        "gitTreeState": "clean",
        "buildDate": "2024-08-13T07:28:49Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }
