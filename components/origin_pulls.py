"""Zone-level authenticated origin pulls: the origin answers only Cloudflare acting for *our* zone.

The program generates a CA and a client certificate it signs (key: a Pulumi secret); the edge
uploads the certificate to the zone and turns zone-level pulls on (components/edge.py); every proxy
accepts TLS only with a client certificate that CA signed. Cloudflare's global form would not do:
its certificate is shared by every account, so any zone pointed at our address would pass.

Rotation: the proxies trust the CA, not a certificate. Within `renew_before_days` of its end, an
update generates a new client certificate; Pulumi uploads it before it deletes the old one
(create-before-delete, Cloudflare's own order for a rotation), and both are signed by the CA the
proxies already trust, so there is no moment where Cloudflare presents what the proxies refuse.
"""

from __future__ import annotations

import pulumi

from .cloud_settings import OriginPullSettings
from .generated import GeneratedCertificateAuthority, GeneratedClientCertificate


class OriginPullCertificates(pulumi.ComponentResource):
    """The CA the proxies trust (`ca_pem`) and the client certificate Cloudflare presents (`client`)."""

    def __init__(self, name: str, zone_id: str, settings: OriginPullSettings, opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:index:OriginPullCertificates", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        authority = GeneratedCertificateAuthority(f"{name}-ca", common_name=f"preflight origin pulls {zone_id}",
                                                  days=settings.ca_days, opts=child)
        self.client = GeneratedClientCertificate(f"{name}-client", authority, common_name=f"cloudflare for {zone_id}",
                                                 days=settings.client_certificate_days,
                                                 renew_before_days=settings.renew_before_days, opts=child)
        self.ca_pem = authority.cert_pem
        self.register_outputs({"ca_pem": self.ca_pem, "client_certificate_not_after": self.client.not_after})
