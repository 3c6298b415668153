"""Data that can silently vanish: Redis that holds data but evicts it when full, and a scheduler on
every application server (each job fires once per server)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pulumi_policy import PolicyResource, Severity
from pulumi_policy.proxy import UnknownValueError

from components.scheduling import looks_like_scheduler

from .base import CONTAINER, label_map, of_type, role, rule_maker

NO_EVICTION = "noeviction"  # Redis' default


def eviction_policy(cache: PolicyResource) -> str:
    """What Redis runs with: `--maxmemory-policy` on its command line, else its uploaded redis.conf."""
    command = [str(word) for word in cache.props.get("command") or []]
    if "--maxmemory-policy" in command[:-1]:
        return command[command.index("--maxmemory-policy") + 1]
    for upload in cache.props.get("uploads") or []:
        for line in str(upload.get("content") or "").splitlines():
            words = line.split("#", 1)[0].split()
            if words[:1] == ["maxmemory-policy"] and len(words) > 1:
                return words[1]
    return NO_EVICTION


def volumes_of(container: PolicyResource) -> set[str]:
    """The volumes a container mounts: the resources its `volumes` input depends on, and the names it gives."""
    found = {d.urn for d in container.property_dependencies.get("volumes", [])}
    for volume in container.props.get("volumes") or []:
        try:
            found.add(str(volume.get("volumeName") or ""))
        except UnknownValueError:
            pass  # another resource's output: the dependency above names that resource
    return found - {""}


def redis_keeps_its_data(resources: Sequence[PolicyResource]):
    containers = of_type(resources, CONTAINER)
    backed_up = set().union(*[volumes_of(c) for c in containers if role(c.props) == "backup"])
    for cache in (c for c in containers if role(c.props) == "cache"):
        if volumes_of(cache) & backed_up and eviction_policy(cache) != NO_EVICTION:
            yield (f"{cache.name} holds data (its volume is backed up) but evicts keys when full "
                   f"(maxmemory-policy {eviction_policy(cache)}); set maxmemory-policy noeviction "
                   "(settings: cache.maxmemory_policy)", cache)


def service_of(container: PolicyResource) -> str:
    """The service a container runs, the same on every application server (preflight-api-app2 -> preflight-api)."""
    return re.sub(r"-app\d+$", "", label_map(container.props).get("preflight.component") or container.name)


def scheduler_runs_once(resources: Sequence[PolicyResource]):
    copies: dict[str, list[PolicyResource]] = {}
    for container in of_type(resources, CONTAINER):
        if role(container.props) == "service":
            copies.setdefault(service_of(container), []).append(container)
    for service, containers in sorted(copies.items()):
        command = [str(word) for c in containers for word in c.props.get("command") or []]
        if len(containers) > 1 and looks_like_scheduler([service, *command]):
            for extra in containers[1:]:
                yield (f"{extra.name} is one of {len(containers)} copies of the scheduler {service}, one per server: "
                       f"each job fires {len(containers)} times; run it on one application server (settings: "
                       "services.<name>.placement: one_app_server)", extra)


_rule = rule_maker("data")

RULES = [
    _rule("PF-DATA-007", "Redis that holds data (backed up) never evicts it.", Severity.HIGH,
          "Postgres data on a persistent volume that survives container and server replacement; scheduled backups",
          redis_keeps_its_data),
    _rule("PF-DATA-008", "A scheduler runs on one server only.", Severity.HIGH,
          "zero-downtime replacement for stateless services; every job runs once", scheduler_runs_once),
]
