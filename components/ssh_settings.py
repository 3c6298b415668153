"""Typed settings of servers the user already has (`host.kind: ssh`), at any provider.

Part of the settings (components/settings.py composes them into StackSettings); nothing here
reads config.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .cloud_settings import CloudflareRanges, Network, PublicKey, check_admin_cidrs
from .setting_types import Name, Port, Strict


def _fix(template: str, **context) -> PydanticCustomError:
    return PydanticCustomError("fix", template, context)


class SshServer(Strict):
    address: str = Field(description="the public IPv4 or IPv6 address Preflight connects to and the edge points at")
    private_address: str = Field(description="its IPv4 address on the private network between the servers")
    memory_mb: int | None = Field(None, ge=512, description="its memory, for the capacity check of the containers' "
                                  "limits (unset: not checked)")

    @field_validator("address", "private_address")
    @classmethod
    def _an_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise _fix("{value} is not an IP address; give the server's address (203.0.113.10)", value=value) from None
        return value


class SshHost(Strict):
    """Servers prepared with the user data Preflight renders for them (`python -m deploy user-data
    STACK N`): the first keeps Postgres, Redis and the backups; with more, the others are
    application servers (proxy and services), as with Hetzner's app_servers."""

    kind: Literal["ssh"]
    servers: list[SshServer] = Field(min_length=1, description="the data server first, then application servers")
    user: Name = "deploy"
    port: Port = 22
    ssh_keys: dict[Name, PublicKey] = Field(min_length=1, description="name -> public key of each admin")
    admin_cidrs: list[Network] = Field(min_length=1, description="the only sources admitted on port 22")
    edge_ranges: CloudflareRanges = Field(default_factory=CloudflareRanges,
                                          description="who may reach 80/443 (default: Cloudflare's published ranges)")
    app_subnet: Network | None = Field(None, description="the private network of the application servers; the "
                                          "data server admits Postgres and Redis from it only (required with several)")
    data_device: str | None = Field(None, pattern=r"^/dev/\S+$", description="a block device for Docker's data "
                                       "root on the data server (a volume's by-id path); default: the root disk")
    load_balancer_address: str | None = Field(None, description="with several servers: where the edge points "
                                                 "(default: every application server)")

    _cidrs = field_validator("admin_cidrs")(check_admin_cidrs)

    @property
    def multi_host(self) -> bool:
        return len(self.servers) > 1

    @property
    def private_ip(self) -> str:
        return self.servers[0].private_address

    @property
    def data_sources(self) -> str:
        """Who may reach Postgres and Redis on the data server's private address."""
        return self.app_subnet or f"{self.private_ip}/32"

    def server_name(self, index: int) -> str:
        """index 0: the data server; k > 0: application server k."""
        return "data" if index == 0 else f"app{index}"

    @model_validator(mode="after")
    def _addresses_fit(self) -> SshHost:
        private = [s.private_address for s in self.servers]
        if len(set(private)) != len(private) or len({s.address for s in self.servers}) != len(self.servers):
            raise _fix("two servers share an address; give each server its own address and private_address")
        if self.load_balancer_address is not None and not self.multi_host:
            raise _fix("load_balancer_address is for several servers (the data server first, then the application "
                       "servers behind it); with one server, remove it and the edge points at the server")
        if self.multi_host and self.app_subnet is None:
            raise _fix("several servers need app_subnet: the private network holding the application servers' "
                       "private addresses (e.g. 10.10.2.0/24), from which the data server admits Postgres and Redis")
        if self.app_subnet is not None:
            subnet = ipaddress.ip_network(self.app_subnet)
            outside = [s.private_address for s in self.servers[1:] if ipaddress.ip_address(s.private_address) not in subnet]
            if outside or ipaddress.ip_address(self.private_ip) in subnet:
                raise _fix("app_subnet {subnet} must hold every application server's private_address and not the data "
                           "server's ({data}); outside it: {outside}", subnet=self.app_subnet, data=self.private_ip,
                           outside=", ".join(outside) or "none")
        return self
