"""A compliant production stack, resource by resource, with the inputs the engine would hand the pack.

Each failing case in the tests is this baseline with one mutation.
"""

from __future__ import annotations

from components.monitoring.alertmanager import render_alertmanager
from components.monitoring.rules import render_rules
from components.proxy import CLIENT_CA_FILE, ProxyRoute, SiteTls, render_caddyfile, render_main, render_sites
from components.proxy_sites import SITES_FILE, upstream_marker
from components.settings import ProxySettings
from components.settings.monitoring import MonitoringSettings

from .harness import Res

C = "docker:index/container:Container"
ZONE = "0123456789abcdef0123456789abcdef"
USER_DATA = ("#cloud-config\nssh_pwauth: false\ndisable_root: true\nusers:\n  - name: deploy\n    lock_passwd: true\n"
             "    ssh_authorized_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOps ops]\n")
HEALTH = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/health"]  # a check that can fail
ROUTES = [ProxyRoute("api.example.com", "/", upstream_marker("api"), "/health")]
# What the program gives the proxy container (global options, headers, redirect) and the site blocks
# it switches in the running proxy at each release (the ProxySites dynamic resource).
CADDYFILE = render_main(ProxySettings(), ["api.example.com"], sites_file=SITES_FILE)
TLS = SiteTls(client_ca_file=CLIENT_CA_FILE)  # Cloudflare's origin pulls: a client certificate of the stack's CA
SITES = render_sites(ROUTES, tls=TLS, health_port=8081)
# What the monitoring containers are given with the checklist's thresholds and one receiver.
MONITORING = MonitoringSettings(receivers=[{"kind": "webhook", "url": "https://alerts.example.com/hook"}])
RULES = render_rules(MONITORING, rpo_s=3600, routes=["api"])
ALERTMANAGER = render_alertmanager(MONITORING, {})
# A proxy configured in one file (as a hand-written or other proxy container would be).
WHOLE_CADDYFILE = render_caddyfile(ProxySettings(), ROUTES, tls=TLS)


def labels(role: str, stack: str = "production") -> list[dict[str, str]]:
    return [{"label": "preflight.role", "value": role}, {"label": "preflight.stack", "value": stack}]


def container(name: str, role: str, stack: str, protect: bool = False, networks=("internal",), **props) -> Res:
    base = {
        "name": name, "image": f"sha256:{name}", "labels": labels(role, stack), "mustRun": True, "wait": True,
        "healthcheck": {"tests": HEALTH, "interval": "10s"}, "memory": 256, "memorySwap": 256,
        "cpus": "0.5", "restart": "unless-stopped", "logDriver": "json-file",
        "logOpts": {"max-size": "10m", "max-file": "3"}, "securityOpts": ["no-new-privileges:true"],
        "networksAdvanced": [{"name": network, "aliases": [name]} for network in networks],
        "networkMode": "bridge",  # the docker provider's default, sent even with networksAdvanced
    }
    return Res(C, name, {**base, **props}, protect=protect, deps={"networksAdvanced": list(networks)})


def monitoring(component: str, stack: str, **props) -> Res:
    """A monitoring container, as components/monitoring names its role and component."""
    return container(component, "monitoring", stack, labels=[*labels("monitoring", stack),
                                                           {"label": "preflight.component", "value": component}], **props)


