"""Every rule: the compliant baseline passes; each mutation fails with that rule's id and message."""

from __future__ import annotations

import pytest

from components.monitoring.alertmanager import render_alertmanager
from components.monitoring.rules import render_rules
from components.settings.monitoring import MonitoringSettings, Thresholds

from .fixtures import CADDYFILE, SITES, WHOLE_CADDYFILE, C, production
from .harness import ALL_RULES, UNKNOWN, Pack, Res, mutated


def setp(**values):
    return lambda res: res.props.update(values)


def env(*entries):
    """The resource's env with `entries` added (the error-tracking DSN of a public service stays)."""
    return lambda res: res.props.update(envs=[*(e for e in res.props.get("envs", []) if "DSN" in e), *entries])


def firewall_rule(port, sources=("0.0.0.0/0",), protocol="tcp"):
    return lambda res: res.props["rules"].append(
        {"direction": "in", "protocol": protocol, "port": port, "sourceIps": list(sources)})


def zone(setting_id, value):
    return ("zone-" + setting_id, setp(value=value))


# The tls block's client_auth, as the program renders it (a site block's lines, indented by one tab).
CA_LINE = "\t\t\ttrusted_ca_cert_file /etc/preflight/tls/origin-pull-ca.pem\n"
CLIENT_AUTH = "\t\tclient_auth {\n\t\t\tmode require_and_verify\n" + CA_LINE + "\t\t}\n"


def commented(text: str) -> str:
    return "".join(f"#{line}\n" for line in text.splitlines())


def uploads_rules(**thresholds):
    """Prometheus given the rules of these thresholds (the rest the checklist's)."""
    rules = render_rules(MonitoringSettings(thresholds=Thresholds(**thresholds)), rpo_s=3600, routes=["api"])
    return setp(uploads=[{"file": "/etc/monitoring/rules.yml", "content": rules}])


def proxy_config_with(old, new):
    """The proxy container's Caddyfile with `old` replaced by `new`."""
    def change(res):
        content = res.props["uploads"][0]["content"]
        assert old in content
        res.props["uploads"][0]["content"] = content.replace(old, new)
    return change


def labels_of(name):
    return [label for res in production() if res.name == name for label in res.props["labels"]]


def drop(name):
    return lambda resources: [r for r in resources if r.name != name]


