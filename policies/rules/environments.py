"""Environments: what one stack declares belongs to that stack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pulumi_policy import PolicyResource, Severity

from .base import Rule, label_map, stack_of

STACK_LABELS = ("preflight.stack", "preflight-stack", "stack")  # docker, hcloud, older


def labels_of(resource: PolicyResource) -> dict[str, str]:
    labels = resource.props.get("labels") or []
    return dict(labels) if isinstance(labels, Mapping) else label_map(resource.props)  # hcloud: a map; docker: a list


def labels_match_stack(resources: Sequence[PolicyResource]):
    for resource in resources:
        if "labels" not in resource.props:
            continue
        stack = stack_of(resource.urn)
        for key, value in labels_of(resource).items():
            if key in STACK_LABELS and value != stack:
                yield (f"{resource.name} is labelled {key}={value} but belongs to stack {stack}; a stack never "
                       "declares another environment's resources (copied config?)", resource)


RULES = [
    Rule("PF-ENV-001", "environments", "Every labelled resource belongs to the stack that declares it.",
         Severity.HIGH, "production and staging never share secrets, domains, servers or databases",
         check=labels_match_stack),
]
