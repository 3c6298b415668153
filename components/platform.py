"""Wires one stack: host -> secrets -> database, cache -> backup -> services -> edge (cloud) or certificate -> proxy."""

from __future__ import annotations

from typing import Optional

import pulumi

from .backup import Backup
from .cache import Cache
from .cloud_settings import S3Repository
from .certificates import SelfSignedCertificate
from .containers import secret_path
from .database import Database
from .host import create_host
from .proxy import ProxyRoute, ReverseProxy, TlsCertificate
from .secrets import Secrets
from .service import Service
from .settings import GeneratedSecret, LoadedSettings, ServiceSettings, StackSettings

PLATFORM_SECRET_SPECS = {"postgres_password": GeneratedSecret(length=48), "redis_password": GeneratedSecret(length=48)}
GENERATED_BACKUP_PASSWORD = "backup_password"


def service_secret_files(service: ServiceSettings, secrets: Secrets, database: Database,
                         cache: Cache) -> tuple[dict[str, pulumi.Output[str]], dict[str, str]]:
    """Secret name -> value to upload, and the *_FILE variables that point at them."""
    files: dict[str, pulumi.Output[str]] = {}
    env: dict[str, str] = {}
    if service.uses_database:
        files["database_url"] = database.url
        env["DATABASE_URL_FILE"] = secret_path("database_url")
    if service.uses_cache:
        files["redis_url"] = cache.url
        env["REDIS_URL_FILE"] = secret_path("redis_url")
    for variable, secret in service.secret_env.items():
        files[secret] = secrets.value(secret)
        env[f"{variable}_FILE"] = secret_path(secret)
    return files, env


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, loaded: LoadedSettings, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("preflight:index:Platform", name, None, opts)
        settings: StackSettings = loaded.settings
        child = pulumi.ResourceOptions(parent=self)
        self.host = create_host(f"{name}-host", settings, opts=child)
        generated = dict(PLATFORM_SECRET_SPECS)
        if settings.backup.password_secret is None:
            generated[GENERATED_BACKUP_PASSWORD] = GeneratedSecret(length=48)
        self.secrets = Secrets(f"{name}-secrets", {**generated, **settings.secrets}, loaded.config_secrets, opts=child)
        common = dict(host=self.host, stack=settings.stack, protect=settings.protect_data, opts=child)
        self.database = Database(f"{name}-postgres", settings.database,
                                 password=self.secrets.value("postgres_password"), **common)
        self.cache = Cache(f"{name}-redis", settings.cache, password=self.secrets.value("redis_password"), **common)

        self.backup = Backup(f"{name}-backup", settings.backup, interval_s=settings.backup_interval_s, host=self.host,
                             stack=settings.stack, secret_files=self._backup_secrets(settings), protect=settings.protect_data,
                             data_volumes={"/redis": self.cache.volume.name} if settings.cache.holds_data else {},
                             opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database]))

        self.services: dict[str, Service] = {}
        for service_name in settings.service_order:
            service = settings.services[service_name]
            files, env = service_secret_files(service, self.secrets, self.database, self.cache)
            env.update({"PREFLIGHT_ENVIRONMENT": settings.environment, "DB_POOL_SIZE": str(settings.database.pool_size)})
            if service.port is not None:
                env["PORT"] = str(service.port)
            depends = [self.database, self.cache, *(self.services[d] for d in service.depends_on)]
            self.services[service_name] = Service(
                f"{name}-{service_name}", service, service_name=service_name, host=self.host, stack=settings.stack, secret_files=files, env=env,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends))

        routes = [ProxyRoute(settings.hostname(s.route), s.route.path, f"{n}:{s.port}", s.route.health_path)
                  for n, s in sorted(settings.services.items()) if s.route is not None]
        self.hostnames = sorted({r.hostname for r in routes})
        self.certificate = self._certificate(name, settings, routes, child)
        self.proxy = ReverseProxy(f"{name}-proxy", settings.proxy, host=self.host, stack=settings.stack, routes=routes,
                                  certificate=self.certificate, depends_on=list(self.services.values()), opts=child)
        base = {n: f"https://{settings.hostname(s.route)}{settings.proxy.public_port_suffix}"
                for n, s in sorted(settings.services.items()) if s.route is not None}
        self.urls = {n: base[n] + settings.services[n].route.path for n in base}
        # What the proxy checks upstream is also what a person or a deploy gate checks from outside.
        self.health_urls = {n: base[n] + settings.services[n].route.health_path for n in base}
        self.register_outputs({"urls": self.urls})

    def _backup_secrets(self, settings: StackSettings) -> dict[str, pulumi.Output[str]]:
        backup, repository = settings.backup, settings.backup.repository
        files = {"backup_password": self.secrets.value(backup.password_secret or GENERATED_BACKUP_PASSWORD),
                 "database_url": self.database.url}
        if isinstance(repository, S3Repository):
            files["backup_s3_access_key_id"] = self.secrets.value(repository.access_key_id_secret)
            files["backup_s3_secret_access_key"] = self.secrets.value(repository.secret_access_key_secret)
        return files

    def _certificate(self, name: str, settings: StackSettings, routes: list[ProxyRoute],
                     child: pulumi.ResourceOptions) -> TlsCertificate:
        """Cloud stacks: Cloudflare's edge (DNS, zone settings, rate limits, health checks) and its
        origin certificate. local: a self-signed certificate that clients trust explicitly."""
        if settings.edge is None:
            return SelfSignedCertificate(f"{name}-tls", self.hostnames or [settings.domain], opts=child).certificate
        from .edge import CloudflareEdge  # pulumi_cloudflare takes seconds to import: only where it is used

        self.edge = CloudflareEdge(f"{name}-edge", settings.edge, settings.monitoring, hostnames=self.hostnames,
                                   health_paths={r.hostname: r.health_path for r in routes},
                                   ipv4=self.host.ipv4.ip_address, ipv6=self.host.ipv6.ip_address, opts=child)
        return self.edge.certificate

