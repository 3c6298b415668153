"""The TLS-terminating reverse proxy."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from ..setting_types import ImageRef, Port, Strict
from ..transport import csp_wildcards
from .common import Healthcheck, Limits
from .errors import fix


class ProxySettings(Strict):
    image: ImageRef = "caddy:2.8.4"
    bind_address: str = Field("0.0.0.0", pattern=r"^(\d{1,3}\.){3}\d{1,3}$")
    http_port: Port = 80
    https_port: Port = 443
    # A load balancer cannot present the client certificate the proxy demands on https_port, so it
    # checks each server here: plain HTTP, health routes only, admitted from the private network only.
    health_port: Port = 8081
    hsts_max_age_s: int = Field(31536000, ge=0)
    content_security_policy: str = "default-src 'self'; frame-ancestors 'none'; base-uri 'self'"
    limits: Limits = Limits(memory_mb=128, cpus=0.5)
    healthcheck: Healthcheck = Healthcheck(command=["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2019/config/"])

    @field_validator("content_security_policy")
    @classmethod
    def _names_its_sources(cls, policy: str) -> str:
        if not policy.strip():
            raise fix("the proxy sends a Content-Security-Policy; give one (default: default-src 'self'; ...)")
        wildcards = csp_wildcards(policy)
        if wildcards:
            raise fix("{wildcards} admits any host; name the sources ('self', https://cdn.example.com)",
                      wildcards=", ".join(wildcards))
        return policy

    @property
    def public_port_suffix(self) -> str:
        """What a public URL needs after the hostname: nothing on 443, ':<port>' otherwise."""
        return "" if self.https_port == 443 else f":{self.https_port}"

    @model_validator(mode="after")
    def _distinct_ports(self) -> ProxySettings:
        ports = [self.http_port, self.https_port, self.health_port]
        if len(set(ports)) < len(ports):
            raise fix("http_port, https_port and health_port must differ (are {ports}); give each its own port",
                      ports=", ".join(map(str, ports)))
        return self