# (rule, resource, mutation, words the message must contain)
CASES = [
    ("PF-SEC-001", "api", env("JWT_SECRET=hunter2hunter2"), "JWT_SECRET_FILE"),
    ("PF-SEC-001", "api", env("STRIPE_API_KEY=sk_live_x"), "plain text"),
    ("PF-SEC-002", "api", setp(labels=[{"label": "db_password", "value": "x"}]), "labels are public"),
    # Secrets by value, whatever the name: a URL with a password in env, labels and every other field.
    ("PF-SEC-001", "api", env("DATABASE_URL=postgres://app:hunter2@postgres:5432/app"), "a URL with a password"),
    ("PF-SEC-001", "backup", env("BACKUP_INTERVAL_S=3600", "BACKUP_RETENTION_DAYS=14",
                                 "RESTIC_REPOSITORY=s3:https://AKIA1:hunter2@fsn1.example.com/b/p"), "(https://AKIA1:***@...)"),
    ("PF-SEC-002", "api", setp(labels=[*labels_of("api"), {"label": "cache", "value": "redis://:hunter2@redis:6379"}]),
     "carries a URL with a password"),
    ("PF-SEC-010", "api", setp(command=["api", "serve", "--db-password=hunter2"]), "--db-password=***"),
    ("PF-SEC-010", "api", setp(command=["api", "--token", "hunter2"]), "--token ***"),
    ("PF-SEC-010", "api", setp(entrypoint=["sh", "-c", "PGPASSWORD=hunter2 exec api"]), "PGPASSWORD=***"),
    ("PF-SEC-010", "api", setp(healthcheck={"tests": ["CMD-SHELL", "curl -fsS https://admin:hunter2@localhost/health"]}),
     "healthcheck.tests of api carries a URL with a password"),
    ("PF-SEC-010", "server", lambda r: r.props["labels"].update(backup="s3:https://AKIA1:hunter2@fsn1.example.com/b"),
     "labels.backup"),
    ("PF-SEC-010", "server", lambda r: r.props.update(userData=r.props["userData"] + (
        "write_files:\n  - path: /etc/app.env\n    content: \"URL=https://bot:hunter2@ghcr.io\"\n")), "userData of"),
    ("PF-SEC-010", "proxy-sites", lambda r: r.props["upstreams"].update(api="https://u:hunter2@api-1a2b3c4:8000"),
     "upstreams.api of this resource"),
    ("PF-SEC-003", "jwt-secret", setp(length=16), "at least 32"),
    ("PF-SEC-003", "postgres-password", setp(length=20), "at least 32"),
    ("PF-SEC-004", "api", env("CORS_ALLOWED_ORIGINS=*"), "never '*'"),
    ("PF-SEC-004", "api", env("CORS_ORIGINS=https://a.example.com,https://*.example.com"), "exact origins"),
    # CORS over HTTPS only, whichever origin of the list is plain.
    ("PF-SEC-004", "api", env("CORS_ALLOWED_ORIGINS=http://app.example.com"), "http://app.example.com is not https://"),
    ("PF-SEC-004", "api", env("CORS_ORIGINS=https://a.example.com http://b.example.com"), "over HTTPS only"),
    ("PF-SEC-005", "api", env("DEBUG=true"), "turn debug off"),
    ("PF-SEC-005", "api", env("NODE_ENV=development"), "development mode"),
    # Spellings the first version of the rule let through (it knew a few exact names and values).
    ("PF-SEC-005", "api", env("ENABLE_DEBUG_ROUTES=true"), "turn debug off"),
    ("PF-SEC-005", "api", env("DEBUG_MODE=on"), "turn debug off"),
    ("PF-SEC-005", "api", env("debugMode=TRUE"), "turn debug off"),
    ("PF-SEC-005", "api", env("DEBUG=enabled"), "turn debug off"),
    ("PF-SEC-005", "api", env("XDEBUG_MODE=debug"), "turn debug off"),
    ("PF-SEC-005", "api", env("ASPNETCORE_ENVIRONMENT=Development"), "development mode"),
    ("PF-SEC-005", "api", env("GO_ENV=dev"), "development mode"),
    ("PF-SEC-005", "api", env("APP_MODE=debug"), "development mode"),
    ("PF-SEC-006", "proxy-sites", setp(template=SITES.replace(
        "\thandle {", "\thandle /debug/* {\n\t\treverse_proxy api:8000\n\t}\n\thandle {")), "/debug"),
    ("PF-SEC-006", "proxy", lambda r: r.props["uploads"][0].update(content=WHOLE_CADDYFILE.replace(
        "\thandle {", "\thandle /_profiler/* {\n\t\treverse_proxy api:8000\n\t}\n\thandle {")), "/_profiler"),
    ("PF-SEC-007", "proxy",
     lambda r: r.props["uploads"][0].update(content=CADDYFILE.replace("max-age=31536000", "max-age=86400")),
     ">= 31536000"),
    ("PF-SEC-008", "proxy", lambda r: r.props["uploads"][0].update(content=CADDYFILE.replace("X-Frame-Options", "X-Other")),
     "X-Frame-Options"),
    ("PF-SEC-009", "proxy", lambda r: r.props["uploads"][0].update(content=CADDYFILE.replace("redir https://", "respond ")),
     "https://"),
    # The Caddyfile read as Caddy reads it: words in a comment, or a header a later directive removes,
    # are not what the proxy sends.
    ("PF-SEC-007", "proxy", lambda r: r.props["uploads"][0].update(content=CADDYFILE.replace(
        '\t\tStrict-Transport-Security "max-age=31536000; includeSubDomains"',
        '\t\t# Strict-Transport-Security "max-age=31536000; includeSubDomains"')), ">= 31536000"),
    ("PF-SEC-007", "proxy", lambda r: r.props["uploads"][0].update(content=CADDYFILE.replace(
        "\t\t-Server", "\t\t-Server\n\t\t-Strict-Transport-Security")), ">= 31536000"),
    ("PF-SEC-008", "proxy", lambda r: r.props["uploads"][0].update(content=CADDYFILE.replace(
        '\t\tX-Frame-Options "DENY"', '\t\t# X-Frame-Options "DENY"')), "X-Frame-Options"),
    ("PF-SEC-009", "proxy", lambda r: r.props["uploads"][0].update(content=CADDYFILE.replace(
        "\tredir https://{host}{uri} 308", "\t# redir https://{host}{uri} 308\n\trespond 200")), "https://"),
    ("PF-DATA-001", "postgres", setp(ports=[{"internal": 5432, "external": 5432}]), "0.0.0.0:5432->5432"),
    ("PF-DATA-001", "redis", setp(ports=[{"internal": 6379, "external": 6379, "ip": "127.0.0.1"}]), "internal Docker network"),
    ("PF-DATA-001", "postgres", setp(ports=[{"internal": 5432, "external": 5432, "ip": "95.216.1.1"}]), "private network"),
    ("PF-DATA-002", "postgres", lambda r: r.deps.update(networksAdvanced=["edge"]), "not internal"),
    ("PF-DATA-002", "redis", lambda r: (r.deps.clear(), r.props.update(networksAdvanced=[])), "internal Docker network"),
    ("PF-DATA-002", "postgres", lambda r: r.props.update(networkMode="host"), "internal Docker network"),
    ("PF-DATA-002", "private", setp(options={}), "enable_ip_masquerade=false"),
    ("PF-DATA-003", "postgres", setp(volumes=[]), "named Docker volume"),
    ("PF-DATA-003", "postgres", setp(volumes=[{"hostPath": "/srv/pg", "containerPath": "/var/lib/postgresql/data"}]), "named"),
    ("PF-DATA-004", "postgres-data", lambda r: setattr(r, "protect", False), "protect=True"),
    ("PF-DATA-004", "postgres", lambda r: setattr(r, "protect", False), "protect=True"),
    ("PF-DATA-004", "server", lambda r: setattr(r, "protect", False), "protect=True"),
    ("PF-DATA-005", "backup", env("BACKUP_INTERVAL_S=86400", "BACKUP_RETENTION_DAYS=14"), "at most 3600"),
    ("PF-DATA-005", "backup", env("BACKUP_INTERVAL_S=3600"), "retention"),
    ("PF-DATA-005", "backup", setp(labels=[]), "add a backup job"),
    ("PF-DATA-006", "postgres", setp(command=["postgres"]), "max_connections"),
    # Redis whose volume the backup job copies holds data: it must not evict.
    ("PF-DATA-007", "backup", setp(volumes=[{"volumeName": "redis-data", "containerPath": "/redis", "readOnly": True}]),
     "maxmemory-policy allkeys-lru"),
    # A second copy of the scheduler on another server (placement every_app_server).
    ("PF-DATA-008", "api", setp(command=["celery", "-A", "app", "beat"], labels=[
        *labels_of("scheduler-app1")[:2], {"label": "preflight.component", "value": "preflight-scheduler-app2"}]),
     "each job fires 2 times"),
    ("PF-CTR-001", "api", setp(healthcheck=None), "healthcheck"),
    ("PF-CTR-001", "redis", setp(healthcheck={"tests": ["NONE"]}), "healthcheck"),
    # A check that cannot fail, in each form Docker runs it.
    ("PF-CTR-012", "api", setp(healthcheck={"tests": ["CMD", "true"]}), "tests nothing"),
    ("PF-CTR-012", "redis", setp(healthcheck={"tests": ["CMD-SHELL", "exit 0"]}), "of redis (exit 0)"),
    ("PF-CTR-012", "postgres", setp(healthcheck={"tests": ["CMD", "sh", "-c", "pg_isready || true"]}), "tests nothing"),
    ("PF-CTR-012", "proxy", setp(healthcheck={"tests": ["CMD-SHELL", "curl -f http://localhost/ ; echo ok"]}),
     "tests nothing"),
    ("PF-CTR-012", "backup", setp(healthcheck={"tests": ["CMD", "/bin/sleep", "1"]}), "tests nothing"),
    # Nothing around the proxy: a service, a job or a sidecar on a public address or the host's network.
    ("PF-CTR-013", "api", setp(ports=[{"internal": 8000, "external": 8000}]), "api publishes 0.0.0.0:8000->8000"),
    ("PF-CTR-013", "backup", setp(ports=[{"internal": 9000, "external": 9000, "ip": "203.0.113.10"}]),
     "on a public address"),
    ("PF-CTR-013", "api", setp(ports=[{"internal": 8000, "external": 8000, "ip": "::"}]), "publishes :::8000"),
    ("PF-CTR-013", "api-migrate", setp(publishAllPorts=True), "publishAllPorts"),
    ("PF-CTR-013", "api", setp(networkMode="host"), "host's network"),
    ("PF-CTR-002", "api", setp(memory=0), "memory limit"),
    ("PF-CTR-002", "api", setp(memorySwap=-1), "memorySwap"),
    ("PF-CTR-003", "postgres", setp(cpus=None), "CPU limit"),
    ("PF-CTR-004", "api", setp(restart="no"), "unless-stopped"),
    ("PF-CTR-005", "api", setp(logOpts={}), "max-size"),
    ("PF-CTR-005", "api", setp(logDriver="none"), "rotate logs"),
    ("PF-CTR-006", "api-image", setp(name="ghcr.io/acme/api:latest"), "never 'latest'"),
    ("PF-CTR-006", "postgres-image", setp(name="postgres"), "pin the image"),
    ("PF-CTR-006", "api", setp(image="registry.example.com:5000/api"), "pin the image"),
    ("PF-CTR-007", "api", setp(privileged=True), "privileged"),
    ("PF-CTR-008", "api", setp(volumes=[{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"}]),
     "docker.sock"),
    ("PF-CTR-008", "backup", setp(mounts=[{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]),
     "root on the host"),
    ("PF-CTR-009", "redis", setp(securityOpts=[]), "no-new-privileges"),
    ("PF-CTR-010", "api", setp(user="root"), "non-root"),
    ("PF-CTR-010", "api", setp(user="0:0"), "non-root"),
    ("PF-CTR-011", "api", setp(wait=False), "wait: true"),
    ("PF-EDGE-001", *zone("ssl", "full"), "'strict'"),
    ("PF-EDGE-001", *zone("ssl", "flexible"), "forged origin"),
    ("PF-EDGE-002", *zone("always_use_https", "off"), "'on'"),
    ("PF-EDGE-003", *zone("min_tls_version", "1.0"), "1.2 or higher"),
    ("PF-EDGE-003", *zone("min_tls_version", "1.1"), "is '1.1'"),
    ("PF-EDGE-004", *zone("security_header", {"strict_transport_security": {"enabled": False}}), "enable HSTS"),
    ("PF-EDGE-004", *zone("security_header", {"strict_transport_security": {
        "enabled": True, "max_age": 86400, "include_subdomains": True}}), "max_age >= 31536000"),
    ("PF-EDGE-004", *zone("security_header", {"strict_transport_security": {
        "enabled": True, "max_age": 31536000, "include_subdomains": False}}), "include_subdomains"),
    ("PF-EDGE-005", *zone("tls_1_3", "off"), "TLS 1.3"),
    ("PF-EDGE-006", "api-a", setp(proxied=False), "proxied: true"),
    ("PF-EDGE-007", "rate-limit", setp(phase="http_request_firewall_custom"), "rate-limiting ruleset"),
    ("PF-EDGE-007", "rate-limit", lambda r: r.props["rules"][0].update(action="log"), "rate-limiting ruleset"),
    ("PF-EDGE-008", "zone-ssl", setp(zoneId="another-zone"), "ssl"),
    ("PF-EDGE-009", "api-a", setp(name="www.example.com"), "no route at the proxy"),
    ("PF-EDGE-010", "origin-pulls", setp(enabled=False), "turn zone-level authenticated origin pulls on"),
    ("PF-EDGE-010", "origin-pulls", setp(zoneId="another-zone"), "turn zone-level authenticated origin pulls on"),
    ("PF-EDGE-010", "origin-pull-cert", setp(zoneId="another-zone"), "shares with every account"),
    ("PF-EDGE-010", "proxy-sites", setp(template=SITES.replace(CLIENT_AUTH, "")), "asks no client certificate"),
    ("PF-EDGE-010", "proxy-sites", setp(template=SITES.replace("require_and_verify", "verify_if_given")),
     "use require_and_verify"),
    ("PF-EDGE-010", "proxy-sites", setp(template=SITES.replace(CA_LINE, "")), "names no CA"),
    # Said only in a comment, the demand is not config.
    ("PF-EDGE-010", "proxy-sites", setp(template=SITES.replace(CLIENT_AUTH, commented(CLIENT_AUTH))),
     "asks no client certificate"),
    # A proxy configured in one file, its site without the demand.
    ("PF-EDGE-010", "proxy", lambda r: r.props["uploads"][0].update(content=WHOLE_CADDYFILE.replace(CLIENT_AUTH, "")),
     "asks no client certificate"),
    ("PF-TLS-001", "backup", env("BACKUP_INTERVAL_S=3600", "BACKUP_RETENTION_DAYS=14",
                                 "RESTIC_REPOSITORY=s3:http://fsn1.your-objectstorage.com/b/p"),
     "fsn1.your-objectstorage.com in plain HTTP"),
    ("PF-TLS-001", "backup", env("BACKUP_INTERVAL_S=3600", "BACKUP_RETENTION_DAYS=14",
                                 "RESTIC_REPOSITORY=rest:HTTP://backups.example.com:8000/prod"), "plain HTTP"),
    ("PF-TLS-002", "proxy-sites", lambda r: r.props.update(template=SITES.replace(
        CLIENT_AUTH, "\t\tprotocols tls1.0 tls1.3\n" + CLIENT_AUTH)), "admits tls1.0"),
    ("PF-TLS-002", "proxy", lambda r: r.props["uploads"][0].update(content=WHOLE_CADDYFILE.replace(
        CLIENT_AUTH, "\t\tprotocols tls1.1 tls1.2\n" + CLIENT_AUTH)), "(protocols tls1.1 tls1.2)"),
    ("PF-TLS-003", "proxy", proxy_config_with("admin 127.0.0.1:2019", "admin 0.0.0.0:2019"), "listens on 0.0.0.0:2019"),
    ("PF-TLS-003", "proxy", proxy_config_with("admin 127.0.0.1:2019", "admin :2019"), "admin API listens on :2019"),
    ("PF-TLS-003", "proxy", lambda r: r.props["ports"].append({"internal": 2019, "external": 2019}), "admin port 2019"),
    ("PF-TLS-004", "proxy", proxy_config_with("default-src 'self'", "default-src *"), "admits any host (default-src *)"),
    ("PF-TLS-004", "proxy", proxy_config_with("base-uri 'self'", "base-uri 'self'; script-src 'self' https:"),
     "script-src https:"),
    # A service sends mail from the domain: the zone must authenticate it.
    ("PF-EDGE-011", "api", env("MAIL_FROM=Preflight <noreply@example.com>"), "api sends mail from example.com: add an SPF"),
    ("PF-EDGE-011", "api", env("DEFAULT_FROM_EMAIL=noreply@example.com"), "add a DMARC record for example.com"),
    ("PF-HOST-001", "firewall", firewall_rule("22"), "admin CIDRs"),
    ("PF-HOST-001", "firewall", firewall_rule("22", ["::/0"]), "::/0"),
    ("PF-HOST-002", "firewall", firewall_rule("5432", ["10.0.0.0/8"]), "Postgres (5432"),
    ("PF-HOST-002", "firewall", firewall_rule("6379", ["10.0.0.0/8"]), "Redis (6379"),
    ("PF-HOST-003", "firewall", firewall_rule("8080"), "more than 22, 80 and 443"),
    # Judged by source too: the web ports open to everyone (past Cloudflare), SSH to half the internet.
    ("PF-HOST-003", "firewall", firewall_rule("443"), "admits 0.0.0.0/0"),
    ("PF-HOST-003", "firewall", firewall_rule("80", ["198.51.100.0/24"]), "only Cloudflare's ranges"),
    ("PF-HOST-001", "firewall", firewall_rule("22", ["128.0.0.0/1"]), "/16 or narrower"),
    ("PF-HOST-001", "firewall", firewall_rule("22", ["2000::/3"]), "2000::/3"),
    ("PF-HOST-004", "server", lambda r: (r.deps.clear(), r.props.update(firewallIds=[])), "attach a firewall"),
    ("PF-HOST-005", "server", setp(sshKeys=[]), "settings: host.ssh_keys)"),
    # Read as cloud-init and sshd read it, not searched: the right words in a comment, or in a drop-in
    # that sorts after the one cloud-init writes, do not turn password login off.
    ("PF-HOST-005", "server", setp(userData="#cloud-config\nssh_pwauth: true\ndisable_root: true\n# ssh_pwauth: false\n"),
     "password login stays on"),
    ("PF-HOST-005", "server", setp(userData=(
        "#cloud-config\nssh_pwauth: true\ndisable_root: true\nwrite_files:\n"
        "  - path: /etc/ssh/sshd_config.d/90-preflight.conf\n    content: \"PasswordAuthentication no\\n\"\n")),
     "effective PasswordAuthentication is yes"),
    ("PF-HOST-005", "server", setp(userData="#cloud-config\nssh_pwauth: false\ndisable_root: false # disable_root: true\n"),
     "root SSH login"),
    ("PF-HOST-005", "server", setp(userData="#cloud-config\ndisable_root: true\n"), "password login"),
    ("PF-HOST-005", "server", setp(userData="#cloud-config\nssh_pwauth: false\n"), "root SSH login"),
    ("PF-HOST-006", "server", setp(backups=False), "backups"),
    ("PF-HOST-007", "data", setp(deleteProtection=False), "deleteProtection"),
    ("PF-HOST-007", "server", setp(rebuildProtection=False), "rebuildProtection"),
    ("PF-HOST-008", "ipv4", setp(autoDelete=True), "autoDelete: false"),
    # What Hetzner would refuse only at apply.
    ("PF-HOST-009", "server", setp(location="ash"), "server server is in ash (us-east)"),
    ("PF-HOST-009", "subnet", setp(networkZone="us-west"), "its subnet is in us-west"),
    ("PF-HOST-009", "server", lambda r: r.props["networks"][0].update(ip="10.10.3.10"), "outside its network's subnets"),
    ("PF-HOST-009", "app1", lambda r: r.props["networks"][0].update(ip="10.20.2.11"), "10.10.1.0/24, 10.10.2.0/24"),
    ("PF-HOST-009", "data", setp(location="nbg1"), "attaches volumes only in their own location"),
    ("PF-HOST-009", "ipv4", setp(location="hel1"), "primary IP ipv4 is in hel1"),
    ("PF-HOST-009", "lb", setp(location="sin"), "load balancer lb is in sin"),
    ("PF-HOST-009", "lb-network", setp(ip="10.10.9.5"), "private address 10.10.9.5"),
    ("PF-ENV-001", "api", setp(labels=[{"label": "preflight.stack", "value": "staging"}]), "belongs to stack production"),
    ("PF-ENV-001", "server", setp(labels={"stack": "staging"}), "another environment"),
    ("PF-ENV-001", "server", setp(labels={"preflight-stack": "staging"}), "another environment"),
    ("PF-LB-001", "lb-443", setp(healthCheck=None), "health check"),
    ("PF-LB-001", "lb-80", lambda r: r.props["healthCheck"]["http"].pop("path"), "health route"),
    # A health check that accepts errors tests nothing.
    ("PF-LB-001", "lb-443", lambda r: r.props["healthCheck"]["http"].update(statusCodes=["2??", "3??", "4??", "5??"]),
     "accepts every answer"),
    ("PF-LB-001", "lb-80", lambda r: r.props["healthCheck"]["http"].update(statusCodes=["???"]), "tests nothing"),
    ("PF-LB-002", "lb-target-1", setp(usePrivateIp=False), "private network"),
    ("PF-LB-003", "lb-443", setp(protocol="http"), "plain HTTP"),
    ("PF-LB-003", "lb-443", setp(protocol="https"), "certificates"),
    ("PF-LB-004", "lb-network", lambda r: r.deps.clear(), "private network"),
    ("PF-LB-004", "lb-443", setp(listenPort=8443), "no service on port 443"),
    ("PF-OBS-001", "api", lambda r: r.props.update(envs=[e for e in r.props["envs"] if "DSN" not in e]),
     "declare an error-tracking DSN"),
    # Thresholds looser than the checklist's, each kind; a config with no receiver of the team's.
    ("PF-OBS-003", "prometheus", uploads_rules(latency_p99_ms=2000), "looser than the checklist's 1000"),
    ("PF-OBS-003", "prometheus", uploads_rules(error_rate_percent=5), "looser than the checklist's 1"),
    ("PF-OBS-003", "prometheus", uploads_rules(disk_percent=95), "looser than the checklist's 80"),
    ("PF-OBS-003", "prometheus", uploads_rules(memory_percent=90), "looser than the checklist's 85"),
    ("PF-OBS-003", "prometheus", setp(uploads=[{"file": "/etc/monitoring/rules.yml", "content": "groups: []\n"}]),
     "has no LatencyP99High rule"),
    ("PF-OBS-003", "alertmanager", setp(uploads=[{"file": "/etc/monitoring/alertmanager.yml", "content": render_alertmanager(
        MonitoringSettings(), {})}]), "add a receiver"),
    ("PF-OBS-003", "prometheus", setp(uploads=[{"file": "/etc/monitoring/rules.yml", "content": render_rules(
        MonitoringSettings(alert_for_s={"ErrorRateHigh": 86400}), rpo_s=3600, routes=["api"])}]), "waits 86400s"),
    ("PF-OBS-002", "prometheus", setp(labels=[{"label": "preflight.role", "value": "monitoring"}]), "run the monitoring"),
    # The container exporter may read the socket, read-only only; no other monitoring container may.
    ("PF-CTR-008", "container-exporter", setp(volumes=[{"hostPath": "/var/run/docker.sock", "containerPath": "/s"}]),
     "read-only"),
    ("PF-CTR-008", "prometheus", setp(volumes=[{"hostPath": "/var/run/docker.sock", "containerPath": "/s",
                                               "readOnly": True}]), "root on the host"),
]


@pytest.fixture(scope="module")
def pack():
    return Pack("production")


def test_the_compliant_production_baseline_has_no_violation(pack):
    outcome = pack.analyze(production())
    assert outcome.violations == []
    # Only the waivable-by-design edge cases may be not applicable; everything else really ran.
    assert outcome.not_applicable == {}


@pytest.mark.parametrize("rule,resource,change,words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_mutation_fails_exactly_its_rule(pack, rule, resource, change, words):
    outcome = pack.analyze(mutated(production(), resource, change))
    assert outcome.rules() == {rule}, outcome.violations
    assert any(words in v.message for v in outcome.violations), outcome.violations
    # production.json makes everything mandatory except the one rule it sets to warn (PF-OBS-001).
    assert {v.level for v in outcome.violations} == {"advisory" if rule == "PF-OBS-001" else "mandatory"}


def test_every_rule_has_a_failing_case():
    assert {r.id for r in ALL_RULES} == {c[0] for c in CASES}


def test_a_missing_resource_is_caught_by_its_stack_rule(pack):
    without_rate_limit = [r for r in production() if r.name != "rate-limit"]
    assert pack.analyze(without_rate_limit).rules() == {"PF-EDGE-007"}


@pytest.mark.parametrize("missing", ["origin-pulls", "origin-pull-cert"])
def test_a_public_stack_without_zone_level_origin_pulls_is_caught(pack, missing):
    outcome = pack.analyze([r for r in production() if r.name != missing])
    assert outcome.rules() == {"PF-EDGE-010"}


def test_a_public_stack_whose_proxy_has_no_https_site_to_judge_fails_the_origin_rule(pack):
    outcome = pack.analyze(mutated(production(), "proxy-sites", setp(template="# no site blocks\n")))
    assert any("finds no HTTPS site" in v.message for v in outcome.violations if v.rule == "PF-EDGE-010"), \
        outcome.violations


def test_a_public_stack_with_routes_and_no_dns_record_at_all_is_caught(pack):
    # The rule once returned early when there was nothing to compare with.
    without_records = [r for r in production() if r.type != "cloudflare:index/dnsRecord:DnsRecord"]
    outcome = pack.analyze(without_records)
    assert "PF-EDGE-009" in outcome.rules()
    assert any("no DNS record points at it" in v.message for v in outcome.violations if v.rule == "PF-EDGE-009")
    without_hsts_setting = [r for r in production() if r.name != "zone-security_header"]
    assert pack.analyze(without_hsts_setting).rules() == {"PF-EDGE-008"}
    without_backup = [r for r in production() if r.name != "backup"]
    assert pack.analyze(without_backup).rules() == {"PF-DATA-005"}


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_tls_versions_compare_as_minimums(pack, version):
    outcome = pack.analyze(mutated(production(), "zone-min_tls_version", setp(value=version)))
    assert "PF-EDGE-003" not in outcome.rules()


def test_unknown_values_make_a_rule_not_applicable_never_pass_or_fail(pack):
    resources = mutated(production(), "api", env("JWT_SECRET_FILE=/run/secrets/jwt", UNKNOWN))
    resources = mutated(resources, "api-image", setp(name=UNKNOWN))
    outcome = pack.analyze(resources)
    assert outcome.violations == []
    assert "unknown at preview" in outcome.not_applicable["PF-SEC-001"]
    assert "unknown at preview" in outcome.not_applicable["PF-CTR-006"]


def test_monitoring_is_not_judged_on_containers_a_preview_shows_without_properties(pack):
    # What a stack rule sees of a container a preview is about to create: no properties at all.
    resources = [Res(r.type, r.name, {}) if r.type == C else r for r in production()]
    outcome = pack.analyze(resources)
    assert "PF-OBS-002" not in outcome.rules()
    assert "unknown at preview" in outcome.not_applicable["PF-OBS-002"]


def test_violations_found_before_an_unknown_value_are_still_reported(pack):
    outcome = pack.analyze(mutated(production(), "api", env("API_TOKEN=abc", UNKNOWN)))
    assert outcome.rules() == {"PF-SEC-001"}


def test_a_not_yet_known_network_leaves_the_stack_rule_not_applicable(pack):
    resources = mutated(production(), "redis", lambda r: (r.deps.clear(), r.props.update(
        networksAdvanced=[{"name": UNKNOWN}])))
    outcome = pack.analyze(resources)
    assert "PF-DATA-002" not in outcome.rules()


def test_production_only_rules_do_not_apply_to_staging():
    staging = Pack("staging")
    resources = mutated(production("staging"), "api", env("CORS_ALLOWED_ORIGINS=*", "DEBUG=1"))
    resources = mutated(resources, "api-image", setp(name="ghcr.io/acme/api:latest"))
    outcome = staging.analyze(resources)
    assert not {"PF-SEC-004", "PF-SEC-005", "PF-CTR-006"} & outcome.rules()
    assert outcome.not_applicable["PF-SEC-004"] == "applies to the production stack only"


def test_all_stack_rules_warn_in_staging_without_blocking():
    published = setp(ports=[{"internal": 5432, "external": 5432}])
    outcome = Pack("staging").analyze(mutated(production("staging"), "postgres", published))
    assert [(v.rule, v.level) for v in outcome.violations] == [("PF-DATA-001", "advisory")]


def test_switches_that_are_off_and_names_that_only_mention_debug_pass():
    resources = mutated(production("production"), "api", env(
        "DEBUG=false", "ENABLE_DEBUG_ROUTES=0", "XDEBUG_MODE=off", "NODE_ENV=production", "APP_MODE=production",
        "DEBUG_LOG_PATH=/var/log/app", "DEBUGGER_PORT=9229"))
    assert "PF-SEC-005" not in Pack("production").analyze(resources).rules()


def test_web_ports_inside_cloudflares_ranges_and_a_narrow_admin_network_pass():
    resources = mutated(production("production"), "firewall", lambda res: res.props["rules"].extend([
        {"direction": "in", "protocol": "tcp", "port": "443", "sourceIps": ["173.245.48.0/24", "2400:cb00::/48"]},
        {"direction": "in", "protocol": "tcp", "port": "22", "sourceIps": ["198.51.100.7/32", "2001:db8:1::/48"]}]))
    assert not {"PF-HOST-001", "PF-HOST-003"} & Pack("production").analyze(resources).rules()


def test_a_drop_in_that_sorts_before_cloud_inits_own_wins_as_in_sshd():
    user_data = ("#cloud-config\nssh_pwauth: true\ndisable_root: true\nwrite_files:\n"
                 "  - path: /etc/ssh/sshd_config.d/00-preflight.conf\n    content: \"PasswordAuthentication no\\n\"\n"
                 "users:\n  - name: deploy\n    ssh_authorized_keys: [ssh-ed25519 AAAA ops]\n")
    outcome = Pack("production").analyze(mutated(production("production"), "server", setp(userData=user_data)))
    assert "PF-HOST-005" not in outcome.rules()


def test_a_proxy_without_a_readable_config_fails_every_proxy_rule_instead_of_passing_them():
    outcome = Pack("production").analyze(mutated(production("production"), "proxy", setp(uploads=[])))
    assert {"PF-SEC-007", "PF-SEC-008", "PF-SEC-009"} <= outcome.rules()
    assert all("carries no Caddyfile" in v.message for v in outcome.violations if v.rule == "PF-SEC-009")


@pytest.mark.parametrize("tests", [
    ["CMD", "sh", "-c", "pg_isready && echo ok"],  # echo after a check that must pass first
    ["CMD", "sh", "-ec", "curl -fsS http://127.0.0.1:8000/health; echo done"],  # -e: the curl's failure ends it
    ["CMD-SHELL", "set -o pipefail; curl -fsS http://127.0.0.1:8000/health | cat"],
    ["CMD-SHELL", "curl -f http://127.0.0.1:8000/health >/dev/null 2>&1"],
    ["CMD-SHELL", "if curl -f http://127.0.0.1:8000/health; then exit 0; fi"],  # not judged: never a false refusal
    ["CMD", "python3", "/app/app.py", "check"],
])
def test_healthchecks_that_can_fail_pass(pack, tests):
    outcome = pack.analyze(mutated(production(), "api", setp(healthcheck={"tests": tests})))
    assert "PF-CTR-012" not in outcome.rules(), outcome.violations


def test_an_unknown_healthcheck_is_not_applicable(pack):
    outcome = pack.analyze(mutated(production(), "api", setp(healthcheck={"tests": ["CMD", UNKNOWN]})))
    assert "PF-CTR-012" not in outcome.rules()
    assert "unknown at preview" in outcome.not_applicable["PF-CTR-012"]


def test_no_message_repeats_the_secret_it_found(pack):
    for rule, resource, change, _ in CASES:
        if rule in ("PF-SEC-001", "PF-SEC-002", "PF-SEC-010"):
            outcome = pack.analyze(mutated(production(), resource, change))
            assert all("hunter2" not in v.message for v in outcome.violations), outcome.violations


@pytest.mark.parametrize("change", [
    setp(command=["api", "--password-file", "/run/secrets/db_password", "--token", "$API_TOKEN"]),
    # Flags about a secret, not holding one.
    setp(command=["api", "--api-key-header", "X-Api-Key", "--token-ttl", "3600", "--secret-name=jwt"]),
    setp(entrypoint=["sh", "-c", "PGPASSWORD=$(cat /run/secrets/postgres_password) exec api"]),
    env("SENTRY_URL=https://public@sentry.example.com/1", "UPSTREAM=ssh://deploy@203.0.113.10"),
    setp(labels=[*labels_of("api"), {"label": "repository", "value": "s3:https://fsn1.example.com/b/p"}]),
])
def test_references_and_urls_without_a_password_pass(pack, change):
    outcome = pack.analyze(mutated(production(), "api", change))
    assert not {"PF-SEC-001", "PF-SEC-002", "PF-SEC-010"} & outcome.rules(), outcome.violations


def test_a_field_unknown_at_preview_leaves_the_secret_rule_not_applicable_unless_another_field_fails(pack):
    outcome = pack.analyze(mutated(production(), "api", setp(command=[UNKNOWN])))
    assert "PF-SEC-010" not in outcome.rules()
    assert "unknown at preview" in outcome.not_applicable["PF-SEC-010"]
    both = mutated(production(), "api", setp(command=[UNKNOWN], entrypoint=["api", "--token", "hunter2"]))
    assert pack.analyze(both).rules() == {"PF-SEC-010"}


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "10.10.1.10"])
def test_a_service_on_loopback_or_the_private_network_is_not_public(pack, ip):
    outcome = pack.analyze(mutated(production(), "api", setp(ports=[{"internal": 8000, "external": 8000, "ip": ip}])))
    assert "PF-CTR-013" not in outcome.rules(), outcome.violations


def test_an_unknown_published_address_is_not_applicable(pack):
    outcome = pack.analyze(mutated(production(), "api", setp(ports=[{"internal": 8000, "external": 8000, "ip": UNKNOWN}])))
    assert "PF-CTR-013" not in outcome.rules()
    assert "unknown at preview" in outcome.not_applicable["PF-CTR-013"]


@pytest.mark.parametrize("name, change", [
    ("proxy-sites", lambda r: r.props.update(template=SITES.replace(CLIENT_AUTH, "\t\tprotocols tls1.2 tls1.3\n" + CLIENT_AUTH))),
    ("proxy-sites", lambda r: r.props.update(template=SITES.replace(CLIENT_AUTH, "\t\tprotocols tls1.3\n" + CLIENT_AUTH))),
    ("proxy", proxy_config_with("admin 127.0.0.1:2019", "admin off")),
    ("proxy", proxy_config_with("admin 127.0.0.1:2019", "admin localhost:2020")),
    ("proxy", proxy_config_with("admin 127.0.0.1:2019", "admin unix//run/caddy-admin.sock")),
    ("proxy", proxy_config_with("base-uri 'self'", "base-uri 'self'; img-src 'self' data: https://cdn.example.com")),
    ("api", env("CORS_ALLOWED_ORIGINS=https://app.example.com,https://admin.example.com")),
    # On the servers' private network (the rehearsal's S3 server), plain HTTP does not cross the internet.
    ("backup", env("BACKUP_INTERVAL_S=3600", "BACKUP_RETENTION_DAYS=14", "RESTIC_REPOSITORY=s3:http://10.250.0.1:9000/b")),
    ("backup", env("BACKUP_INTERVAL_S=3600", "BACKUP_RETENTION_DAYS=14", "RESTIC_REPOSITORY=s3:https://fsn1.example.com/b")),
    ("api", env("CORS_ALLOWED_ORIGINS=https://app.example.com", "GIT_REPO_URL=http://git.example.com/app")),  # not backups
])
def test_transport_that_is_secure_passes(pack, name, change):
    outcome = pack.analyze(mutated(production(), name, change))
    assert outcome.violations == [], outcome.violations


def test_an_unknown_repository_or_proxy_config_is_not_applicable(pack):
    resources = mutated(production(), "backup", env("BACKUP_INTERVAL_S=3600", "BACKUP_RETENTION_DAYS=14",
                                                    UNKNOWN))
    resources = mutated(resources, "proxy-sites", setp(template=UNKNOWN))
    outcome = pack.analyze(resources)
    assert not {"PF-TLS-001", "PF-TLS-002"} & outcome.rules()
    assert "unknown at preview" in outcome.not_applicable["PF-TLS-001"]
    assert "unknown at preview" in outcome.not_applicable["PF-TLS-002"]


def backs_up_redis_by_dependency(res):
    res.props["volumes"] = [{"volumeName": UNKNOWN, "containerPath": "/redis"}]  # the volume's name: not known yet
    res.deps["volumes"] = ["redis-data"]


def test_redis_that_holds_data_is_found_through_the_dependency_when_names_are_unknown(pack):
    resources = mutated(production(), "backup", backs_up_redis_by_dependency)
    resources = mutated(resources, "redis", lambda r: r.deps.update(volumes=["redis-data"]))
    assert pack.analyze(resources).rules() == {"PF-DATA-007"}
    # The command line's policy wins over the file's; noeviction (or no policy: Redis' default) passes.
    for command in (["redis-server", "/c.conf", "--maxmemory-policy", "noeviction"], ["redis-server"]):
        quiet = mutated(resources, "redis", setp(command=command, uploads=[] if command == ["redis-server"] else [
            {"file": "/c.conf", "content": "maxmemory-policy allkeys-lru"}]))
        assert "PF-DATA-007" not in pack.analyze(quiet).rules()


@pytest.mark.parametrize("command", [["python3", "/app/app.py", "worker"], ["python3", "/app/app.py", "serve"]])
def test_copies_of_a_service_that_schedules_nothing_pass(pack, command):
    copy = setp(command=command, labels=[*labels_of("scheduler-app1")[:2],
                                         {"label": "preflight.component", "value": "preflight-worker-app2"}])
    resources = mutated(mutated(production(), "api", copy), "scheduler-app1", setp(command=command, labels=[
        *labels_of("scheduler-app1")[:2], {"label": "preflight.component", "value": "preflight-worker-app1"}]))
    assert "PF-DATA-008" not in pack.analyze(resources).rules()


@pytest.mark.parametrize("name, change", [
    ("server", setp(location="nbg1")),  # another location of the same zone (the volume and IP then refuse it)
    ("app1", setp(location="hel1")),
    ("ipv4", lambda r: r.props.pop("location") and r.props.update(datacenter="fsn1-dc14")),
])
def test_placements_hetzner_accepts_pass(pack, name, change):
    resources = mutated(production(), name, change)
    if name == "server":
        resources = mutated(mutated(resources, "data", setp(location="nbg1")), "ipv4", setp(location="nbg1"))
    assert "PF-HOST-009" not in pack.analyze(resources).rules()


MAIL_RECORDS = [("example.com", "v=spf1 include:_spf.mail.example.net -all"),
                ("s1._domainkey.example.com", "v=DKIM1; k=rsa; p=MIIBIjANBgkq"),
                ("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:dmarc@example.com")]


def with_mail(records=MAIL_RECORDS):
    from .harness import Res

    sender = mutated(production(), "api", env("MAIL_FROM=noreply@example.com"))
    return sender + [Res("cloudflare:index/dnsRecord:DnsRecord", f"mail-{i}", {
        "zoneId": "0123456789abcdef0123456789abcdef", "name": name, "type": "TXT", "content": content, "proxied": False,
        "ttl": 1}) for i, (name, content) in enumerate(records)]


def test_mail_with_spf_dkim_and_dmarc_passes(pack):
    assert pack.analyze(with_mail()).violations == []


@pytest.mark.parametrize("index, content, words", [
    (0, "v=spf1 include:_spf.mail.example.net +all", "admits any sender"),
    (1, "v=spf1 nothing", "add a DKIM key"),
    (2, "v=DMARC1; p=none", "p=none; set p=quarantine or p=reject"),
])
def test_weak_mail_records_fail(pack, index, content, words):
    records = [(n, content if i == index else c) for i, (n, c) in enumerate(MAIL_RECORDS)]
    outcome = pack.analyze(with_mail(records))
    assert outcome.rules() == {"PF-EDGE-011"} and any(words in v.message for v in outcome.violations), outcome.violations


def test_a_declared_dmarc_record_is_judged_without_a_sender(pack):
    from .harness import Res

    resources = production() + [Res("cloudflare:index/dnsRecord:DnsRecord", "dmarc", {
        "zoneId": "z", "name": "_dmarc.example.com", "type": "TXT", "content": "v=DMARC1; p=none", "proxied": False})]
    outcome = pack.analyze(resources)
    assert [v.message.splitlines()[-1] for v in outcome.violations] == [
        "the DMARC policy of example.com is p=none; set p=quarantine or p=reject (settings: edge.mail)"]
    # A domain that sends nothing may say so with SPF alone.
    quiet = production() + [Res("cloudflare:index/dnsRecord:DnsRecord", "spf", {
        "zoneId": "z", "name": "example.com", "type": "TXT", "content": "v=spf1 -all", "proxied": False})]
    assert pack.analyze(quiet).violations == []


@pytest.mark.parametrize("address", ["SUPPORT_EMAIL=help@customer-support.org", "ALERT_EMAIL_TO=ops@gmail.com",
                                     "MAIL_FROM=noreply@mail.example.com"])
def test_mail_addresses_outside_the_stacks_own_domain_are_not_its_to_sign(pack, address):
    outcome = pack.analyze(mutated(production(), "api", env(address)))
    assert "PF-EDGE-011" not in outcome.rules(), outcome.violations