def production(stack: str = "production") -> list[Res]:
    """A compliant production stack; `stack` names the stack it is previewed as."""
    return [
        Res("docker:index/network:Network", "internal", {"name": "internal", "internal": True}),
        Res("docker:index/network:Network", "edge", {"name": "edge"}),
        # Publishes Postgres on the data server's private address; no route out.
        Res("docker:index/network:Network", "private", {
            "name": "private", "options": {"com.docker.network.bridge.enable_ip_masquerade": "false"}}),
        Res("docker:index/volume:Volume", "postgres-data", {"name": "postgres-data"}, protect=True),
        Res("docker:index/remoteImage:RemoteImage", "postgres-image", {"name": "postgres:16.4-bookworm"}),
        Res("docker:index/remoteImage:RemoteImage", "api-image", {"name": "ghcr.io/acme/api:1.4.2"}),
        Res("random:index/randomPassword:RandomPassword", "jwt-secret", {"length": 64, "special": False}),
        Res("pulumi-python:dynamic:Resource", "postgres-password", {"length": 48, "result": None}),
        Res("pulumi-python:dynamic:Resource", "tls-cert", {"hostnames": ["api.example.com"], "cert_pem": None}),
        container("postgres", "database", stack, protect=True,
                  command=["postgres", "-c", "max_connections=100"],
                  envs=["POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password"],
                  volumes=[{"volumeName": "postgres-data", "containerPath": "/var/lib/postgresql/data"}],
                  ports=[{"internal": 5432, "external": 5432, "ip": "10.10.1.10"}], networks=("internal", "private")),
        # A cache: it may evict, its volume is not backed up.
        Res("docker:index/volume:Volume", "redis-data", {"name": "redis-data"}, protect=True),
        container("redis", "cache", stack, protect=True, command=["redis-server", "/usr/local/etc/redis/redis.conf"],
                  volumes=[{"volumeName": "redis-data", "containerPath": "/data"}],
                  uploads=[{"file": "/usr/local/etc/redis/redis.conf",
                            "content": "maxmemory 128mb\nmaxmemory-policy allkeys-lru\n"}]),
        # A scheduler placed on one application server (placement: one_app_server).
        container("scheduler-app1", "service", stack, command=["python3", "/app/app.py", "scheduler"],
                  labels=[*labels("service", stack), {"label": "preflight.component", "value": "preflight-scheduler-app1"}]),
        container("api", "service", stack, envs=["JWT_SECRET_FILE=/run/secrets/jwt_secret",
                                          "CORS_ALLOWED_ORIGINS=https://app.example.com", "DEBUG=0",
                                          "SENTRY_DSN_FILE=/run/secrets/sentry_dsn"],
                  labels=[*labels("service", stack), {"label": "preflight.public", "value": "true"}],
                  networksAdvanced=[{"name": "internal"}, {"name": "edge"}]),
        container("api-migrate", "migration", stack, attach=True, mustRun=False, restart="no", wait=False),
        container("backup", "backup", stack, envs=["BACKUP_INTERVAL_S=3600", "BACKUP_RETENTION_DAYS=14"]),
        monitoring("prometheus", stack, uploads=[{"file": "/etc/monitoring/rules.yml", "content": RULES}]),
        monitoring("alertmanager", stack, uploads=[{"file": "/etc/monitoring/alertmanager.yml", "content": ALERTMANAGER}],
                   networksAdvanced=[{"name": "internal"}, {"name": "edge"}]),
        monitoring("container-exporter", stack, user="0", volumes=[
            {"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock", "readOnly": True}]),
        container("proxy", "proxy", stack, uploads=[{"file": "/etc/preflight/Caddyfile", "content": CADDYFILE}],
                  ports=[{"internal": 443, "external": 443}, {"internal": 80, "external": 80}],
                  networksAdvanced=[{"name": "edge"}]),
        Res("pulumi-python:dynamic:Resource", "proxy-sites", {
            "role": "proxy-sites", "template": SITES, "upstreams": {"api": "api-1a2b3c4:8000"}, "container": "proxy",
            "docker_host": "ssh://deploy@203.0.113.10"}, deps={"container": ["proxy"]}),
        Res("hcloud:index/firewall:Firewall", "firewall", {"rules": [
            {"direction": "in", "protocol": "tcp", "port": "22", "sourceIps": ["203.0.113.0/24"]},
            {"direction": "in", "protocol": "tcp", "port": "443", "sourceIps": ["173.245.48.0/20"]},
            {"direction": "in", "protocol": "tcp", "port": "80", "sourceIps": ["173.245.48.0/20"]},
            {"direction": "in", "protocol": "icmp", "sourceIps": ["0.0.0.0/0", "::/0"]},
        ]}),
        Res("hcloud:index/primaryIp:PrimaryIp", "ipv4", {"type": "ipv4", "location": "fsn1", "autoDelete": False,
                                                           "deleteProtection": True}, protect=True),
        Res("hcloud:index/volume:Volume", "data", {"size": 50, "location": "fsn1", "deleteProtection": True}, protect=True),
        Res("hcloud:index/network:Network", "network", {"name": "preflight", "ipRange": "10.10.0.0/16"}),
        *[Res("hcloud:index/networkSubnet:NetworkSubnet", name, {"networkId": 1, "type": "cloud", "networkZone": "eu-central",
                                                               "ipRange": ip_range}, deps={"networkId": ["network"]})
          for name, ip_range in (("subnet", "10.10.1.0/24"), ("app-subnet", "10.10.2.0/24"))],
        Res("hcloud:index/server:Server", "server", {
            "serverType": "cx32", "image": "debian-12", "location": "fsn1", "backups": True,
            "deleteProtection": True, "rebuildProtection": True, "sshKeys": ["deploy"], "userData": USER_DATA,
            "firewallIds": [1], "labels": {"stack": stack}, "networks": [{"networkId": 1, "ip": "10.10.1.10"}],
            "publicNets": [{"ipv4Enabled": True, "ipv4": 1}]}, protect=True,
            deps={"firewallIds": ["firewall"], "networks": ["network"], "publicNets": ["ipv4"]}),
        Res("hcloud:index/volumeAttachment:VolumeAttachment", "data-attachment", {"volumeId": 1, "serverId": 1},
            deps={"volumeId": ["data"], "serverId": ["server"]}),
        *[Res("cloudflare:index/zoneSetting:ZoneSetting", f"zone-{sid}", {"zoneId": ZONE, "settingId": sid, "value": v})
          for sid, v in [("ssl", "strict"), ("always_use_https", "on"), ("min_tls_version", "1.2"), ("tls_1_3", "on"),
                         ("security_header", {"strict_transport_security": {
                             "enabled": True, "max_age": 31536000, "include_subdomains": True, "nosniff": True}})]],
        Res("cloudflare:index/dnsRecord:DnsRecord", "api-a", {"zoneId": ZONE, "name": "api.example.com", "type": "A",
                                                                "content": "192.0.2.10", "proxied": True, "ttl": 1}),
        Res("cloudflare:index/authenticatedOriginPullsCertificate:AuthenticatedOriginPullsCertificate",
            "origin-pull-cert", {"zoneId": ZONE, "certificate": "-----BEGIN CERTIFICATE-----", "privateKey": "[secret]"}),
        Res("cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings", "origin-pulls",
            {"zoneId": ZONE, "enabled": True}),
        Res("cloudflare:index/ruleset:Ruleset", "rate-limit", {
            "zoneId": ZONE, "kind": "zone", "phase": "http_ratelimit", "name": "api",
            "rules": [{"action": "block", "expression": "http.request.uri.path matches \"^/auth\"",
                       "ratelimit": {"characteristics": ["ip.src", "cf.colo.id"], "period": 60,
                                     "requestsPerPeriod": 20, "mitigationTimeout": 600}}]}),
        *load_balanced(stack),
    ]


