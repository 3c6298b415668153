"""The TLS-terminating reverse proxy (Caddy): HTTPS only, HSTS, security headers,
health-checked upstreams. The only container that publishes host ports. Its upstreams are the
services' current containers, switched at each release once the new ones are healthy
(components/proxy_sites.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

import pulumi
import pulumi_docker as docker

from .containers import SecretFile, baseline_args, networks, uploads
from .host import Host
from .images import remote_image
from .monitoring.scrape import PROXY_METRICS_PORT
from .proxy_sites import CONFIG_FILE, SITES_FILE, ProxySites
from .settings import ProxySettings

CERT_FILE = "/etc/preflight/tls/cert.pem"
KEY_FILE = "/etc/preflight/tls/key.pem"
# The CA whose client certificates the proxy accepts (cloud stacks: Cloudflare's origin pulls).
CLIENT_CA_FILE = "/etc/preflight/tls/origin-pull-ca.pem"
# What the proxy serves until its first site blocks arrive (seconds after it starts, on the first up).
SITES_PLACEHOLDER = "# site blocks: written by the ProxySites resource at every release\n"
# How long a reload waits for requests in flight on the previous routes (the old release drains).
DRAIN_S = 30


@dataclass(frozen=True)
class ProxyRoute:
    hostname: str
    path: str
    upstream: str  # host:port on the edge network (the proxy container: upstream_marker(service))
    health_path: str


@dataclass(frozen=True)
class TlsCertificate:
    """What the proxy serves, and (client_ca_pem) the CA a client's certificate must be signed by;
    None: no client certificate is asked for (`local`)."""

    cert_pem: pulumi.Input[str]
    key_pem: pulumi.Input[str]
    client_ca_pem: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class SiteTls:
    """The files a site block's `tls` directive names; client_ca_file: TLS only with a client
    certificate that CA signed, refused in the handshake otherwise."""

    cert_file: str = CERT_FILE
    key_file: str = KEY_FILE
    client_ca_file: str | None = None

    def directive(self, indent: str = "\t") -> list[str]:
        head = f"{indent}tls {self.cert_file} {self.key_file}"
        if self.client_ca_file is None:
            return [head]
        return [head + " {", f"{indent}\tclient_auth {{", f"{indent}\t\tmode require_and_verify",
                f"{indent}\t\ttrusted_ca_cert_file {self.client_ca_file}", f"{indent}\t}}", f"{indent}}}"]


def security_headers(settings: ProxySettings) -> dict[str, str]:
    return {
        "Strict-Transport-Security": f"max-age={settings.hsts_max_age_s}; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Content-Security-Policy": settings.content_security_policy,
    }


def render_caddyfile(settings: ProxySettings, routes: Sequence[ProxyRoute], *, tls: SiteTls = SiteTls(),
                     listen_ports: tuple[int, int] | None = None, health_port: int | None = None) -> str:
    """The whole config in one file (a proxy whose upstreams never change: the compose benchmark,
    the integration tests). Inside the container Caddy listens on 80/443 (`listen_ports` lets a
    test run the same config unprivileged); the redirect targets the published HTTPS port."""
    hostnames = sorted({r.hostname for r in routes})
    return render_main(settings, hostnames, listen_ports=listen_ports) + render_sites(routes, tls=tls,
                                                                                      health_port=health_port)


def render_main(settings: ProxySettings, hostnames: Sequence[str], *, listen_ports: tuple[int, int] | None = None,
                sites_file: str | None = None) -> str:
    """Everything but the site blocks: global options, the security headers, the HTTPS redirect.
    sites_file: the site blocks are imported from there (the proxy container: switched per release)."""
    listen = [f"\thttp_port {listen_ports[0]}", f"\thttps_port {listen_ports[1]}"] if listen_ports else []
    header_lines = [f'\t\t{name} "{value}"' for name, value in security_headers(settings).items()]
    # A client without SNI (Hetzner's load-balancer health check over TLS) gets the first site's certificate.
    default_sni = [f"\tdefault_sni {min(hostnames)}"] if hostnames else []
    lines = [
        "{",
        "\tadmin 127.0.0.1:2019",
        "\tauto_https off",  # certificates are ours; the redirect below is explicit
        # A reload lets requests in flight on the old routes finish (the old release is drained)
        # for up to this long before the old routes are dropped.
        f"\tgrace_period {DRAIN_S}s",
        # Request metrics (Caddy 2.6 keeps none unless asked), served below for the monitoring.
        "\tservers {",
        "\t\tmetrics",
        "\t}",
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
        "",
        # Request metrics for the monitoring, on the edge network only (never published).
        f"http://:{PROXY_METRICS_PORT} {{",
        "\tmetrics /metrics",
        "}",
    ]
    if sites_file:
        lines += ["", f"import {sites_file}"]
    return "\n".join(lines) + "\n"


def render_sites(routes: Sequence[ProxyRoute], *, tls: SiteTls = SiteTls(), health_port: int | None = None) -> str:
    """One site block per hostname: its routes, longest path first, each to its upstream with an
    active health check; anything else 404. With a client CA, every TLS handshake needs a client
    certificate it signed, whatever name the client asks for (a catch-all site). health_port: the
    health routes alone, over plain HTTP, for a load balancer's checks."""
    lines: list[str] = []
    for hostname, host_routes in by_hostname(routes):
        lines += ["", f"https://{hostname} {{", *tls.directive(), "\timport security_headers"]
        for route in host_routes:
            matcher = "" if route.path == "/" else f" {route.path.rstrip('/')}/*"
            lines += [
                f"\thandle{matcher} {{",
                f"\t\treverse_proxy {route.upstream} {{",
                f"\t\t\thealth_uri {route.health_path}",
                "\t\t\thealth_interval 10s",
                "\t\t\tlb_try_duration 10s",  # rides out a restart of the upstream container
                "\t\t}",
                "\t}",
            ]
        lines += ["\thandle {", "\t\trespond 404", "\t}", "}"]
    if tls.client_ca_file is not None:
        # A client asking for another name (or none the sites match) meets the same demand. Without
        # it, such a handshake fails only for want of a certificate for that name (Caddy 2.6), which a
        # Caddy that picks a default certificate would complete without asking for a client one.
        lines += ["", "https:// {", *tls.directive(), "\trespond 421", "}"]
    if health_port is not None:
        lines += health_sites(routes, health_port)
    return "\n".join(lines) + "\n"


