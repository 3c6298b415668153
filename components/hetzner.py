"""The Hetzner Cloud host: one server with a firewall, a private network, stable primary IPs, a data
volume and cloud-init hardening; Docker reached over SSH as the deploy user.

Database, cache, services and proxy are the same components as on the local host: they see only
`Host` (a Docker provider and two Docker networks).
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_hcloud as hcloud
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider

from .cloud_init import HostKey, render_user_data
from .cloud_settings import HetznerHost
from .generated import GeneratedHostKey
from .host import Host, data_access_network, data_publishing_network
from .remote_exec import key_mismatch, pinned_options, ssh_argv

CLOUD_INIT_DEADLINE_S = 900


class _CloudInitDone(ResourceProvider):
    """Waits until cloud-init has finished on a new server (SSH as the deploy user, then
    `cloud-init status --wait`), so no container is created on a half-prepared host."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        target = f"{props['user']}@{props['address']}"
        deadline = time.monotonic() + CLOUD_INIT_DEADLINE_S
        last = ""
        while time.monotonic() < deadline:
            result = subprocess.run(ssh_argv(target, ["cloud-init", "status", "--wait"],
                                             pinned_options(props["host_key"]), props.get("port")),
                                    capture_output=True, text=True)
            if result.returncode == 0:
                return CreateResult(id_=f"{props['server_id']}-cloud-init", outs=props)
            last = (result.stderr or result.stdout).strip()
            if key_mismatch(last):
                raise RuntimeError(f"{target} presents another SSH host key than the one Preflight generated for it "
                                   f"({props['host_key'].split()[0]} {props['host_key'].split()[1][-12:]}...): it is "
                                   f"not the server this stack created, or it was not set up by its user data; "
                                   f"nothing was deployed to it")
            time.sleep(10)
        raise RuntimeError(f"cloud-init on {target} did not finish within {CLOUD_INIT_DEADLINE_S}s (last: {last}); "
                           f"look at /var/log/cloud-init-output.log on the server")

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("server_id", "address", "user", "host_key") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)