def load_balanced(stack: str) -> list[Res]:
    """Several application servers: one of them, and the load balancer in front of them."""
    # 443 demands a client certificate: the load balancer checks the proxy's health port (plain HTTP) instead.
    health = {"protocol": "http", "port": 8081, "interval": 10, "timeout": 5, "retries": 3,
              "http": {"domain": "api.example.com", "path": "/health", "tls": False, "statusCodes": ["2??"]}}
    return [
        Res("hcloud:index/server:Server", "app1", {
            "serverType": "cx32", "image": "debian-12", "location": "fsn1", "sshKeys": ["deploy"], "userData": USER_DATA,
            "firewallIds": [1], "labels": {"preflight-stack": stack, "preflight-role": "app"},
            "networks": [{"networkId": 1, "ip": "10.10.2.11"}]}, deps={"firewallIds": ["firewall"], "networks": ["network"]}),
        Res("hcloud:index/loadBalancer:LoadBalancer", "lb", {"loadBalancerType": "lb11", "location": "fsn1",
                                                             "deleteProtection": True}, protect=True),
        Res("hcloud:index/loadBalancerNetwork:LoadBalancerNetwork", "lb-network", {"loadBalancerId": 1, "ip": "10.10.2.5"},
            deps={"loadBalancerId": ["lb"], "networkId": ["network"]}),
        *[Res("hcloud:index/loadBalancerService:LoadBalancerService", f"lb-{port}", {
            "loadBalancerId": "1", "protocol": "tcp", "listenPort": port, "destinationPort": port,
            "healthCheck": health if port == 443 else {**health, "port": 80, "http": {**health["http"], "statusCodes": ["3??"]}}},
            deps={"loadBalancerId": ["lb"]}) for port in (443, 80)],
        Res("hcloud:index/loadBalancerTarget:LoadBalancerTarget", "lb-target-1", {
            "loadBalancerId": 1, "type": "server", "serverId": 2, "usePrivateIp": True},
            deps={"loadBalancerId": ["lb"], "serverId": ["app1"]}),
    ]
