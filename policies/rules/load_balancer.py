"""The Hetzner load balancer in front of several application servers: health-checked, on the private
network, HTTPS end to end."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, Severity

from .base import of_type, referrers, rule_maker

LOAD_BALANCER = "hcloud:index/loadBalancer:LoadBalancer"
LB_SERVICE = "hcloud:index/loadBalancerService:LoadBalancerService"
LB_NETWORK = "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork"
LB_TARGET = "hcloud:index/loadBalancerTarget:LoadBalancerTarget"
HTTPS_PORT = 443


def health_checked(props: Mapping[str, Any]) -> Iterator[str]:
    check = props.get("healthCheck")
    if not check or not check.get("protocol"):
        yield ("give this service a health check (healthCheck with protocol, interval, timeout, retries), so a "
               "server that stops answering is taken out of rotation")
    elif check.get("protocol") in ("http", "https") and not (check.get("http") or {}).get("path"):
        yield "name the path the HTTP health check requests (healthCheck.http.path: the proxy's health route)"
    elif check.get("protocol") in ("http", "https") and accepts_any_answer((check.get("http") or {}).get("statusCodes")):
        yield ("the health check accepts every answer (statusCodes "
               f"{', '.join((check.get('http') or {}).get('statusCodes') or [])}), so it tests nothing; accept only "
               "the healthy one (2?? on the health port, 3?? for the HTTPS redirect)")


def accepts_any_answer(codes) -> bool:
    """Status code patterns (2??, 200, 3??) that admit an error answer: 4xx and 5xx both pass."""
    patterns = [str(c) for c in codes or []]
    return any(p[0] in "4*" or p.startswith("?") for p in patterns) and any(p[0] in "5*" or p.startswith("?")
                                                                            for p in patterns)


def private_targets(props: Mapping[str, Any]) -> Iterator[str]:
    if props.get("type") == "server" and not props.get("usePrivateIp"):
        yield ("reach this target over the private network (usePrivateIp: true); its public interface admits only "
               "Cloudflare")


def https_only(props: Mapping[str, Any]) -> Iterator[str]:
    protocol = props.get("protocol")
    if protocol == "http":
        yield ("this service forwards plain HTTP; pass TCP through to the proxy, which terminates TLS "
               "(protocol: tcp), or terminate HTTPS here (protocol: https with certificates)")
    if protocol == "https" and not (props.get("http") or {}).get("certificates"):
        yield "an https service needs its certificates (http.certificates)"


def attached_and_listening(resources: Sequence[PolicyResource]):
    """Every load balancer sits in a private network and answers on 443."""
    networks = referrers(of_type(resources, LB_NETWORK), "loadBalancerId")
    services = referrers(of_type(resources, LB_SERVICE), "loadBalancerId")
    for lb in of_type(resources, LOAD_BALANCER):
        if lb.urn not in networks:
            yield (f"attach {lb.name} to the private network (hcloud.LoadBalancerNetwork), so it reaches the servers "
                   "there", lb)
        if not any(s.props.get("listenPort") == HTTPS_PORT for s in services.get(lb.urn, [])):
            yield f"{lb.name} has no service on port 443; HTTPS is the only way in", lb


_rule = rule_maker("load-balancer")

RULES = [
    _rule("PF-LB-001", "Every load balancer service checks its targets' health, with a check that can fail.", Severity.HIGH,
          "health checks on every service; rollback under 5 minutes", health_checked, types=(LB_SERVICE,)),
    _rule("PF-LB-002", "The load balancer reaches its targets over the private network.", Severity.HIGH,
          "database only on the internal network; servers admit the public only through the edge",
          private_targets, types=(LB_TARGET,)),
    _rule("PF-LB-003", "The load balancer forwards HTTPS only (TLS to the proxy or terminated with a certificate).",
          Severity.CRITICAL, "HTTPS everywhere", https_only, types=(LB_SERVICE,)),
    _rule("PF-LB-004", "Every load balancer is in the private network and listens on 443.", Severity.HIGH,
          "HTTPS everywhere", attached_and_listening),
]
