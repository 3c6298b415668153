"""The Cloudflare edge of a cloud stack: proxied DNS records, the zone's TLS/HTTPS/HSTS settings, an
origin certificate for the proxy, zone-level authenticated origin pulls (the client certificate the
proxy demands), rate limiting, and external health checks that page on-call.

On the project's build machines no cloudflare plugin can be had (see toolchain/README.md): this
component is checked under mocks and by the policy pack's harness, not by the engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_cloudflare as cloudflare

from . import mail_records
from .cloud_settings import EdgeSettings
from .generated import GeneratedKeyAndCsr
from .origin_pulls import OriginPullCertificates
from .proxy import TlsCertificate
from .settings.monitoring import MonitoringSettings

# 15 years: the longest Cloudflare issues; the certificate is trusted only by Cloudflare itself.
ORIGIN_CERT_DAYS = 5475
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Rate-limit buckets are counted per client address and per Cloudflare data centre.
CLIENT = ["ip.src", "cf.colo.id"]


def zone_settings(settings: EdgeSettings) -> dict[str, object]:
    """Setting id -> value, written exactly as the API returns them (so a second preview is empty)."""
    return {
        "ssl": "strict",
        "always_use_https": "on",
        "min_tls_version": "1.2",
        "tls_1_3": "on",
        "security_header": {"strict_transport_security": {
            "enabled": True, "max_age": settings.hsts_max_age_s, "include_subdomains": True, "nosniff": True,
            "preload": False}},
    }


def host_expression(hostnames: Sequence[str]) -> str:
    return "http.host in {" + " ".join(f'"{h}"' for h in sorted(hostnames)) + "}"


def rate_limit_rules(settings: EdgeSettings, hostnames: Sequence[str]) -> list[cloudflare.RulesetRuleArgs]:
    limits = settings.rate_limit
    paths = " or ".join(f'starts_with(http.request.uri.path, "{p}")' for p in limits.auth_paths)
    methods = " ".join(f'"{m}"' for m in WRITE_METHODS)

    def rule(description: str, expression: str, per_minute: int) -> cloudflare.RulesetRuleArgs:
        return cloudflare.RulesetRuleArgs(
            description=description, action="block", expression=expression,
            ratelimit=cloudflare.RulesetRuleRatelimitArgs(characteristics=CLIENT, period=60,
                                                          requests_per_period=per_minute,
                                                          mitigation_timeout=limits.mitigation_timeout_s))

    return [
        rule("authentication paths", f"({host_expression(hostnames)} and ({paths}))", limits.auth_requests_per_minute),
        rule("write requests", f"({host_expression(hostnames)} and http.request.method in {{{methods}}})",
             limits.write_requests_per_minute),
    ]


class CloudflareEdge(pulumi.ComponentResource):
    def __init__(self, name: str, settings: EdgeSettings, monitoring: MonitoringSettings, *, hostnames: Sequence[str],
                 health_paths: dict[str, str], origin_pulls: OriginPullCertificates, domain: str = "",
                 opts: pulumi.ResourceOptions | None = None):
        """hostnames: every public hostname; health_paths: hostname -> its health route; origin_pulls:
        the client certificate the zone presents to the origin. The DNS records come with `route_to`,
        once what they point at can serve."""
        super().__init__("preflight:index:CloudflareEdge", name, None, opts)
        self._name, self._zone, self._hostnames = name, settings.zone_id, sorted(hostnames)
        child = pulumi.ResourceOptions(parent=self)
        zone = settings.zone_id
        for setting_id, value in zone_settings(settings).items():
            # Zone settings cannot be deleted, only changed: removing one from here leaves the zone as it is.
            cloudflare.ZoneSetting(f"{name}-{setting_id}", zone_id=zone, setting_id=setting_id, value=value, opts=child)

        request = GeneratedKeyAndCsr(f"{name}-origin-key", hostnames, opts=child)
        origin = cloudflare.OriginCaCertificate(f"{name}-origin-cert", csr=request.csr_pem, hostnames=sorted(hostnames),
                                                request_type="origin-ecc", requested_validity=ORIGIN_CERT_DAYS,
                                                opts=child)
        self.certificate = TlsCertificate(cert_pem=origin.certificate, key_pem=pulumi.Output.secret(request.key_pem))

        # Zone-level authenticated origin pulls with the stack's own client certificate (replaced
        # create-before-delete when renewed: the new one is uploaded before the old one goes).
        upload = cloudflare.AuthenticatedOriginPullsCertificate(
            f"{name}-origin-pull-certificate", zone_id=zone, certificate=origin_pulls.client.cert_pem,
            private_key=origin_pulls.client.key_pem, opts=child)  # a secret output of its generator
        enabled = cloudflare.AuthenticatedOriginPullsSettings(
            f"{name}-origin-pulls", zone_id=zone, enabled=True, opts=pulumi.ResourceOptions(parent=self, depends_on=[upload]))
        # What a proxy that demands the client certificate waits for: Cloudflare presenting it.
        self.origin_pulls_presented: list[pulumi.Resource] = [upload, enabled]

        if settings.mail is not None:  # mail from the domain: authenticated, or receivers may take it for spam
            mail = settings.mail
            for index, (record, content) in enumerate(mail_records.records(
                    domain, mail.spf, mail.dkim, mail_records.dmarc_record(mail.dmarc_policy, mail.dmarc_report_to))):
                cloudflare.DnsRecord(f"{name}-mail-{index}", zone_id=zone, name=record, type="TXT", content=content,
                                     proxied=False, ttl=1, opts=child)

        cloudflare.Ruleset(f"{name}-rate-limit", zone_id=zone, kind="zone", phase="http_ratelimit",
                           name="preflight rate limits", rules=rate_limit_rules(settings, hostnames), opts=child)

        checks = [cloudflare.Healthcheck(
            f"{name}-{hostname}-health", zone_id=zone, name=f"{hostname} health", address=hostname, type="HTTPS",
            interval=monitoring.interval_s, retries=monitoring.retries, consecutive_fails=2,
            http_config=cloudflare.HealthcheckHttpConfigArgs(path=path, port=443, expected_codes=["200"],
                                                             method="GET", follow_redirects=False),
            opts=child) for hostname, path in sorted(health_paths.items())]
        if checks:
            cloudflare.NotificationPolicy(
                f"{name}-on-call", account_id=settings.account_id, name=f"{name} health checks",
                alert_type="health_check_status_notification", enabled=True,
                mechanisms=cloudflare.NotificationPolicyMechanismsArgs(
                    emails=[cloudflare.NotificationPolicyMechanismsEmailArgs(id=monitoring.on_call_email)]),
                filters=cloudflare.NotificationPolicyFiltersArgs(health_check_ids=[c.id for c in checks]),
                opts=child)
        self.register_outputs({"hostnames": sorted(hostnames)})

    def route_to(self, records: Sequence[tuple[str, pulumi.Input[str]]], after: Sequence[pulumi.Resource] = ()) -> None:
        """Proxied records (type, address) of every hostname: A and AAAA of the one server or the load
        balancer, or one per application server. after: what must serve before traffic moves here
        (when growing to several servers: every server healthy behind the load balancer)."""
        for hostname in self._hostnames:
            seen: dict[str, int] = {}
            for record_type, address in records:
                seen[record_type] = seen.get(record_type, 0) + 1
                suffix = "" if seen[record_type] == 1 else f"-{seen[record_type]}"
                cloudflare.DnsRecord(f"{self._name}-{hostname}-{record_type.lower()}{suffix}", zone_id=self._zone,
                                     name=hostname, type=record_type, content=address, proxied=True, ttl=1,
                                     opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)))
