"""The hosts a stack's settings name: local Docker, servers you have (SSH), or Hetzner servers.
Past this factory, components see `Host` (a Docker engine and its networks); what only some host
kinds have (where the edge points, Hetzner's network and servers for a load balancer) is in the
factory's result, typed, never read off a Host."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from .hetzner import HetznerAppServer, HetznerDockerHost
from .host import Host, LocalAppHost, LocalDockerHost
from .settings import LocalHost, StackSettings
from .ssh_host import SshServerHost
from .ssh_settings import SshHost


@dataclass(frozen=True)
class HetznerPieces:
    """What a Hetzner load balancer in front of the application servers needs."""

    network: Any  # hcloud.Network
    app_subnet: Any  # hcloud.NetworkSubnet | None
    app_servers: list[Any]  # hcloud.Server, in application-server order
    labels: dict[str, str]


@dataclass(frozen=True)
class Hosts:
    """Where each part runs: `data` (Postgres, Redis, backups) and `apps` (proxy and services); one
    server: apps == [data]. `origin`: the DNS records (type, address) that send the edge's traffic
    to the application servers when no load balancer of ours does (none on `local`). `hetzner`: the
    pieces a load balancer needs (Hetzner stacks only). `user_load_balancer`: servers you have sit
    behind a load balancer of yours, which checks each server's proxy on its health port."""

    data: Host
    apps: list[Host]
    origin: list[tuple[str, pulumi.Input[str]]] = field(default_factory=list)
    hetzner: HetznerPieces | None = None
    user_load_balancer: bool = False

    @property
    def multi_host(self) -> bool:
        return self.apps != [self.data]


def record_type(address: str) -> str:
    return "AAAA" if ":" in address else "A"


def create_hosts(name: str, settings: StackSettings, opts: pulumi.ResourceOptions | None = None) -> Hosts:
    """The hosts `settings.host` names."""
    if isinstance(settings.host, LocalHost):
        local = LocalDockerHost(name, settings.host, settings.stack, opts)
        if settings.host.app_servers == 1:
            return Hosts(local, [local])
        return Hosts(local, [LocalAppHost(f"{name}-app{index}", local, index, settings.stack, opts)
                             for index in range(1, settings.host.app_servers + 1)])
    if isinstance(settings.host, SshHost):
        behind = settings.host.load_balancer_address is not None
        servers = [SshServerHost(name if index == 0 else f"{name}-app{index}", settings.host, index, settings.stack,
                                 health_port=settings.proxy.health_port if behind and index > 0 else None, opts=opts)
                   for index in range(len(settings.host.servers))]
        apps = servers[1:] or servers[:1]
        addresses = ([settings.host.load_balancer_address] if settings.host.load_balancer_address
                     else [server.address for server in apps])
        return Hosts(servers[0], list[Host](apps), origin=[(record_type(a), a) for a in addresses],
                     user_load_balancer=behind)
    first = HetznerDockerHost(name, settings.host, settings.stack, production=settings.protect_data, opts=opts)
    origin: list[tuple[str, pulumi.Input[str]]] = [("A", first.ipv4.ip_address), ("AAAA", first.ipv6.ip_address)]
    if not settings.host.multi_host:
        return Hosts(first, [first], origin=origin)
    app_servers = [HetznerAppServer(f"{name}-app{index}", settings.host, index, first, settings.stack, opts)
                   for index in range(1, settings.host.app_servers + 1)]
    # Several servers: the load balancer (built with the routes it checks) is the origin.
    return Hosts(first, list[Host](app_servers),
                 hetzner=HetznerPieces(first.network, first.app_subnet, [a.server for a in app_servers], first.labels))
