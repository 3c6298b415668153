"""TLS certificates for the proxy. `local`: self-signed with pulumi-tls (clients trust the exported
certificate explicitly). The cloud stacks use a Cloudflare origin certificate instead."""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
import pulumi_tls as tls

from .proxy import TlsCertificate


class SelfSignedCertificate(pulumi.ComponentResource):
    def __init__(self, name: str, hostnames: Sequence[str], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("preflight:index:SelfSignedCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        cert = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=key.private_key_pem,
            dns_names=sorted(hostnames),
            subject=tls.SelfSignedCertSubjectArgs(common_name=sorted(hostnames)[0], organization="preflight local"),
            validity_period_hours=24 * 365,
            early_renewal_hours=24 * 30,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth", "cert_signing"],
            is_ca_certificate=True,  # lets curl/browsers trust it directly via --cacert
            opts=child,
        )
        self.certificate = TlsCertificate(cert_pem=cert.cert_pem, key_pem=pulumi.Output.secret(key.private_key_pem))
        self.register_outputs({"cert_pem": cert.cert_pem})
