"""Hetzner's load balancer in front of the application servers (host.app_servers > 1), and the gate
that makes a release roll across them one server at a time.

TLS stays end to end: the load balancer passes TCP 443 (and 80, which the proxy redirects) through
to each server's proxy over the private network, and checks each server through its proxy's
health port (the health routes alone, plain HTTP: the load balancer has no client certificate for
443), so a server whose proxy or service is down stops receiving traffic.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_hcloud as hcloud
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from .cloud_settings import HetznerHost
from .hetzner import hcloud_id

PORTS = (443, 80)


@dataclass(frozen=True)
class HealthRoute:
    """What the load balancer requests from each server's proxy: https://<hostname><path>."""

    hostname: str
    path: str


def health_check(settings: HetznerHost, port: int, route: HealthRoute,
                 health_port: int) -> hcloud.LoadBalancerServiceHealthCheckArgs:
    lb = settings.load_balancer
    # 443 demands Cloudflare's client certificate, which a Hetzner health check cannot present: the
    # service on 443 is checked on the proxy's health port (plain HTTP over the private network, health
    # routes only), which answers with the service's own health answer. Port 80 answers with the redirect.
    https = port == 443
    return hcloud.LoadBalancerServiceHealthCheckArgs(
        protocol="http", port=health_port if https else port, interval=lb.health_interval_s, timeout=lb.health_timeout_s,
        retries=lb.health_retries,
        http=hcloud.LoadBalancerServiceHealthCheckHttpArgs(
            domain=route.hostname, path=route.path, tls=False, status_codes=["2??"] if https else ["3??"]))


class AppLoadBalancer(pulumi.ComponentResource):
    def __init__(self, name: str, settings: HetznerHost, *, network: hcloud.Network, subnet: hcloud.NetworkSubnet,
                 servers: Sequence[hcloud.Server], route: HealthRoute, health_port: int, labels: dict[str, str],
                 production: bool, opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:index:AppLoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.load_balancer = hcloud.LoadBalancer(
            name, load_balancer_type=settings.load_balancer.type, location=settings.location,
            algorithm=hcloud.LoadBalancerAlgorithmArgs(type=settings.load_balancer.algorithm),
            delete_protection=production, labels=labels, opts=pulumi.ResourceOptions(parent=self, protect=production))
        lb_id = hcloud_id(self.load_balancer.id)
        attached = hcloud.LoadBalancerNetwork(
            f"{name}-network", load_balancer_id=lb_id, network_id=hcloud_id(network.id), ip=settings.load_balancer_ip,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[subnet]))
        self.services = [hcloud.LoadBalancerService(
            f"{name}-{port}", load_balancer_id=self.load_balancer.id, protocol="tcp", listen_port=port,
            destination_port=port, proxyprotocol=False, health_check=health_check(settings, port, route, health_port), opts=child)
            for port in PORTS]
        # Targets by server id (not by label): the rollout gate waits for one server at a time.
        self.targets = [hcloud.LoadBalancerTarget(
            f"{name}-target-{index}", load_balancer_id=lb_id, type="server", server_id=hcloud_id(server.id),
            use_private_ip=True, opts=pulumi.ResourceOptions(parent=self, depends_on=[attached]))
            for index, server in enumerate(servers, start=1)]
        self.ipv4, self.ipv6 = self.load_balancer.ipv4, self.load_balancer.ipv6
        self.register_outputs({"ipv4": self.ipv4, "ipv6": self.ipv6})


def unhealthy_ports(load_balancer: Any, server_id: int) -> list[str] | None:
    """The load balancer's view of one server: None when it is not a target, else the ports (with
    their status) that are not healthy yet. `load_balancer` is an hcloud-python BoundLoadBalancer."""
    for target in load_balancer.targets or []:
        if target.type == "server" and target.server is not None and int(target.server.id) == server_id:
            return [f"{s.listen_port}: {s.status}" + (f" ({s.detail})" if getattr(s, "detail", None) else "")
                    for s in target.health_status or [] if s.status != "healthy"]
    return None


class _TargetHealthy(ResourceProvider):
    """Waits until the load balancer reports a server healthy on every port. Runs again whenever the
    server's release (its containers) changes, so the next server is not touched before this one serves."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._wait(props)
        return CreateResult(id_=f"{props['load_balancer_id']}-{props['server_id']}", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("load_balancer_id", "server_id", "release") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[])

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._wait(news)
        return UpdateResult(outs=news)

    @staticmethod
    def _wait(props: dict[str, Any]) -> None:
        from hcloud import Client  # the program imports it only where a rollout is gated

        token = props.get("token") or os.environ.get("HCLOUD_TOKEN")
        if not token:
            raise RuntimeError("the rollout gate needs the Hetzner API token: `pulumi config set --secret hcloud:token "
                               "<token>` (or HCLOUD_TOKEN in the environment)")
        client = Client(token=token, application_name="preflight")
        server, deadline = int(props["server_id"]), time.monotonic() + int(props["deadline_s"])
        last: list[str] | None = None
        while time.monotonic() < deadline:
            last = unhealthy_ports(client.load_balancers.get_by_id(int(props["load_balancer_id"])), server)
            if last == []:
                return
            time.sleep(2)
        raise RuntimeError(f"server {props['server_name']} was not healthy behind the load balancer within "
                           f"{props['deadline_s']} s ({'not a target' if last is None else ', '.join(last)}); the "
                           f"other servers keep serving. Look at its proxy and service logs, fix, and run `up` again.")


class TargetHealthy(pulumi.dynamic.Resource):
    def __init__(self, name: str, *, load_balancer_id: pulumi.Input[str], server_id: pulumi.Input[str],
                 server_name: str, release: pulumi.Input[str], token: pulumi.Input[str] | None, deadline_s: int,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(_TargetHealthy(), name, {
            "load_balancer_id": load_balancer_id, "server_id": server_id, "server_name": server_name,
            "release": release, "deadline_s": deadline_s,
            "token": pulumi.Output.secret(token) if token is not None else None}, opts)