class CloudInitDone(pulumi.dynamic.Resource):
    address: pulumi.Output[str]

    def __init__(self, name: str, server_id: pulumi.Input[str], address: pulumi.Input[str], user: str,
                 host_key: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__(_CloudInitDone(), name, {"server_id": server_id, "address": address, "user": user,
                                                  "host_key": host_key}, opts)


def firewall_rules(settings: HetznerHost) -> list[hcloud.FirewallRuleArgs]:
    """22 from the admins, 80/443 from Cloudflare's edge only; nothing else inbound."""
    cloudflare = [*settings.cloudflare_ranges.ipv4, *settings.cloudflare_ranges.ipv6]
    return [
        hcloud.FirewallRuleArgs(direction="in", protocol="tcp", port="22", source_ips=list(settings.admin_cidrs),
                                description="SSH from the admin networks"),
        *[hcloud.FirewallRuleArgs(direction="in", protocol="tcp", port=str(port), source_ips=cloudflare,
                                  description=f"{port} from Cloudflare's edge") for port in (80, 443)],
    ]


def hcloud_id(output: pulumi.Output[str]) -> pulumi.Output[int]:
    """A Hetzner resource's id as the number other hcloud resources take."""
    return output.apply(int)


class _HetznerServerHost(Host):
    """What every Hetzner server shares once it exists: wait for cloud-init, reach Docker over SSH."""

    server: hcloud.Server
    host_key: GeneratedHostKey

    def _user_data(self, name: str, settings: HetznerHost, data: bool) -> pulumi.Output[str]:
        """The server's cloud-init, with the SSH host key generated for it (so the text is a secret)."""
        self.host_key = GeneratedHostKey(f"{name}-host-key", server=name, opts=pulumi.ResourceOptions(parent=self))
        return self.host_key.rendered(lambda key: render_user_data(settings, data=data, host_key=HostKey(*key)))

    def _connect(self, name: str, settings: HetznerHost, address: pulumi.Output[str], stack: str) -> None:
        ready = CloudInitDone(f"{name}-cloud-init", self.server.id, address, settings.deploy_user,
                              self.host_key.public_key, opts=pulumi.ResourceOptions(parent=self))
        self.address = address
        self.docker_host = pulumi.Output.concat("ssh://", settings.deploy_user, "@", ready.address)
        self.ssh_options = self.host_key.public_key.apply(pinned_options)
        self.provider = docker.Provider(f"{name}-docker", host=self.docker_host, ssh_opts=self.ssh_options,
                                        opts=pulumi.ResourceOptions(parent=self))
        self._networks(name, stack)


class HetznerDockerHost(_HetznerServerHost):
    """The first server, with the network, firewall, stable addresses and the data volume. With
    app_servers = 1 it runs everything; with more it is the data server (Postgres, Redis, backups)."""

    def __init__(self, name: str, settings: HetznerHost, stack: str, production: bool,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:host:Hetzner", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Stateful and address-bearing resources refuse deletion in production, in Hetzner and in Pulumi.
        kept = pulumi.ResourceOptions(parent=self, protect=production)
        self.labels = {"preflight-project": "preflight", "preflight-stack": stack}
        labels = {**self.labels, "preflight-role": "data"}

        self.ssh_keys = [hcloud.SshKey(f"{name}-key-{key}", public_key=value, labels=self.labels, opts=child)
                         for key, value in sorted(settings.ssh_keys.items())]
        self.firewall = hcloud.Firewall(f"{name}-firewall", rules=firewall_rules(settings), labels=self.labels,
                                        opts=child)
        self.network = hcloud.Network(f"{name}-network", name=settings.network_name, ip_range=settings.ip_range,
                                      labels=self.labels, opts=child)
        subnet = hcloud.NetworkSubnet(f"{name}-subnet", network_id=hcloud_id(self.network.id), type="cloud",
                                      network_zone=settings.network_zone, ip_range=settings.subnet, opts=child)
        self.app_subnet = None
        if settings.multi_host:
            self.app_subnet = hcloud.NetworkSubnet(
                f"{name}-app-subnet", network_id=hcloud_id(self.network.id), type="cloud",
                network_zone=settings.network_zone, ip_range=settings.app_subnet, opts=child)
        # Primary IPs outlive the server, so DNS stays valid across a rebuild.
        self.ipv4, self.ipv6 = (
            hcloud.PrimaryIp(f"{name}-{kind}", type=kind, location=settings.location,
                             auto_delete=False, delete_protection=production, labels=self.labels, opts=kept)
            for kind in ("ipv4", "ipv6"))
        self.volume = hcloud.Volume(f"{name}-data", size=settings.volume_size_gb, location=settings.location,
                                    format="ext4", delete_protection=production, labels=self.labels, opts=kept)
        self.server = hcloud.Server(
            f"{name}-server", name=settings.server_name, server_type=settings.server_type, image=settings.image,
            location=settings.location, backups=settings.backups, delete_protection=production,
            rebuild_protection=production, labels=labels, ssh_keys=[k.id for k in self.ssh_keys],
            firewall_ids=[hcloud_id(self.firewall.id)], user_data=self._user_data(name, settings, data=True),
            public_nets=[hcloud.ServerPublicNetArgs(ipv4_enabled=True, ipv4=hcloud_id(self.ipv4.id),
                                                    ipv6_enabled=True, ipv6=hcloud_id(self.ipv6.id))],
            networks=[hcloud.ServerNetworkArgs(network_id=hcloud_id(self.network.id), ip=settings.private_ip)],
            # The primary IPs and the volume belong to one server at a time: the old one goes first.
            opts=pulumi.ResourceOptions(parent=self, protect=production, depends_on=[subnet], delete_before_replace=True),
        )
        hcloud.VolumeAttachment(f"{name}-data", volume_id=hcloud_id(self.volume.id),
                                server_id=hcloud_id(self.server.id), automount=False,
                                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True))
        self.private_address = settings.private_ip
        self._connect(name, settings, self.ipv4.ip_address, stack)
        self.private_network = data_publishing_network(name, self, stack)
        self.register_outputs({"server": self.server.name, "ipv4": self.ipv4.ip_address,
                               "ipv6": self.ipv6.ip_address})


class HetznerAppServer(_HetznerServerHost):
    """An application server (app_servers > 1): the proxy and the services, nothing to keep. Its
    public addresses are Hetzner's own (DNS points at the load balancer); the load balancer reaches
    it over the private network."""

    def __init__(self, name: str, settings: HetznerHost, index: int, first: HetznerDockerHost, stack: str,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:host:HetznerApp", name, None, opts)
        assert first.app_subnet is not None
        self.private_address = settings.app_private_ips[index - 1]
        self.server = hcloud.Server(
            f"{name}-server", name=settings.app_server_name(index),
            server_type=settings.app_server_type or settings.server_type, image=settings.image,
            location=settings.location, labels={**first.labels, "preflight-role": "app"},
            ssh_keys=[k.id for k in first.ssh_keys], firewall_ids=[hcloud_id(first.firewall.id)],
            user_data=self._user_data(name, settings, data=False),
            public_nets=[hcloud.ServerPublicNetArgs(ipv4_enabled=True, ipv6_enabled=True)],
            networks=[hcloud.ServerNetworkArgs(network_id=hcloud_id(first.network.id), ip=self.private_address)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[first.app_subnet]),
        )
        self._connect(name, settings, self.server.ipv4_address, stack)
        self.data_network = data_access_network(name, self, stack)
        self.register_outputs({"server": self.server.name, "private_ip": self.private_address})