def by_hostname(routes: Sequence[ProxyRoute]) -> list[tuple[str, list[ProxyRoute]]]:
    """Routes grouped by hostname, each group longest path first."""
    ordered = sorted(routes, key=lambda r: (r.hostname, -len(r.path)))
    return [(hostname, list(group)) for hostname, group in groupby(ordered, key=lambda r: r.hostname)]


def health_sites(routes: Sequence[ProxyRoute], port: int) -> list[str]:
    """Per hostname, its routes' health paths (exactly) to their upstreams; anything else 404."""
    lines: list[str] = []
    for hostname, host_routes in by_hostname(routes):
        upstream_of: dict[str, str] = {}
        for route in host_routes:
            upstream_of.setdefault(route.health_path, route.upstream)
        lines += ["", f"http://{hostname}:{port} {{"]
        for path, upstream in upstream_of.items():
            lines += [f"\thandle {path} {{", f"\t\treverse_proxy {upstream}", "\t}"]
        lines += ["\thandle {", "\t\trespond 404", "\t}", "}"]
    return lines


class ReverseProxy(pulumi.ComponentResource):
    """The proxy container (its global config, certificate and key; replaced only when those change)
    and its site blocks (`ProxySites`: switched in place, gracefully, at every release)."""

    def __init__(self, name: str, settings: ProxySettings, *, host: Host, stack: str, routes: Sequence[ProxyRoute],
                 upstreams: Mapping[str, pulumi.Input[str]], certificate: TlsCertificate,
                 load_balanced: bool = False, depends_on: Sequence[pulumi.Resource] = (),
                 after: Sequence[pulumi.Resource] = (), opts: pulumi.ResourceOptions | None = None):
        """routes: each upstream is `upstream_marker(service)`; upstreams: service -> its current
        container's host:port (an output); load_balanced: a load balancer checks this server (the
        proxy publishes settings.health_port); depends_on: what the site blocks wait for (the
        services' new containers, healthy; the edge presenting its client certificate); after: what
        the proxy container itself waits for (the previous server's rollout gate)."""
        super().__init__("preflight:index:ReverseProxy", name, None, opts)
        image = remote_image(f"{name}-image", settings.image, host.child_opts(self))
        self.caddyfile = render_main(settings, sorted({r.hostname for r in routes}), sites_file=SITES_FILE)
        files = [SecretFile(CONFIG_FILE, self.caddyfile), SecretFile(SITES_FILE, SITES_PLACEHOLDER),
                 SecretFile(CERT_FILE, certificate.cert_pem), SecretFile(KEY_FILE, pulumi.Output.secret(certificate.key_pem))]
        tls = SiteTls()
        if certificate.client_ca_pem is not None:
            files.append(SecretFile(CLIENT_CA_FILE, certificate.client_ca_pem))
            tls = SiteTls(client_ca_file=CLIENT_CA_FILE)
        health_port = settings.health_port if load_balanced else None
        # The health port is published on every address: what keeps it private is the firewall (Hetzner's
        # admits only 22/80/443 publicly; servers you have: the host filter admits it from app_subnet).
        # Binding it to the private address would stop the proxy starting when that address comes up late.
        health_ports = [docker.ContainerPortArgs(internal=settings.health_port, external=settings.health_port)] \
            if health_port is not None else []
        self.container = docker.Container(
            name,
            **baseline_args(image=image.image_id, stack=stack, component="proxy", role="proxy", limits=settings.limits,
                            healthcheck=settings.healthcheck,
                            command=["caddy", "run", "--config", CONFIG_FILE, "--adapter", "caddyfile"]),
            uploads=uploads(files),
            ports=[docker.ContainerPortArgs(internal=80, external=settings.http_port + host.port_offset,
                                            ip=settings.bind_address),
                   docker.ContainerPortArgs(internal=443, external=settings.https_port + host.port_offset,
                                            ip=settings.bind_address), *health_ports],
            networks_advanced=networks({"edge": host.edge_network.name}, alias="proxy"),
            # A published host port can be bound by one container at a time: the old proxy must go
            # first. Only a change of the proxy's own settings or certificate costs that downtime;
            # releases change the site blocks below, in place.
            opts=host.child_opts(self, delete_before_replace=True, depends_on=list(after)),
        )
        self.sites_template = render_sites(routes, tls=tls, health_port=health_port)
        self.site_blocks = ProxySites(f"{name}-sites", template=self.sites_template, upstreams=upstreams,
                                      container=self.container.name, docker_host=host.docker_host,
                                      ssh_options=host.ssh_options,
                                      opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, *after]))
        self.register_outputs({"container": self.container.name})
