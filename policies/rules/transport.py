"""Transport security everywhere: backups over HTTPS, the origin's own TLS no lower than 1.2, the
proxy's admin API on loopback only, a Content-Security-Policy that names its sources."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from components.transport import csp_wildcards, plain_http_repository

from . import caddyfile
from .base import CONTAINER, env_items, number, role, rule_maker
from .edge import MIN_TLS, tls_version
from .security import DYNAMIC, is_nginx, proxy_config, reads_proxy_config

DEFAULT_ADMIN = "localhost:2019"  # Caddy's admin endpoint when the config names none
LOOPBACK_ADMIN = re.compile(r"^(off|unix/.*|(localhost|127(\.\d+){3}|\[::1\])(:\d+)?)$")


def backups_over_https(props: Mapping[str, Any]) -> Iterator[str]:
    for key, value in env_items(props):
        restic = role(props) == "backup" or "RESTIC" in key.upper()  # a restic repository, not any git repo
        host = plain_http_repository(value) if restic and "REPO" in key.upper() else None
        if host:
            yield (f"env {key} of {props.get('name')} reaches the backup repository at {host} in plain HTTP; use "
                   f"s3:https://{host}/... (settings: backup.repository.url)")


def tls_minimums(config: str) -> list[str]:
    """The lowest TLS version each protocols directive admits (Caddy's `protocols min [max]`, nginx's
    `ssl_protocols`); Caddy's default is 1.2."""
    if is_nginx(config):
        return [" ".join(d) for d in re.findall(r"^\s*ssl_protocols\s+([^;]+);", config, re.M)]
    return [" ".join(words[1:]) for words in caddyfile.directives(config, "protocols") if len(words) > 1]


@reads_proxy_config
def origin_tls_at_least_12(config: str) -> Iterator[str]:
    for protocols in tls_minimums(config):
        lowest = min(tls_version(v) for v in protocols.split())
        if lowest < MIN_TLS:
            yield (f"the proxy admits {protocols.split()[0]} (protocols {protocols}); set protocols tls1.2 (or tls1.3) "
                   "or remove the directive (Caddy's default is 1.2)")


@reads_proxy_config
def admin_on_loopback(config: str) -> Iterator[str]:
    for words in caddyfile.directives(config, "admin"):
        address = words[1] if len(words) > 1 and words[1] != "{" else DEFAULT_ADMIN
        if not LOOPBACK_ADMIN.match(address):
            yield (f"the proxy's admin API listens on {address}: whoever reaches it rewrites the config; set admin "
                   "127.0.0.1:2019 (or admin off)")


def admin_not_published(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) != "proxy":
        return
    admin = [w[1] for w in caddyfile.directives(proxy_config(props), "admin") if len(w) > 1]
    admin_ports = {int(a.rsplit(":", 1)[1]) for a in admin if re.search(r":\d+$", a)} or {2019}
    for port in props.get("ports") or []:
        if number(port.get("internal")) in admin_ports and not str(port.get("ip") or "").startswith("127."):
            yield (f"{props.get('name')} publishes its admin port {number(port.get('internal'))}; remove that port "
                   "(the admin API stays inside the container)")


def admin_api_private(props: Mapping[str, Any]) -> Iterator[str]:
    yield from admin_on_loopback(props)
    yield from admin_not_published(props)


def csp_header(config: str) -> str | None:
    if is_nginx(config):
        found = re.search(r"add_header\s+Content-Security-Policy\s+[\"']([^\"']*)", config)
        return found.group(1) if found else None
    return next((v for k, v in caddyfile.response_headers(config).items() if k.lower() == "content-security-policy"),
                None)


@reads_proxy_config
def csp_names_its_sources(config: str) -> Iterator[str]:
    policy = csp_header(config)
    wildcards = csp_wildcards(policy) if policy is not None else []  # no header at all: PF-SEC-008
    if wildcards:
        yield (f"the Content-Security-Policy admits any host ({', '.join(wildcards)}); name the sources ('self', "
               "https://cdn.example.com) (settings: proxy.content_security_policy)")


_rule = rule_maker("transport", (CONTAINER,))

RULES = [
    _rule("PF-TLS-001", "Backups travel to their repository over HTTPS.", Severity.HIGH,
          "scheduled backups with a stated retention (RPO <= 1 h); HTTPS forced", backups_over_https),
    _rule("PF-TLS-002", "The proxy admits TLS 1.2 or higher only.", Severity.HIGH,
          "minimum TLS >= 1.2 (compare with >=, 1.3 passes)", origin_tls_at_least_12, types=(CONTAINER, DYNAMIC)),
    _rule("PF-TLS-003", "The proxy's admin API listens on loopback only and is not published.", Severity.CRITICAL,
          "security headers at the proxy; Postgres/Redis reachable only on an internal network", admin_api_private),
    _rule("PF-TLS-004", "The Content-Security-Policy names its sources: no wildcard.", Severity.MEDIUM,
          "security headers at the proxy", csp_names_its_sources),
]
