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
if platform.origin_pulls is not None:
    # The certificate Cloudflare presents to the origin: to test an origin directly (curl --cert/--key).
    pulumi.export("origin_pull_client", pulumi.Output.secret(
        {"cert_pem": platform.origin_pulls.client.cert_pem, "key_pem": platform.origin_pulls.client.key_pem}))
# The release this update deploys: `python -m deploy up` records it as the one to roll back to
# when no release was recorded yet (a stack brought up by `make up` or a plain `pulumi up`).
pulumi.export("images", {name: service.image for name, service in sorted(loaded.settings.services.items())})
# What `python -m deploy` needs to reach the running stack (backups, restore drills).
pulumi.export("operations", {
    "docker_host": platform.host.docker_host,
    "ssh_options": platform.host.ssh_options,
    # Every engine with the SSH options that pin its server's host key (none for the local engine).
    "docker_engines": [{"host": host.docker_host, "ssh_options": host.ssh_options}
                       for host in [platform.host, *(h for h in platform.hosts.apps if h is not platform.host)]],
    "backup_container": platform.backup.container.name,
    "database_container": platform.database.container.name,
    "database_image": loaded.settings.database.image,
    "internal_network": platform.host.internal_network.name,
    "restore_checks": loaded.settings.backup.checks.model_dump(),
    # Where `python -m deploy alerts` asks (inside the containers; nothing of it is published).
    "monitoring": None if platform.monitoring is None else {
        "prometheus": platform.monitoring.prometheus.name,
        "alertmanager": platform.monitoring.alertmanager.name,
        "receivers": [receiver.kind for receiver in loaded.settings.monitoring.receivers],
        "heartbeat": loaded.settings.monitoring.heartbeat_url_secret is not None,
    },
})
