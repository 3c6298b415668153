"""Typed settings of the cloud stacks: the Hetzner host and the Cloudflare edge.

Part of the settings (components/settings.py composes them into StackSettings); nothing here
reads config.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from . import cloudflare_ips
from .hcloud_zones import ZONE_OF_LOCATION
from .setting_types import DnsLabel, Name, Strict

PublicKey = Annotated[str, Field(pattern=r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]{40,}( \S.*)?$")]
Network = Annotated[str, Field(pattern=r"^[0-9a-fA-F:.]+/\d{1,3}$")]


def _fix(template: str, **context) -> PydanticCustomError:
    return PydanticCustomError("fix", template, context)


class CloudflareRanges(Strict):
    """Where Cloudflare's edge connects from; defaults recorded in components/cloudflare_ips.py."""

    ipv4: list[Network] = Field(default_factory=lambda: list(cloudflare_ips.IPV4), min_length=1)
    ipv6: list[Network] = Field(default_factory=lambda: list(cloudflare_ips.IPV6), min_length=1)


def check_admin_cidrs(cls, cidrs: list[str]) -> list[str]:
    """SSH is admitted from networks, never from anywhere."""
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise _fix("{cidr} is not a network; write it as address/prefix (203.0.113.0/24)", cidr=cidr) from None
        if network.prefixlen == 0:
            raise _fix("{cidr} admits SSH from anywhere; list the admins' networks instead", cidr=cidr)
    return cidrs


class LoadBalancerSettings(Strict):
    """Hetzner's load balancer in front of the application servers (used when app_servers > 1)."""

    type: str = Field("lb11", pattern=r"^lb[0-9]+$")
    algorithm: Literal["round_robin", "least_connections"] = "round_robin"
    health_interval_s: int = Field(10, ge=3, le=60)
    health_timeout_s: int = Field(5, ge=1, le=60)
    health_retries: int = Field(3, ge=0, le=5)

    @property
    def target_deadline_s(self) -> int:
        """How long a replaced host may take to be reported healthy by the load balancer."""
        return 60 + (self.health_retries + 1) * (self.health_interval_s + self.health_timeout_s)


class HetznerHost(Strict):
    """Hetzner Cloud servers running Docker, reached by the deploy user over SSH.

    app_servers = 1: one server runs everything. app_servers = N > 1: the same first server keeps
    Postgres, Redis and the backups (the data server) and N application servers, each running the
    proxy and the services, sit behind a Hetzner load balancer on the private network.
    """

    kind: Literal["hetzner"]
    server_name: DnsLabel
    server_type: str = Field("cx32", pattern=r"^[a-z]+[0-9]+[a-z]*$")
    location: Literal["fsn1", "nbg1", "hel1", "ash", "hil", "sin"] = "fsn1"
    image: str = Field("debian-12", pattern=r"^[a-z0-9][a-z0-9.-]*$")
    network_name: DnsLabel
    network_zone: Literal["eu-central", "us-east", "us-west", "ap-southeast"] = "eu-central"
    ip_range: Network = "10.10.0.0/16"
    subnet: Network = "10.10.1.0/24"
    private_ip: str = "10.10.1.10"
    volume_size_gb: int = Field(50, ge=10, le=10240)
    deploy_user: Name = "deploy"
    ssh_keys: dict[Name, PublicKey] = Field(min_length=1, description="name -> public key of each admin")
    admin_cidrs: list[Network] = Field(min_length=1, description="the only sources admitted on port 22")
    cloudflare_ranges: CloudflareRanges = CloudflareRanges()
    backups: bool = Field(True, description="Hetzner's daily server backups")
    app_servers: int = Field(1, ge=1, le=20, description="1: one server runs everything; N > 1: N application "
                             "servers behind a load balancer and the first server keeps only the data")
    app_server_type: str | None = Field(None, pattern=r"^[a-z]+[0-9]+[a-z]*$", description="default: server_type")
    app_subnet: Network = Field("10.10.2.0/24", description="application servers and the load balancer; the data "
                                "server admits Postgres and Redis from this subnet only")
    load_balancer: LoadBalancerSettings = LoadBalancerSettings()

    @property
    def multi_host(self) -> bool:
        return self.app_servers > 1

    def app_server_name(self, index: int) -> str:
        """index counts from 1."""
        return f"{self.server_name}-app{index}"

    @property
    def app_private_ips(self) -> list[str]:
        base = ipaddress.ip_network(self.app_subnet).network_address
        return [str(base + 10 + index) for index in range(self.app_servers)]

    @property
    def load_balancer_ip(self) -> str:
        return str(ipaddress.ip_network(self.app_subnet).network_address + 5)

    _cidrs = field_validator("admin_cidrs")(check_admin_cidrs)

    @model_validator(mode="after")
    def _addresses_fit(self) -> HetznerHost:
        try:
            ip_range, subnet = ipaddress.ip_network(self.ip_range), ipaddress.ip_network(self.subnet)
            private_ip = ipaddress.ip_address(self.private_ip)
        except ValueError as error:
            raise _fix("{error}; fix ip_range, subnet or private_ip", error=str(error)) from None
        if subnet.version != ip_range.version or not subnet.subnet_of(ip_range):  # type: ignore[arg-type]
            raise _fix("subnet {subnet} is not inside ip_range {ip_range}", subnet=self.subnet, ip_range=self.ip_range)
        if private_ip not in subnet:
            raise _fix("private_ip {ip} is not inside subnet {subnet}", ip=self.private_ip, subnet=self.subnet)
        if ZONE_OF_LOCATION[self.location] != self.network_zone:
            raise _fix("location {location} is in network zone {zone}, not {network_zone}: Hetzner refuses a server "
                       "outside its network's zone at apply; set network_zone: {zone} or a location in {network_zone}",
                       location=self.location, zone=ZONE_OF_LOCATION[self.location], network_zone=self.network_zone)
        try:
            app_subnet = ipaddress.ip_network(self.app_subnet)
        except ValueError as error:
            raise _fix("{error}; fix app_subnet", error=str(error)) from None
        outside = app_subnet.version != ip_range.version or not app_subnet.subnet_of(ip_range)  # type: ignore[arg-type]
        if outside or app_subnet.overlaps(subnet):
            raise _fix("app_subnet {app} must lie inside ip_range {ip_range} and apart from subnet {subnet}",
                       app=self.app_subnet, ip_range=self.ip_range, subnet=self.subnet)
        if app_subnet.num_addresses < self.app_servers + 12:
            raise _fix("app_subnet {app} has no room for {n} application servers; give it a shorter prefix",
                       app=self.app_subnet, n=self.app_servers)
        return self


