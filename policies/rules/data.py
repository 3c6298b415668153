"""Data: Postgres and Redis only on the internal network, on volumes, protected, backed up."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ResourceValidationArgs, Severity

from components.transport import PRIVATE_NETWORKS

from .base import (
    CONTAINER,
    NETWORK,
    VOLUME,
    env_items,
    image_repository,
    is_data_container,
    is_one_shot,
    number,
    of_type,
    role,
    rule_maker,
)

HCLOUD_SERVER = "hcloud:index/server:Server"
HCLOUD_VOLUME = "hcloud:index/volume:Volume"
HCLOUD_PRIMARY_IP = "hcloud:index/primaryIp:PrimaryIp"
NO_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"  # false: containers have no route out
PRIVATE_RANGES = PRIVATE_NETWORKS  # RFC 1918 and unique-local, shared with the settings
MAX_BACKUP_INTERVAL_S = 3600  # RPO <= 1 h
OTHER_DATABASES = ("mysql", "mariadb", "mongo")


def on_private_address(port: Mapping[str, Any]) -> bool:
    """Published on an address of a private network (RFC 1918 or unique-local; Hetzner's networks
    are), not on every interface, loopback or a public address."""
    try:
        address = ipaddress.ip_address(port.get("ip") or "0.0.0.0")
    except ValueError:
        return False
    return any(address in network for network in PRIVATE_RANGES)


def no_published_ports(props: Mapping[str, Any]) -> Iterator[str]:
    if not is_data_container(props):
        return
    public = [p for p in props.get("ports") or [] if not on_private_address(p)]
    if public or props.get("publishAllPorts"):
        published = ", ".join(f"{p.get('ip') or '0.0.0.0'}:{number(p.get('external'))}->{number(p.get('internal'))}"
                              for p in public)
        yield (f"remove the published ports ({published or 'publishAllPorts'}); the {role(props)} is reached only "
               "over the internal Docker network, or on the servers' private network address")


def data_on_volume(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) != "database" or is_one_shot(props):
        return
    if not any(v.get("volumeName") for v in props.get("volumes") or []) and \
            not any(m.get("type") == "volume" for m in props.get("mounts") or []):
        yield "keep the database's data directory on a named Docker volume so it survives container replacement"


def is_app_server(props: Mapping[str, Any]) -> bool:
    """An application server (several behind a load balancer) keeps nothing: replaceable at will."""
    labels = props.get("labels")
    return isinstance(labels, Mapping) and labels.get("preflight-role") == "app"


def stateful_protected(args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == CONTAINER and not is_data_container(args.props):
        return  # a stateless container
    if args.resource_type == HCLOUD_SERVER and is_app_server(args.props):
        return
    if not args.opts.protect:
        yield "protect this stateful resource (ResourceOptions(protect=True)) so `destroy` or a replace cannot drop data"


def data_on_internal_networks(resources: Sequence[PolicyResource]):
    networks = {r.urn: r for r in of_type(resources, NETWORK)}
    by_name = {r.props.get("name"): r for r in networks.values() if r.props.get("name")}
    for container in of_type(resources, CONTAINER):
        if not is_data_container(container.props):
            continue
        attached = [d for d in container.property_dependencies.get("networksAdvanced", []) if d.urn in networks]
        if not attached:
            attached = [by_name[n.get("name")] for n in container.props.get("networksAdvanced") or [] if n.get("name") in by_name]
        # The docker provider reports networkMode "bridge" by default even when the container is
        # attached only to networksAdvanced; only the host mode or no attachment at all is a breach.
        if container.props.get("networkMode") == "host" or not attached:
            yield (f"attach {container.name} only to an internal Docker network (internal=True), not the default bridge "
                   "or the host network", container)
        for network in attached:
            if not (network.props.get("internal") or without_route_out(network.props)):
                yield (f"{container.name} is on network {network.name}, which is not internal; data services join "
                       "only internal networks (or, to be published on the private network, a network with "
                       f"{NO_MASQUERADE}=false)", container)


def without_route_out(props: Mapping[str, Any]) -> bool:
    return str((props.get("options") or {}).get(NO_MASQUERADE, "")).lower() == "false"


def backups_scheduled(resources: Sequence[PolicyResource]):
    containers = of_type(resources, CONTAINER)
    databases = [c for c in containers if role(c.props) == "database"]
    backups = [c for c in containers if role(c.props) == "backup"]
    if databases and not backups:
        yield ("add a backup job (a container labelled preflight.role=backup) for the database, with "
               "BACKUP_INTERVAL_S <= 3600 and BACKUP_RETENTION_DAYS set", databases[0])
    for job in backups:
        env = dict(env_items(job.props))
        interval = int(env.get("BACKUP_INTERVAL_S") or 0)
        if not 0 < interval <= MAX_BACKUP_INTERVAL_S:
            yield f"set BACKUP_INTERVAL_S to at most {MAX_BACKUP_INTERVAL_S} on {job.name} (RPO <= 1 h)", job
        if int(env.get("BACKUP_RETENTION_DAYS") or 0) < 1:
            yield f"state the retention: set BACKUP_RETENTION_DAYS on {job.name}", job


def connection_limit_set(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) == "database" and image_repository(props.get("image") or "") not in OTHER_DATABASES and \
            not any("max_connections" in part for part in props.get("command") or []):
        yield "set Postgres max_connections explicitly (settings: database.max_connections) and size pools to fit"


_rule = rule_maker("data")


RULES = [
    _rule("PF-DATA-001", "Postgres and Redis publish no port beyond the private network.", Severity.CRITICAL,
          "Postgres/Redis reachable only on an internal network (no published port, no firewall opening)",
          no_published_ports, types=(CONTAINER,)),
    _rule("PF-DATA-002", "Postgres and Redis are attached only to networks without a route out.", Severity.CRITICAL,
          "Postgres/Redis reachable only on an internal network", data_on_internal_networks),
    _rule("PF-DATA-003", "The database keeps its data on a named volume.", Severity.HIGH,
          "Postgres data on a persistent volume that survives container and server replacement",
          data_on_volume, types=(CONTAINER,)),
    _rule("PF-DATA-004", "Stateful resources are protected from deletion.", Severity.HIGH,
          "`protect`/deletion protection on stateful resources in production", stateful_protected,
          types=(CONTAINER, VOLUME, HCLOUD_SERVER, HCLOUD_VOLUME, HCLOUD_PRIMARY_IP), production_only=True,
          takes_args=True),
    _rule("PF-DATA-005", "The database has a scheduled backup job with a stated retention.", Severity.HIGH,
          "scheduled backups with a stated retention (RPO <= 1 h)", backups_scheduled, production_only=True),
    _rule("PF-DATA-006", "Postgres sets max_connections explicitly.", Severity.LOW,
          "connection pool sizes set", connection_limit_set, types=(CONTAINER,)),
]
