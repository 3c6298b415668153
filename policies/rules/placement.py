"""Mistakes Hetzner's API would refuse only at apply, refused at preview with the fix: a server or
load balancer outside its network's zone, a private address outside the network's subnets, a volume
or primary IP in another location than its server."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from pulumi_policy import PolicyResource, Severity

from components.hcloud_zones import ZONE_OF_LOCATION, location_of

from .base import of_type, referrers, rule_maker
from .data import HCLOUD_PRIMARY_IP, HCLOUD_SERVER, HCLOUD_VOLUME
from .load_balancer import LB_NETWORK, LOAD_BALANCER

SUBNET = "hcloud:index/networkSubnet:NetworkSubnet"
VOLUME_ATTACHMENT = "hcloud:index/volumeAttachment:VolumeAttachment"
FIX = "(settings: host.location, host.network_zone, host.subnet, host.private_ip, host.app_subnet)"


def _location(resource: PolicyResource) -> str:
    return location_of(str(resource.props.get("location") or resource.props.get("datacenter") or ""))


def _depends(resource: PolicyResource, prop: str) -> list[str]:
    return [d.urn for d in resource.property_dependencies.get(prop, [])]


def _inside(address: str, subnets: list[PolicyResource]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
        return any(ip in ipaddress.ip_network(str(s.props.get("ipRange")), strict=False) for s in subnets)
    except ValueError:
        return False


def _joins(resource: PolicyResource, network_urns: list[str], address: str | None, subnets_of: dict,
           what: str):
    """`resource` (in its location) joins the networks: each network's zone, and `address` in a subnet."""
    zone = ZONE_OF_LOCATION.get(_location(resource))
    for network in network_urns:
        subnets = subnets_of.get(network, [])
        holding = [s for s in subnets if address and _inside(address, [s])] or subnets  # the subnet of its address
        zones = sorted({str(s.props.get("networkZone")) for s in holding})
        if zone and subnets and zone not in zones:
            yield (f"{what} {resource.name} is in {_location(resource)} ({zone}) but its subnet is in "
                   f"{', '.join(zones)}: Hetzner refuses this at apply; put both in one zone {FIX}", resource)
        if address and subnets and not _inside(address, subnets):
            ranges = ", ".join(str(s.props.get("ipRange")) for s in subnets)
            yield (f"{what} {resource.name} takes the private address {address}, outside its network's subnets "
                   f"({ranges}): Hetzner refuses this at apply; pick an address inside one {FIX}", resource)


def placement_hetzner_accepts(resources: Sequence[PolicyResource]):
    subnets_of = referrers(of_type(resources, SUBNET), "networkId")
    by_urn = {r.urn: r for r in resources}
    servers = of_type(resources, HCLOUD_SERVER)
    for server in servers:
        addresses = [str(n.get("ip") or "") for n in server.props.get("networks") or []]
        networks = _depends(server, "networks")
        yield from _joins(server, networks, addresses[0] if len(networks) == 1 and addresses else None, subnets_of,
                          "server")
        for urn in _depends(server, "publicNets"):
            address = by_urn.get(urn)
            if address and address.resource_type == HCLOUD_PRIMARY_IP and _location(address) != _location(server):
                yield (f"primary IP {address.name} is in {_location(address)} but server {server.name} in "
                       f"{_location(server)}: Hetzner refuses this at apply; give both the same location {FIX}", address)
    for attachment in of_type(resources, VOLUME_ATTACHMENT):
        volume, host = (next((by_urn[u] for u in _depends(attachment, p) if u in by_urn), None)
                        for p in ("volumeId", "serverId"))
        if volume and host and volume.resource_type == HCLOUD_VOLUME and _location(volume) != _location(host):
            yield (f"volume {volume.name} is in {_location(volume)} but its server {host.name} in "
                   f"{_location(host)}: Hetzner attaches volumes only in their own location; give both the same "
                   f"location {FIX}", volume)
    for attached in of_type(resources, LB_NETWORK):
        balancer = next((by_urn[u] for u in _depends(attached, "loadBalancerId") if u in by_urn), None)
        if balancer and balancer.resource_type == LOAD_BALANCER:
            network = _depends(attached, "networkId") or _depends(attached, "subnetId")
            yield from _joins(balancer, network, str(attached.props.get("ip") or "") or None, subnets_of,
                              "load balancer")


_rule = rule_maker("host")

RULES = [
    _rule("PF-HOST-009", "Servers, load balancers, volumes and primary IPs are placed where Hetzner accepts them: one "
          "network zone, addresses inside the subnets, a volume in its server's location.", Severity.HIGH,
          "Postgres data on a persistent volume that survives container and server replacement", placement_hetzner_accepts),
]
