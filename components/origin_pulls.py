"""Zone-level authenticated origin pulls: the origin answers only Cloudflare acting for *our* zone.

The program generates a CA and a client certificate it signs (key: a Pulumi secret), uploads the
certificate to the zone and turns zone-level pulls on; every proxy accepts TLS only with a client
certificate that CA signed. Cloudflare's global form would not do: its certificate is shared by
every account, so any zone pointed at our address would pass.

Rotation: the proxies trust the CA, not a certificate. Within `renew_before_days` of its end, an
update generates a new client certificate; Pulumi uploads it before it deletes the old one
(create-before-delete, Cloudflare's own order for a rotation), and both are signed by the CA the
proxies already trust, so there is no moment where Cloudflare presents what the proxies refuse.
"""

from __future__ import annotations

import pulumi
import pulumi_cloudflare as cloudflare

from .cloud_settings import OriginPullSettings
from .generated import GeneratedCertificateAuthority, GeneratedClientCertificate


class OriginPulls(pulumi.ComponentResource):
    def __init__(self, name: str, zone_id: str, settings: OriginPullSettings, opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:index:OriginPulls", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        authority = GeneratedCertificateAuthority(f"{name}-ca", common_name=f"preflight origin pulls {zone_id}",
                                                  days=settings.ca_days, opts=child)
        client = GeneratedClientCertificate(f"{name}-client", authority, common_name=f"cloudflare for {zone_id}",
                                            days=settings.client_certificate_days,
                                            renew_before_days=settings.renew_before_days, opts=child)
        upload = cloudflare.AuthenticatedOriginPullsCertificate(
            f"{name}-certificate", zone_id=zone_id, certificate=client.cert_pem,
            private_key=client.key_pem, opts=child)  # a secret output of its generator
        enabled = cloudflare.AuthenticatedOriginPullsSettings(
            f"{name}-enabled", zone_id=zone_id, enabled=True, opts=pulumi.ResourceOptions(parent=self, depends_on=[upload]))
        self.ca_pem = authority.cert_pem
        # What a proxy that demands the certificate waits for: Cloudflare presenting it.
        self.presented: list[pulumi.Resource] = [upload, enabled]
        self.register_outputs({"ca_pem": self.ca_pem, "client_certificate_not_after": client.not_after})
