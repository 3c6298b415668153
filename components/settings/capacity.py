"""Capacity arithmetic across sections: the containers' memory limits against each server's memory
(leaving room for the system), and the connection pools against Postgres' max_connections (the
checklist alerts at 80 % of it, so steady demand stays below that)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..cloud_settings import HetznerHost
from ..ssh_settings import SshHost
from .backup import BACKUP_JOB_MEMORY_MB
from .errors import fix_at

if TYPE_CHECKING:
    from .stack import StackSettings

# Hetzner Cloud server types by name: memory in MB (shared vCPU cx/cpx/cax, dedicated ccx).
HETZNER_MEMORY_MB = {
    "cx11": 2048, "cx21": 4096, "cx31": 8192, "cx41": 16384, "cx51": 32768,
    "cx22": 4096, "cx32": 8192, "cx42": 16384, "cx52": 32768,
    "cpx11": 2048, "cpx21": 4096, "cpx31": 8192, "cpx41": 16384, "cpx51": 32768,
    "cax11": 4096, "cax21": 8192, "cax31": 16384, "cax41": 32768,
    "ccx13": 8192, "ccx23": 16384, "ccx33": 32768, "ccx43": 65536, "ccx53": 131072, "ccx63": 196608,
}
SYSTEM_RESERVE_MB, SYSTEM_RESERVE_SHARE = 512, 0.10  # the kernel, Docker, sshd, fail2ban: the larger of the two
MONITORING_OTHERS = 6  # Alertmanager, the node, Postgres, Redis, blackbox and container exporters
CONNECTIONS_ALERT_SHARE = 0.80  # the checklist: connections > 80 % of the pool alert
# Postgres' superuser_reserved_connections (3), the backup job's pg_dump, a migration, the monitoring exporter.
PLATFORM_CONNECTIONS = {"reserved for superusers": 3, "backup": 1, "migrations": 1}


def app_server_count(s: StackSettings) -> int:
    host = s.host
    if isinstance(host, SshHost):
        return max(len(host.servers) - 1, 1)
    return host.app_servers


ServerMemory = tuple[tuple[str, ...], str, int | None, bool]


def servers_memory(s: StackSettings) -> list[ServerMemory]:
    """(setting, server, its memory in MB or None when unknown, whether it is the data server)."""
    host = s.host
    if isinstance(host, HetznerHost):
        data: list[ServerMemory] = [(("host", "server_type"), f"{host.server_name} ({host.server_type})",
                 HETZNER_MEMORY_MB.get(host.server_type), True)]
        if not host.multi_host:
            return data
        app_type = host.app_server_type or host.server_type
        return data + [(("host", "app_server_type"), f"{host.app_server_name(1)} ({app_type})",
                        HETZNER_MEMORY_MB.get(app_type), False)]
    if isinstance(host, SshHost):
        found: list[ServerMemory] = [(("host", "servers", str(i), "memory_mb"), f"{host.server_name(i)} ({server.address})",
                  server.memory_mb, i == 0) for i, server in enumerate(host.servers)]
        return found if host.multi_host else found[:1]
    return []  # the local engine: its memory is whatever the machine has


def containers_on(s: StackSettings, data_server: bool) -> dict[str, int]:
    """Memory limits of the long-running containers on a server (the first application server when
    there are several: it also runs the services placed on one server)."""
    alone = not s.host.multi_host
    found: dict[str, int] = {}
    if data_server:
        found.update({"postgres": s.database.limits.memory_mb, "redis": s.cache.limits.memory_mb,
                      "backup": BACKUP_JOB_MEMORY_MB})
        if s.monitoring.enabled:  # components/monitoring: Prometheus and six others on the exporters' limits
            found["prometheus"] = s.monitoring.prometheus_limits.memory_mb
            found["alertmanager and the exporters"] = MONITORING_OTHERS * s.monitoring.exporter_limits.memory_mb
    if alone or not data_server:
        found["proxy"] = s.proxy.limits.memory_mb
        found.update({name: service.limits.memory_mb for name, service in s.services.items()})
    return found


def containers_fit_their_servers(s: StackSettings) -> None:
    for setting, server, memory, data_server in servers_memory(s):
        if memory is None:
            continue  # a type not in the table, or a server you have whose memory_mb is not declared
        limits = containers_on(s, data_server)
        services = [limits[name] for name in s.services if name in limits]
        rollout = max(services, default=0)  # a new release starts beside the old one
        reserve = max(SYSTEM_RESERVE_MB, int(memory * SYSTEM_RESERVE_SHARE))
        need = sum(limits.values()) + rollout
        if need > memory - reserve:
            shown = ", ".join(f"{name} {mb}" for name, mb in sorted(limits.items(), key=lambda kv: -kv[1]))
            raise fix_at(setting, "the containers on {server} may use {need} MB ({shown}, and {rollout} for a release "
                         "starting beside the old one), more than its {memory} MB less {reserve} MB for the system: "
                         "choose a larger server or lower the limits.memory_mb of these containers",
                         server=server, need=need, shown=shown, rollout=rollout, memory=memory, reserve=reserve)


def pools_fit_postgres(s: StackSettings) -> None:
    servers = app_server_count(s) if s.host.multi_host else 1
    demand = {name: s.database.pool_size * service.processes * (servers if service.placement == "every_app_server" else 1)
              for name, service in s.services.items() if service.uses_database}
    platform = {**PLATFORM_CONNECTIONS, **({"monitoring": 1} if s.monitoring.enabled else {})}
    total = sum(demand.values()) + sum(platform.values())
    limit = int(s.database.max_connections * CONNECTIONS_ALERT_SHARE)
    if total > limit:
        shown = ", ".join(f"{name} {s.database.pool_size} x {s.services[name].processes} processes x "
                          f"{n // (s.database.pool_size * s.services[name].processes)} servers" for name, n in demand.items())
        raise fix_at(("database", "max_connections"), "the services may open {total} connections ({shown}; the "
                     "platform {platform}), above 80 % of max_connections {max} ({limit}), where the connections "
                     "alert fires: raise max_connections to at least {needed} or lower database.pool_size or processes",
                     total=total, shown=shown, platform=sum(platform.values()), max=s.database.max_connections,
                     limit=limit, needed=math.ceil(total / CONNECTIONS_ALERT_SHARE))


CHECKS = (containers_fit_their_servers, pools_fit_postgres)
