"""Wires one stack: hosts -> secrets -> database, cache -> backup -> load balancer (several servers) -> edge
(cloud) or certificate -> services and proxy on each application server, one server after another."""

from __future__ import annotations

import pulumi

from .backup import Backup
from .cache import Cache
from .certificates import SelfSignedCertificate
from .cloud_settings import HetznerHost
from .containers import secret_path
from .database import Database
from .hosts import create_hosts
from .monitoring.monitoring import TEXTFILE_DIR, Monitoring
from .monitoring.scrape import ProbedRoute
from .origin_pulls import OriginPullCertificates
from .platform_secrets import BACKUP_PASSWORD_LENGTH, GENERATED_BACKUP_PASSWORD, GENERATED_LENGTHS
from .proxy import ProxyRoute, ReverseProxy, TlsCertificate
from .proxy_sites import upstream_marker
from .secrets import Secrets
from .service import Service
from .settings import GeneratedSecret, LoadedSettings, S3Repository, ServiceSettings, StackSettings

PLATFORM_SECRET_SPECS = {name: GeneratedSecret(length=length) for name, length in GENERATED_LENGTHS.items()}


def service_secret_files(service: ServiceSettings, secrets: Secrets, database: Database, cache: Cache,
                         remote: bool = False) -> tuple[dict[str, pulumi.Output[str]], dict[str, str]]:
    """Secret name -> value to upload, and the *_FILE variables that point at them. remote: the
    service runs on an application server and reaches the data over the private network."""
    files: dict[str, pulumi.Output[str]] = {}
    env: dict[str, str] = {}
    if service.uses_database:
        files["database_url"] = database.private_url if remote else database.url
        env["DATABASE_URL_FILE"] = secret_path("database_url")
    if service.uses_cache:
        files["redis_url"] = cache.private_url if remote else cache.url
        env["REDIS_URL_FILE"] = secret_path("redis_url")
    for variable, secret in service.secret_env.items():
        files[secret] = secrets.value(secret)
        env[f"{variable}_FILE"] = secret_path(secret)
    return files, env


