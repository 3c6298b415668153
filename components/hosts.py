"""The hosts a stack's settings name: local Docker, servers you have (SSH), or Hetzner servers.
Everything past this factory sees only `Host`."""

from __future__ import annotations

import pulumi

from .hetzner import HetznerAppServer, HetznerDockerHost
from .host import Host, Hosts, LocalAppHost, LocalDockerHost
from .settings import LocalHost, StackSettings
from .ssh_host import SshServerHost
from .ssh_settings import SshHost


def create_hosts(name: str, settings: StackSettings, opts: pulumi.ResourceOptions | None = None) -> Hosts:
    """The hosts `settings.host` names; everything else only sees `Host`."""
    if isinstance(settings.host, LocalHost):
        local = LocalDockerHost(name, settings.host, settings.stack, opts)
        if settings.host.app_servers == 1:
            return Hosts(local, [local])
        return Hosts(local, [LocalAppHost(f"{name}-app{index}", local, index, settings.stack, opts)
                             for index in range(1, settings.host.app_servers + 1)])
    if isinstance(settings.host, SshHost):
        servers: list[Host] = [
            SshServerHost(name if index == 0 else f"{name}-app{index}", settings.host, index, settings.stack, opts)
            for index in range(len(settings.host.servers))]
        return Hosts(servers[0], servers[1:] or servers[:1])
    first = HetznerDockerHost(name, settings.host, settings.stack, production=settings.protect_data, opts=opts)
    if not settings.host.multi_host:
        return Hosts(first, [first])
    apps: list[Host] = [HetznerAppServer(f"{name}-app{index}", settings.host, index, first, settings.stack, opts)
            for index in range(1, settings.host.app_servers + 1)]
    return Hosts(first, apps)
