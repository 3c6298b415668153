"""Where containers run.

`local`: the local Docker engine. `hetzner` (components/hetzner.py): a server with firewall,
private network, volume and cloud-init, Docker over SSH. Both offer the same interface: a Docker
provider plus the two networks every other component attaches to.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from .settings import LocalHost


def network_labels(stack: str) -> list[docker.NetworkLabelArgs]:
    return [docker.NetworkLabelArgs(label="preflight.stack", value=stack)]


class Host(pulumi.ComponentResource):
    """A Docker engine plus two networks: `internal` (no route out; data services live here
    only) and `edge` (the proxy and the services it routes to)."""

    provider: docker.Provider
    docker_host: pulumi.Input[str]  # what `docker` is pointed at (DOCKER_HOST) to reach this engine
    ssh_options: pulumi.Input[Sequence[str]] = ()  # servers: ssh trusting the server's pinned host key
    internal_network: docker.Network
    edge_network: docker.Network
    # Cloud hosts: the address on Hetzner's private network, where Postgres and Redis are published
    # for the other servers, and the Docker network that publishes them.
    private_address: str | None = None
    private_network: docker.Network | None = None
    # Application servers of several: the data server is another machine, reached over the private
    # network; containers that use Postgres or Redis join this network (a bridge with a route out,
    # so their connections leave from the server's private address, which the data server admits).
    data_network: docker.Network | None = None
    # Hosts that share one Docker engine (the local rehearsal of several servers) publish the
    # proxy's ports shifted by this much.
    port_offset: int = 0

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
        labels = network_labels(stack)
        self.internal_network = docker.Network(f"{name}-internal", internal=True, labels=labels, opts=opts)
        self.edge_network = docker.Network(f"{name}-edge", labels=labels, opts=opts)


class LocalDockerHost(Host):
    def __init__(self, name: str, settings: LocalHost, stack: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:host:LocalDocker", name, None, opts)
        self.docker_host = settings.docker_host
        self.provider = docker.Provider(f"{name}-docker", host=settings.docker_host,
                                        opts=pulumi.ResourceOptions(parent=self))
        self._networks(name, stack)
        self.register_outputs({"internal_network": self.internal_network.name,
                               "edge_network": self.edge_network.name})


class LocalAppHost(Host):
    """Application server k of the local rehearsal: the local engine and internal network, an edge
    network of its own (its proxy reaches its own services only), the proxy's ports + k-1."""

    def __init__(self, name: str, engine: LocalDockerHost, index: int, stack: str,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:host:LocalApp", name, None, opts)
        self.docker_host, self.provider, self.port_offset = engine.docker_host, engine.provider, index - 1
        self.internal_network = engine.internal_network
        self.edge_network = docker.Network(f"{name}-edge", labels=network_labels(stack),
                                           opts=pulumi.ResourceOptions(parent=self, provider=self.provider))
        self.register_outputs({"edge_network": self.edge_network.name})


# A Docker network whose containers have no route out; Postgres and Redis publish their ports on
# the private address through it (an `internal` network cannot publish ports).
NO_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"


def data_publishing_network(name: str, host: Host, stack: str) -> docker.Network:
    """The data server's network that publishes Postgres and Redis on its private address."""
    return docker.Network(f"{name}-private", labels=network_labels(stack), options={NO_MASQUERADE: "false"},
                          opts=pulumi.ResourceOptions(parent=host, provider=host.provider))


def data_access_network(name: str, host: Host, stack: str) -> docker.Network:
    """The network an application server's containers reach the data server through."""
    return docker.Network(f"{name}-data", labels=network_labels(stack),
                          opts=pulumi.ResourceOptions(parent=host, provider=host.provider))


def data_networks(host: Host) -> dict[str, pulumi.Input[str]]:
    """Where Postgres and Redis attach: the internal network, and on cloud hosts the private one
    that publishes them to the other servers."""
    attached: dict[str, pulumi.Input[str]] = {"internal": host.internal_network.name}
    if host.private_network is not None:
        attached["private"] = host.private_network.name
    return attached