class Platform(pulumi.ComponentResource):
    def __init__(self, name: str, loaded: LoadedSettings, opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:index:Platform", name, None, opts)
        settings: StackSettings = loaded.settings
        child = pulumi.ResourceOptions(parent=self)
        self.hosts = create_hosts(f"{name}-host", settings, opts=child)
        self.host = self.hosts.data
        generated = dict(PLATFORM_SECRET_SPECS)
        if settings.backup.password_secret is None:
            generated[GENERATED_BACKUP_PASSWORD] = GeneratedSecret(length=BACKUP_PASSWORD_LENGTH)
        self.secrets = Secrets(f"{name}-secrets", {**generated, **settings.secrets}, loaded.config_secrets, opts=child)
        self.database = Database(f"{name}-postgres", settings.database, password=self.secrets.value("postgres_password"),
                                 host=self.host, stack=settings.stack, protect=settings.protect_data, opts=child)
        self.cache = Cache(f"{name}-redis", settings.cache, password=self.secrets.value("redis_password"),
                           host=self.host, stack=settings.stack, protect=settings.protect_data, opts=child)

        # Where jobs leave their figures for the monitoring (the backup's last success, the last good drill).
        self.job_metrics = self.host.data_volume(f"{name}-job-metrics", settings.stack, self, settings.protect_data)
        self.backup = Backup(f"{name}-backup", settings.backup, interval_s=settings.backup_interval_s, host=self.host,
                             stack=settings.stack, secret_files=self._backup_secrets(settings), protect=settings.protect_data,
                             metrics=(self.job_metrics.name, TEXTFILE_DIR),
                             data_volumes={"/redis": self.cache.volume.name} if settings.cache.holds_data else {},
                             opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database]))

        # Upstreams are filled in per application server, with the names of its current containers.
        routes = [ProxyRoute(settings.hostname(s.route), s.route.path, upstream_marker(n), s.route.health_path)
                  for n, s in sorted(settings.services.items()) if s.route is not None]
        self.hostnames = sorted({r.hostname for r in routes})
        self.load_balancer = self._load_balancer(name, settings, routes, child)
        # Cloud stacks: the client certificate Cloudflare presents and the CA every proxy demands it of.
        self.origin_pulls = OriginPullCertificates(f"{name}-origin-pulls", settings.edge.zone_id,
                                                   settings.edge.origin_pulls, opts=child) if settings.edge else None
        self.edge = self._edge(name, settings, routes, child)
        served = self.edge.certificate if self.edge is not None else \
            SelfSignedCertificate(f"{name}-tls", self.hostnames or [settings.domain], opts=child).certificate
        self.certificate = TlsCertificate(served.cert_pem, served.key_pem,
                                          client_ca_pem=self.origin_pulls.ca_pem if self.origin_pulls else None)

        self.services: dict[str, Service] = {}  # name -> its copy on the first application server
        self.proxies: list[ReverseProxy] = []
        previous_gate: list[pulumi.Resource] = []
        for index, app_host in enumerate(self.hosts.apps, start=1):
            previous_gate = self._applications(name, loaded, index, app_host, routes, previous_gate)
        self.proxy = self.proxies[0]
        self.monitoring = self._monitoring(name, loaded, routes, child) if settings.monitoring.enabled else None
        if self.edge is not None:
            self.edge.route_to(self._edge_records(settings), after=previous_gate or self.proxies)

        routed = {n: s.route for n, s in sorted(settings.services.items()) if s.route is not None}
        base = {n: f"https://{settings.hostname(route)}{settings.proxy.public_port_suffix}" for n, route in routed.items()}
        self.urls = {n: base[n] + route.path for n, route in routed.items()}
        # What the proxy checks upstream is also what a person or a deploy gate checks from outside.
        self.health_urls = {n: base[n] + route.health_path for n, route in routed.items()}
        self.register_outputs({"urls": self.urls})

    def _applications(self, name: str, loaded: LoadedSettings, index: int, app_host, routes: list[ProxyRoute],
                      previous_gate: list[pulumi.Resource]) -> list[pulumi.Resource]:
        """The services and the proxy on application server `index` (one server: names as they always
        were; several: one copy per server, started after the previous server's gate). Returns the
        gate the next server waits for (none on one server)."""
        settings = loaded.settings
        suffix = f"-app{index}" if self.hosts.multi_host else ""
        on_host: dict[str, Service] = {}
        for service_name in settings.service_order:
            service = settings.services[service_name]
            if service.placement == "one_app_server" and index > 1:
                continue
            files, env = service_secret_files(service, self.secrets, self.database, self.cache,
                                              remote=self.hosts.multi_host)
            env.update({"PREFLIGHT_ENVIRONMENT": settings.environment, "DB_POOL_SIZE": str(settings.database.pool_size)})
            if service.port is not None:
                env["PORT"] = str(service.port)
            depends = [self.database, self.cache, *previous_gate,
                       *(on_host.get(d) or self.services[d] for d in service.depends_on)]
            on_host[service_name] = Service(
                f"{name}-{service_name}{suffix}", service, service_name=service_name, host=app_host,
                stack=settings.stack, secret_files=files, env=env, run_migrations=index == 1,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends))
            self.services.setdefault(service_name, on_host[service_name])
        upstreams = {n: on_host[n].upstream for n, s in settings.services.items() if s.route is not None}
        # A proxy demands Cloudflare's client certificate only once Cloudflare presents it.
        presented = self.edge.origin_pulls_presented if self.edge is not None else []
        proxy = ReverseProxy(f"{name}-proxy{suffix}", settings.proxy, host=app_host, stack=settings.stack,
                             routes=routes, upstreams=upstreams, certificate=self.certificate,
                             load_balanced=self.load_balancer is not None or self.hosts.user_load_balancer,
                             depends_on=[*on_host.values(), *presented],
                             after=previous_gate, opts=pulumi.ResourceOptions(parent=self))
        self.proxies.append(proxy)
        if not self.hosts.multi_host:
            return []
        if self.load_balancer is None:  # the local rehearsal: Docker's healthchecks are the gate
            return [proxy.site_blocks, proxy, *on_host.values()]
        return [self._roll_out(name, index, loaded, app_host, proxy, list(on_host.values()))]

    def _monitoring(self, name: str, loaded: LoadedSettings, routes: list[ProxyRoute],
                    child: pulumi.ResourceOptions) -> Monitoring:
        """On the data server, watching the proxies that share its Docker engine (one server; the local
        rehearsal's application servers)."""
        settings = loaded.settings
        watched = [(proxy, app) for proxy, app in zip(self.proxies, self.hosts.apps, strict=True)
                   if app.provider is self.host.provider]
        probed = [ProbedRoute(n, settings.hostname(s.route), s.route.health_path)
                  for n, s in sorted(settings.services.items()) if s.route is not None]
        client = (self.origin_pulls.client.cert_pem, self.origin_pulls.client.key_pem) if self.origin_pulls else None
        return Monitoring(
            f"{name}-monitoring", settings.monitoring, host=self.host, stack=settings.stack, protect=settings.protect_data,
            rpo_s=settings.backup_interval_s, routes=probed, proxies=[p.container.name for p, _ in watched],
            proxy_networks=[app.edge_network.name for _, app in watched],
            secrets={secret: self.secrets.value(secret) for _, secret in settings.monitoring.secrets},
            database=(settings.database.name, settings.database.user, self.secrets.value("postgres_password")),
            cache_password=self.secrets.value("redis_password"),
            data_volumes={"postgres": self.database.volume.name, "redis": self.cache.volume.name},
            metrics_volume=self.job_metrics.name,
            proxy_ca_pem=self.certificate.cert_pem if self.edge is None else None, client_certificate=client,
            certificates={"origin-pull client": self.origin_pulls.client.not_after} if self.origin_pulls else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database, self.cache, *self.proxies]))

    def _edge_records(self, settings: StackSettings) -> list[tuple[str, pulumi.Input[str]]]:
        """Where Cloudflare sends traffic: our load balancer once every server serves, else the
        hosts' origin (the one Hetzner server; servers you have: your load balancer or each server)."""
        if self.load_balancer is not None:
            return [("A", self.load_balancer.ipv4), ("AAAA", self.load_balancer.ipv6)]
        return self.hosts.origin

    def _load_balancer(self, name: str, settings: StackSettings, routes: list[ProxyRoute],
                       child: pulumi.ResourceOptions):
        hetzner = self.hosts.hetzner
        if hetzner is None or not isinstance(settings.host, HetznerHost):
            return None
        from .load_balancer import AppLoadBalancer, HealthRoute  # imports pulumi_hcloud: cloud stacks only

        first = routes[0] if routes else None
        route = HealthRoute(first.hostname, first.health_path) if first else HealthRoute(settings.domain, "/")
        return AppLoadBalancer(f"{name}-lb", settings.host, network=hetzner.network, subnet=hetzner.app_subnet,
                               servers=hetzner.app_servers, route=route, health_port=settings.proxy.health_port,
                               labels=hetzner.labels,
                               production=settings.protect_data, opts=child)

    def _roll_out(self, name: str, index: int, loaded: LoadedSettings, app_host, proxy: ReverseProxy,
                  services: list[Service]) -> pulumi.Resource:
        """The gate after application server `index`: its new containers are healthy in Docker (the
        provider waits for that) and the load balancer reports it healthy; only then does the next
        server's release start, so the other servers serve throughout."""
        from .load_balancer import TargetHealthy

        hetzner = self.hosts.hetzner
        assert self.load_balancer is not None and hetzner is not None and isinstance(loaded.settings.host, HetznerHost)
        containers = [proxy.container, *(s.container for s in services)]
        release = pulumi.Output.all(*[c.id for c in containers]).apply(lambda ids: ",".join(ids))
        return TargetHealthy(f"{name}-rollout-app{index}", load_balancer_id=self.load_balancer.load_balancer.id,
                             server_id=hetzner.app_servers[index - 1].id, server_name=loaded.settings.host.app_server_name(index),
                             release=release, token=loaded.hcloud_token,
                             deadline_s=loaded.settings.host.load_balancer.target_deadline_s,
                             opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.load_balancer.services,
                                                                                   *self.load_balancer.targets,
                                                                                   proxy.site_blocks]))

    def _backup_secrets(self, settings: StackSettings) -> dict[str, pulumi.Output[str]]:
        backup, repository = settings.backup, settings.backup.repository
        files = {"backup_password": self.secrets.value(backup.password_secret or GENERATED_BACKUP_PASSWORD),
                 "database_url": self.database.url}
        if isinstance(repository, S3Repository):
            files["backup_s3_access_key_id"] = self.secrets.value(repository.access_key_id_secret)
            files["backup_s3_secret_access_key"] = self.secrets.value(repository.secret_access_key_secret)
        return files

    def _edge(self, name: str, settings: StackSettings, routes: list[ProxyRoute], child: pulumi.ResourceOptions):
        """Cloud stacks: Cloudflare's edge (DNS, zone settings, rate limits, health checks, the origin
        certificate the proxies serve, origin pulls). local: none (a self-signed certificate clients trust explicitly)."""
        if settings.edge is None:
            return None
        from .edge import CloudflareEdge  # pulumi_cloudflare takes seconds to import: only where it is used

        assert self.origin_pulls is not None  # made wherever the edge is
        return CloudflareEdge(f"{name}-edge", settings.edge, settings.monitoring, hostnames=self.hostnames,
                              health_paths={r.hostname: r.health_path for r in routes}, origin_pulls=self.origin_pulls,
                              domain=settings.domain, opts=child)

