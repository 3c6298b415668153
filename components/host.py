"""Where containers run.

`local`: the local Docker engine. `hetzner` (components/hetzner.py): a server with firewall,
private network, volume and cloud-init, Docker over SSH. Both offer the same interface: a Docker
provider plus the two networks every other component attaches to.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_docker as docker

from .settings import LocalHost, StackSettings


class Host(pulumi.ComponentResource):
    """A Docker engine plus two networks: `internal` (no route out; data services live here
    only) and `edge` (the proxy and the services it routes to)."""

    provider: docker.Provider
    docker_host: pulumi.Input[str]  # what `docker` is pointed at (DOCKER_HOST) to reach this engine
    internal_network: docker.Network
    edge_network: docker.Network

    def child_opts(self, parent: pulumi.Resource, **kwargs) -> pulumi.ResourceOptions:
        """Options for a resource that lives on this host."""
        return pulumi.ResourceOptions(parent=parent, provider=self.provider, **kwargs)

    def data_volume(self, name: str, stack: str, parent: pulumi.Resource, protect: bool) -> docker.Volume:
        """A named volume for stateful data; `protect` makes `pulumi destroy` and accidental
        renames refuse to drop it."""
        return docker.Volume(name, labels=[docker.VolumeLabelArgs(label="preflight.stack", value=stack)],
                             opts=self.child_opts(parent, protect=protect))

    def _networks(self, name: str, stack: str) -> None:
        opts = pulumi.ResourceOptions(parent=self, provider=self.provider)
        labels = [docker.NetworkLabelArgs(label="preflight.stack", value=stack)]
        self.internal_network = docker.Network(f"{name}-internal", internal=True, labels=labels, opts=opts)
        self.edge_network = docker.Network(f"{name}-edge", labels=labels, opts=opts)


class LocalDockerHost(Host):
    def __init__(self, name: str, settings: LocalHost, stack: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("preflight:host:LocalDocker", name, None, opts)
        self.docker_host = settings.docker_host
        self.provider = docker.Provider(f"{name}-docker", host=settings.docker_host,
                                        opts=pulumi.ResourceOptions(parent=self))
        self._networks(name, stack)
        self.register_outputs({"internal_network": self.internal_network.name,
                               "edge_network": self.edge_network.name})


def create_host(name: str, settings: StackSettings, opts: Optional[pulumi.ResourceOptions] = None) -> Host:
    """The host `settings.host.kind` names; everything else only sees `Host`."""
    if isinstance(settings.host, LocalHost):
        return LocalDockerHost(name, settings.host, settings.stack, opts)
    from .hetzner import HetznerDockerHost  # imports Host from here

    return HetznerDockerHost(name, settings.host, settings.stack, production=settings.protect_data, opts=opts)