class RateLimit(Strict):
    """Cloudflare rate limiting of the API's authentication paths and of every write request."""

    auth_paths: list[str] = Field(["/auth", "/login", "/signup", "/password"], min_length=1)
    auth_requests_per_minute: int = Field(20, ge=1, le=10000)
    write_requests_per_minute: int = Field(300, ge=1, le=100000)
    mitigation_timeout_s: Literal[60, 120, 300, 600, 3600, 86400] = 600


class OriginPullSettings(Strict):
    """Zone-level authenticated origin pulls: Cloudflare presents a client certificate of the stack's
    own CA to the origin, and the proxy accepts TLS only with a certificate that CA signed."""

    client_certificate_days: int = Field(365, ge=30, le=3650, description="lifetime of the certificate Cloudflare presents")
    renew_before_days: int = Field(30, ge=1, description="an update this close to its end renews it")
    ca_days: int = Field(3650, ge=365, le=10950, description="lifetime of the CA the proxies trust")

    @model_validator(mode="after")
    def _renewal_fits(self) -> OriginPullSettings:
        if self.renew_before_days >= self.client_certificate_days:
            raise _fix("renew_before_days ({renew}) must be shorter than client_certificate_days ({days}), or every "
                       "update would renew the certificate", renew=self.renew_before_days,
                       days=self.client_certificate_days)
        if self.client_certificate_days > self.ca_days:
            raise _fix("client_certificate_days ({days}) outlives ca_days ({ca}); the CA must outlive what it signs",
                       days=self.client_certificate_days, ca=self.ca_days)
        return self


class MailSettings(Strict):
    """The stack sends mail from its domain: the zone carries SPF, DKIM and DMARC records for it."""

    spf: str = Field(pattern=r"^v=spf1 .*[-~]all$", description="the SPF record, ending -all or ~all "
                     "(v=spf1 include:_spf.mail.example.net -all)")
    dkim: dict[DnsLabel, str] = Field(min_length=1, description="selector -> its TXT record (v=DKIM1; k=rsa; p=...)")
    dmarc_policy: Literal["quarantine", "reject"] = "reject"
    dmarc_report_to: str | None = Field(None, pattern=r"^mailto:\S+@\S+$", description="where DMARC reports go")

    @field_validator("dkim")
    @classmethod
    def _dkim_keys(cls, dkim: dict[str, str]) -> dict[str, str]:
        for selector, record in dkim.items():
            if "v=DKIM1" not in record or "p=" not in record:
                raise _fix("the DKIM record of selector {selector} is not a key (v=DKIM1; k=rsa; p=...)", selector=selector)
        return dkim


class EdgeSettings(Strict):
    """The Cloudflare zone in front of the stack, named by id so a preview needs no API call."""

    zone_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    account_id: str = Field(pattern=r"^[0-9a-f]{32}$", description="owns the notification policy")
    hsts_max_age_s: int = Field(31536000, ge=0)
    rate_limit: RateLimit = RateLimit()
    origin_pulls: OriginPullSettings = OriginPullSettings()
    mail: MailSettings | None = Field(None, description="the stack sends mail from its domain: SPF, DKIM and DMARC")
