"""Preflight: config -> validated settings -> Platform component -> stack outputs."""

import pulumi

from components.platform import Platform
from components.settings import load_settings

loaded = load_settings()
platform = Platform("preflight", loaded)

pulumi.export("environment", loaded.settings.environment)
pulumi.export("urls", platform.urls)
pulumi.export("health_urls", platform.health_urls)
pulumi.export("hostnames", platform.hostnames)
pulumi.export("tls_certificate_pem", platform.certificate.cert_pem)
