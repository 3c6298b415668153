"""What Prometheus scrapes and what the blackbox exporter probes: pure, the configs as dicts.

Every target is a container on the stack's own networks, reached by its alias (or, for the
proxies, by container name: each application server's proxy has its own). A route's probe goes
through the proxy exactly as a user's request does (TLS with the route's name, its Host header,
the client certificate Cloudflare would present), to its health path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .rules import duration

# Aliases and ports of the monitoring containers on the stack's networks.
PROMETHEUS = ("prometheus", 9090)
ALERTMANAGER = ("alertmanager", 9093)
NODE_EXPORTER = ("node-exporter", 9100)
POSTGRES_EXPORTER = ("postgres-exporter", 9187)
REDIS_EXPORTER = ("redis-exporter", 9121)
BLACKBOX_EXPORTER = ("blackbox-exporter", 9115)
CONTAINER_EXPORTER = ("container-exporter", 9417)
# Where each proxy serves Caddy's request metrics (never published; the admin API stays on loopback).
PROXY_METRICS_PORT = 9180

CONFIG_DIR = "/etc/monitoring"
RULES_FILE = f"{CONFIG_DIR}/rules.yml"
BLACKBOX_CA_FILE = f"{CONFIG_DIR}/proxy-ca.pem"
BLACKBOX_CLIENT_CERT = f"{CONFIG_DIR}/client.pem"
BLACKBOX_CLIENT_KEY = f"{CONFIG_DIR}/client-key.pem"


@dataclass(frozen=True)
class ProbedRoute:
    service: str
    hostname: str
    health_path: str


def address(target: tuple[str, int]) -> str:
    return f"{target[0]}:{target[1]}"


def module_name(route: ProbedRoute) -> str:
    return f"route_{route.service}"


def prometheus_config(*, stack: str, scrape_interval_s: int, proxies: Sequence[str],
                      routes: Sequence[ProbedRoute]) -> dict:
    """proxies: the proxy containers' names (one per application server)."""
    interval = duration(scrape_interval_s)
    static = [("prometheus", [f"localhost:{PROMETHEUS[1]}"]), ("alertmanager", [address(ALERTMANAGER)]),
              ("node", [address(NODE_EXPORTER)]), ("postgres", [address(POSTGRES_EXPORTER)]),
              ("redis", [address(REDIS_EXPORTER)]), ("containers", [address(CONTAINER_EXPORTER)]),
              ("blackbox", [address(BLACKBOX_EXPORTER)]),
              ("proxy", [f"{proxy}:{PROXY_METRICS_PORT}" for proxy in proxies])]
    jobs = [{"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in static]
    jobs.append({
        "job_name": "routes",
        "metrics_path": "/probe",
        "static_configs": [{"targets": [f"https://{proxy}:443{route.health_path}"],
                            "labels": {"route": route.service, "module": module_name(route), "hostname": route.hostname}}
                           for route in routes for proxy in proxies],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["module"], "target_label": "__param_module"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": address(BLACKBOX_EXPORTER)},
        ],
    })
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": duration(
            min(10, scrape_interval_s)), "external_labels": {"stack": stack}},
        "rule_files": [RULES_FILE],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [address(ALERTMANAGER)]}]}]},
        "scrape_configs": jobs,
    }


def blackbox_config(routes: Sequence[ProbedRoute], *, verify_with_ca: bool, client_certificate: bool) -> dict:
    """One module per route: its name in SNI and Host. verify_with_ca: the proxy's certificate is
    checked against the stack's own (local: self-signed); otherwise it is Cloudflare's origin
    certificate, which only Cloudflare trusts, and the probe proves reachability and expiry, not trust."""
    modules = {}
    for route in routes:
        tls: dict = {"server_name": route.hostname}
        tls.update({"ca_file": BLACKBOX_CA_FILE} if verify_with_ca else {"insecure_skip_verify": True})
        if client_certificate:
            tls.update({"cert_file": BLACKBOX_CLIENT_CERT, "key_file": BLACKBOX_CLIENT_KEY})
        modules[module_name(route)] = {"prober": "http", "timeout": "5s", "http": {
            "method": "GET", "valid_status_codes": [200], "fail_if_not_ssl": True, "preferred_ip_protocol": "ip4",
            "headers": {"Host": route.hostname}, "tls_config": tls}}
    return {"modules": modules}
