"""The TLS-terminating reverse proxy (Caddy): HTTPS only, HSTS, security headers,
health-checked upstreams. The only container that publishes host ports."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from .containers import SecretFile, baseline_args, networks, uploads
from .host import Host
from .images import remote_image
from .settings import ProxySettings

CONFIG_FILE = "/etc/preflight/Caddyfile"
CERT_FILE = "/etc/preflight/tls/cert.pem"
KEY_FILE = "/etc/preflight/tls/key.pem"


@dataclass(frozen=True)
class ProxyRoute:
    hostname: str
    path: str
    upstream: str  # host:port on the edge network
    health_path: str


@dataclass(frozen=True)
class TlsCertificate:
    cert_pem: pulumi.Input[str]
    key_pem: pulumi.Input[str]


def security_headers(settings: ProxySettings) -> dict[str, str]:
    return {
        "Strict-Transport-Security": f"max-age={settings.hsts_max_age_s}; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Content-Security-Policy": settings.content_security_policy,
    }


def render_caddyfile(settings: ProxySettings, routes: Sequence[ProxyRoute], *,
                     tls_files: tuple[str, str] = (CERT_FILE, KEY_FILE), listen_ports: Optional[tuple[int, int]] = None) -> str:
    """The proxy's whole config. Inside the container Caddy listens on 80/443 (`listen_ports` lets a
    test run the same config unprivileged); the redirect targets the published HTTPS port."""
    listen = [f"\thttp_port {listen_ports[0]}", f"\thttps_port {listen_ports[1]}"] if listen_ports else []
    header_lines = [f'\t\t{name} "{value}"' for name, value in security_headers(settings).items()]
    # A client without SNI (Hetzner's load-balancer health check over TLS) gets the first site's certificate.
    default_sni = [f"\tdefault_sni {min(r.hostname for r in routes)}"] if routes else []
    lines = [
        "{",
        "\tadmin 127.0.0.1:2019",
        "\tauto_https off",  # certificates are ours; the redirect below is explicit
        *default_sni,
        *listen,
        "}",
        "",
        "(security_headers) {",
        "\theader {",
        *header_lines,
        "\t\t-Server",
        "\t}",
        "}",
        "",
        "http:// {",
        f"\tredir https://{{host}}{settings.public_port_suffix}{{uri}} 308",
        "}",
    ]
    by_host = groupby(sorted(routes, key=lambda r: (r.hostname, -len(r.path))), key=lambda r: r.hostname)
    for hostname, host_routes in by_host:
        lines += ["", f"https://{hostname} {{", f"\ttls {tls_files[0]} {tls_files[1]}", "\timport security_headers"]
        for route in host_routes:
            matcher = "" if route.path == "/" else f" {route.path.rstrip('/')}/*"
            lines += [
                f"\thandle{matcher} {{",
                f"\t\treverse_proxy {route.upstream} {{",
                f"\t\t\thealth_uri {route.health_path}",
                "\t\t\thealth_interval 10s",
                "\t\t\tlb_try_duration 10s",  # rides out the swap from an old to a new container
                "\t\t}",
                "\t}",
            ]
        lines += ["\thandle {", "\t\trespond 404", "\t}", "}"]
    return "\n".join(lines) + "\n"


class ReverseProxy(pulumi.ComponentResource):
    def __init__(self, name: str, settings: ProxySettings, *, host: Host, stack: str, routes: Sequence[ProxyRoute],
                 certificate: TlsCertificate, depends_on: Sequence[pulumi.Resource] = (),
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("preflight:index:ReverseProxy", name, None, opts)
        image = remote_image(f"{name}-image", settings.image, host.child_opts(self))
        self.caddyfile = render_caddyfile(settings, routes)
        files = [SecretFile(CONFIG_FILE, self.caddyfile), SecretFile(CERT_FILE, certificate.cert_pem),
                 SecretFile(KEY_FILE, pulumi.Output.secret(certificate.key_pem))]
        self.container = docker.Container(
            name,
            **baseline_args(image=image.image_id, stack=stack, component="proxy", role="proxy", limits=settings.limits,
                            healthcheck=settings.healthcheck,
                            command=["caddy", "run", "--config", CONFIG_FILE, "--adapter", "caddyfile"]),
            uploads=uploads(files),
            ports=[docker.ContainerPortArgs(internal=80, external=settings.http_port + host.port_offset,
                                            ip=settings.bind_address),
                   docker.ContainerPortArgs(internal=443, external=settings.https_port + host.port_offset,
                                            ip=settings.bind_address)],
            networks_advanced=networks({"edge": host.edge_network.name}, alias="proxy"),
            # A published host port can be bound by one container at a time: the old proxy must go
            # first. Config changes therefore cost a few seconds of proxy downtime.
            opts=host.child_opts(self, delete_before_replace=True, depends_on=list(depends_on)),
        )
        self.register_outputs({"container": self.container.name})
