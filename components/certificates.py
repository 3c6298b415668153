"""TLS certificates for the proxy. `local`: self-signed, generated once by the program (clients
trust the exported certificate explicitly). The cloud stacks use a Cloudflare origin certificate."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from .generated import GeneratedCertificate
from .proxy import TlsCertificate


class SelfSignedCertificate(pulumi.ComponentResource):
    def __init__(self, name: str, hostnames: Sequence[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:index:SelfSignedCertificate", name, None, opts)
        cert = GeneratedCertificate(f"{name}-cert", hostnames, opts=pulumi.ResourceOptions(parent=self))
        self.certificate = TlsCertificate(cert_pem=cert.cert_pem, key_pem=pulumi.Output.secret(cert.key_pem))
        self.register_outputs({"cert_pem": cert.cert_pem})
