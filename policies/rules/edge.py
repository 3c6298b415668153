"""The Cloudflare edge: TLS mode, HTTPS, minimum TLS, HSTS, proxied records, rate limiting."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, Severity

from components.mail_records import record_problems, sender_domains

from . import caddyfile
from .base import CONTAINER, env_items, number, of_type, role, rule_maker
from .security import DYNAMIC, HSTS_MIN_AGE, is_nginx, proxy_config

ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
RULESET = "cloudflare:index/ruleset:Ruleset"
ORIGIN_PULLS = "cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings"
ORIGIN_PULL_CERT = "cloudflare:index/authenticatedOriginPullsCertificate:AuthenticatedOriginPullsCertificate"
TRUSTED_CA = ("trusted_ca_cert_file", "trusted_ca_cert", "trust_pool")
PROXIABLE = ("A", "AAAA", "CNAME")
MIN_TLS = (1, 2)
REQUIRED_SETTINGS = ("ssl", "always_use_https", "min_tls_version", "security_header")
MITIGATIONS = ("block", "managed_challenge", "challenge", "js_challenge")


def setting(props: Mapping[str, Any], setting_id: str) -> tuple[bool, Any]:
    applies = props.get("settingId") == setting_id
    return applies, (props.get("value") if applies else None)


def ssl_strict(props: Mapping[str, Any]) -> Iterator[str]:
    applies, value = setting(props, "ssl")
    if applies and value != "strict":
        yield f"set SSL mode to 'strict' (Full (strict)) — is {value!r}; anything less accepts a forged origin certificate"


def always_https(props: Mapping[str, Any]) -> Iterator[str]:
    applies, value = setting(props, "always_use_https")
    if applies and value != "on":
        yield f"set always_use_https to 'on' (is {value!r})"


def tls_version(text: Any) -> tuple[int, ...]:
    """'1.2' -> (1, 2); compared as numbers so '1.3' passes a 1.2 minimum and '1.10' sorts after '1.9'."""
    return tuple(int(part) for part in re.findall(r"\d+", str(text))) or (0,)


def minimum_tls(props: Mapping[str, Any]) -> Iterator[str]:
    applies, value = setting(props, "min_tls_version")
    if applies and tls_version(value) < MIN_TLS:
        yield f"raise min_tls_version to 1.2 or higher (is {value!r})"


def tls_13(props: Mapping[str, Any]) -> Iterator[str]:
    applies, value = setting(props, "tls_1_3")
    if applies and value not in ("on", "zrt"):
        yield f"turn TLS 1.3 on (tls_1_3: 'on', is {value!r})"


def edge_hsts(props: Mapping[str, Any]) -> Iterator[str]:
    applies, value = setting(props, "security_header")
    if not applies:
        return
    hsts = (value or {}).get("strict_transport_security") or {}
    if not hsts.get("enabled"):
        yield "enable HSTS in the zone's security_header setting"
    elif int(hsts.get("max_age") or 0) < HSTS_MIN_AGE or not hsts.get("include_subdomains"):
        yield (f"set HSTS max_age >= {HSTS_MIN_AGE} with include_subdomains "
               f"(is max_age {number(hsts.get('max_age'))}, include_subdomains {hsts.get('include_subdomains')})")


def proxied_record(props: Mapping[str, Any]) -> Iterator[str]:
    if props.get("type") in PROXIABLE and not props.get("proxied"):
        yield f"set proxied: true on {props.get('name')!r} so traffic goes through Cloudflare's TLS, WAF and rate limits"


def zones(resources: Sequence[PolicyResource]) -> dict[str, PolicyResource]:
    """zone id -> the first record in it, for every zone the stack puts public records in."""
    found: dict[str, PolicyResource] = {}
    for record in of_type(resources, DNS_RECORD):
        if record.props.get("type") in PROXIABLE:
            found.setdefault(str(record.props.get("zoneId")), record)
    return found


def rate_limited(resources: Sequence[PolicyResource]):
    limited = set()
    for ruleset in of_type(resources, RULESET):
        if ruleset.props.get("phase") == "http_ratelimit" and any(
                r.get("ratelimit") and r.get("action") in MITIGATIONS and r.get("enabled", True)
                for r in ruleset.props.get("rules") or []):
            limited.add(ruleset.props.get("zoneId"))
    for zone, record in zones(resources).items():
        if zone not in limited:
            yield ("add a rate-limiting ruleset (phase http_ratelimit, action block or managed_challenge) for the "
                   f"API's authentication and write paths in zone {zone}", record)


def zone_settings_present(resources: Sequence[PolicyResource]):
    declared = {(s.props.get("zoneId"), s.props.get("settingId")) for s in of_type(resources, ZONE_SETTING)}
    for zone, record in zones(resources).items():
        missing = [s for s in REQUIRED_SETTINGS if (zone, s) not in declared]
        if missing:
            yield (f"declare the zone settings {', '.join(missing)} for zone {zone}; Cloudflare's defaults "
                   "do not force HTTPS or strict TLS", record)


def same_host(route: str, record: str) -> bool:
    return route == record or route.startswith(record + ".")  # a record name may be relative to the zone


def hostnames_routed(resources: Sequence[PolicyResource]):
    proxies = [c for c in of_type(resources, CONTAINER) if role(c.props) == "proxy"]
    configs = [proxy_config(r.props) for r in [*proxies, *of_type(resources, DYNAMIC)]]
    records = [r for r in of_type(resources, DNS_RECORD) if r.props.get("type") in PROXIABLE]
    # A stack behind Cloudflare (any of its resources) must have records for its routes, even when it
    # has none at all; `local` has no edge and is left out.
    public = any(r.resource_type.startswith("cloudflare:") for r in resources)
    if not proxies or not (records or public):
        return
    routes = {h for config in configs for h in re.findall(r"^https://([a-z0-9.-]+)[:\s{]", config, re.M)}
    for route in sorted(routes):
        if not any(same_host(route, r.props.get("name") or "") for r in records):
            yield f"the proxy serves {route} but no DNS record points at it; add one", proxies[0]
    for record in records:
        if not any(same_host(route, record.props.get("name") or "") for route in routes):
            yield f"DNS record {record.props.get('name')} has no route at the proxy; add a route or remove the record", record


def site_demands(addresses: list[str], site: list[str]) -> str | None:
    """Why an HTTPS site block of a Caddyfile does not demand a client certificate of a CA; None if it does."""
    settings = caddyfile.client_auth(site)
    name = " ".join(addresses)
    if not settings:
        return f"the proxy's site {name} asks no client certificate; add client_auth to its tls block"
    mode = (settings.get("mode") or ["request"])[-1]
    if mode != "require_and_verify":
        return f"the proxy's site {name} has client_auth mode {mode!r}; use require_and_verify"
    if not any(settings.get(key) for key in TRUSTED_CA):
        return f"the proxy's site {name} names no CA for client certificates (trusted_ca_cert_file)"
    return None


def proxy_demand_problems(config: str) -> tuple[list[str], int]:
    """What keeps one proxy config from refusing TLS without the zone's client certificate, and how
    many HTTPS sites it has to judge (nginx: its one server, counted as one)."""
    if is_nginx(config):
        verified = re.search(r"^\s*ssl_verify_client\s+on\s*;", config, re.M)
        trusted = re.search(r"^\s*ssl_client_certificate\s+\S+", config, re.M)
        return ([] if verified and trusted else ["the proxy (nginx) needs ssl_verify_client on and ssl_client_certificate"],
                1)
    https_sites = [(addresses, site) for addresses, site in caddyfile.sites(config) if caddyfile.serves_https(addresses)]
    return [p for addresses, site in https_sites for p in [site_demands(addresses, site)] if p], len(https_sites)


def origin_pulls(resources: Sequence[PolicyResource]):
    """A stack behind Cloudflare: zone-level authenticated origin pulls with the zone's own certificate,
    and a proxy that refuses TLS without it (else any Cloudflare zone, or anyone reaching the origin's
    address, gets past the edge)."""
    public = zones(resources)
    if not public:
        return
    enabled = {s.props.get("zoneId") for s in of_type(resources, ORIGIN_PULLS) if s.props.get("enabled") is True}
    certified = {c.props.get("zoneId") for c in of_type(resources, ORIGIN_PULL_CERT)}
    for zone, record in public.items():
        if zone not in enabled:
            yield (f"turn zone-level authenticated origin pulls on for zone {zone} "
                   "(cloudflare.AuthenticatedOriginPullsSettings, enabled: true)", record)
        if zone not in certified:
            yield (f"upload the zone's own client certificate for zone {zone} (cloudflare.AuthenticatedOriginPullsCertificate); "
                   "without it Cloudflare presents the certificate it shares with every account", record)
    proxies = [c for c in of_type(resources, CONTAINER) if role(c.props) == "proxy"]
    problems, judged = [], 0
    for carrier in [*proxies, *of_type(resources, DYNAMIC)]:
        config = proxy_config(carrier.props)
        if config:
            found, sites = proxy_demand_problems(config)
            problems += [(p, carrier) for p in found]
            judged += sites
    if proxies and not judged:
        yield "the pack finds no HTTPS site in the proxy's config to check for client certificates", proxies[0]
    yield from problems


def mail_authenticated(resources: Sequence[PolicyResource]):
    """Mail a service sends from a domain (its env: MAIL_FROM=noreply@example.com) is authenticated by
    the zone: SPF, DKIM and DMARC with p=quarantine or reject; a declared SPF or DMARC record is judged
    even without a sender."""
    txt: dict[str, list[str]] = {}
    for record in of_type(resources, DNS_RECORD):
        if record.props.get("type") == "TXT":
            txt.setdefault(str(record.props.get("name") or "").lower(), []).append(str(record.props.get("content") or ""))
    # Only the stack's own domain: a domain its records are named under (not a customer's or gmail.com).
    names = [str(r.props.get("name") or "").lower() for r in of_type(resources, DNS_RECORD)]
    senders: dict[str, PolicyResource] = {}
    for container in of_type(resources, CONTAINER):
        for domain in sorted(sender_domains(env_items(container.props))):
            if any(name == domain or name.endswith("." + domain) for name in names):
                senders.setdefault(domain, container)
    declared = {name.removeprefix("_dmarc.") for name, contents in txt.items()
                if any(c.strip('"').startswith(("v=spf1", "v=DMARC1")) for c in contents)}
    anchor = next(iter(of_type(resources, DNS_RECORD)), None)
    for domain in sorted(set(senders) | declared):
        sender = senders.get(domain)
        for problem in record_problems(domain, txt, sends=sender is not None):
            where = f"{sender.name} sends mail from {domain}: " if sender else ""
            resource = sender or anchor
            if resource is not None:
                yield f"{where}{problem} (settings: edge.mail)", resource


_rule = rule_maker("edge")


RULES = [
    _rule("PF-EDGE-001", "Cloudflare SSL mode is Full (strict).", Severity.CRITICAL, "HTTPS forced",
          ssl_strict, types=(ZONE_SETTING,)),
    _rule("PF-EDGE-002", "Cloudflare always redirects to HTTPS.", Severity.HIGH, "HTTPS forced",
          always_https, types=(ZONE_SETTING,)),
    _rule("PF-EDGE-003", "Minimum TLS version is 1.2 or higher.", Severity.HIGH,
          "minimum TLS >= 1.2 (compare with >=, 1.3 passes)", minimum_tls, types=(ZONE_SETTING,)),
    _rule("PF-EDGE-004", f"The zone sends HSTS with max-age >= {HSTS_MIN_AGE} and includeSubDomains.", Severity.HIGH,
          "HSTS max-age >= 31536000", edge_hsts, types=(ZONE_SETTING,)),
    _rule("PF-EDGE-005", "TLS 1.3 is on.", Severity.LOW, "minimum TLS >= 1.2 (compare with >=, 1.3 passes)",
          tls_13, types=(ZONE_SETTING,)),
    _rule("PF-EDGE-006", "Public A, AAAA and CNAME records are proxied by Cloudflare.", Severity.HIGH,
          "HTTPS forced; rate limiting on the API", proxied_record, types=(DNS_RECORD,)),
    _rule("PF-EDGE-007", "Every public zone has a rate-limiting rule.", Severity.HIGH, "rate limiting on the API",
          rate_limited),
    _rule("PF-EDGE-008", "Every public zone declares its TLS, HTTPS and HSTS settings.", Severity.HIGH,
          "HTTPS forced, HSTS max-age >= 31536000, minimum TLS >= 1.2", zone_settings_present),
    _rule("PF-EDGE-009", "Every public hostname has a DNS record and a proxy route.", Severity.MEDIUM,
          "HTTPS forced", hostnames_routed),
    _rule("PF-EDGE-010", "Only Cloudflare, for this zone, reaches the origin: zone-level authenticated origin pulls on "
          "with the zone's own certificate, and the proxy refuses TLS without a client certificate of its CA.",
          Severity.CRITICAL, "the origin answers only the edge (authenticated origin pulls)", origin_pulls),
    _rule("PF-EDGE-011", "Mail sent from a domain is authenticated: SPF, DKIM and DMARC (p=quarantine or reject).",
          Severity.HIGH, "DNS: SPF, DKIM and DMARC records where the stack sends mail from its domain", mail_authenticated),
]
