"""The monitoring containers of a stack, on its data server: Prometheus, Alertmanager, and the
node, Postgres, Redis, blackbox and container exporters. Nothing is published on any address: they
live on the stack's internal network (and the edge networks, to reach the proxies and, for
Alertmanager, the receivers); the team reads them through `python -m deploy alerts` or an SSH tunnel.

A changed receiver or rule changes one container's uploaded file: that container alone is
replaced (its data volume keeps the TSDB or the notification log)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker as docker
import yaml

from ..containers import SecretFile, baseline_args, networks, secret_path, uploads
from ..host import Host
from ..images import remote_image
from ..settings import Healthcheck, Limits
from ..settings.monitoring import MonitoringSettings
from .alertmanager import render_alertmanager
from .rules import render_rules
from .scrape import (
    ALERTMANAGER,
    BLACKBOX_CA_FILE,
    BLACKBOX_CLIENT_CERT,
    BLACKBOX_CLIENT_KEY,
    BLACKBOX_EXPORTER,
    CONFIG_DIR,
    CONTAINER_EXPORTER,
    NODE_EXPORTER,
    POSTGRES_EXPORTER,
    PROMETHEUS,
    REDIS_EXPORTER,
    RULES_FILE,
    ProbedRoute,
    blackbox_config,
    prometheus_config,
)

DOCKER_SOCKET = "/var/run/docker.sock"
# Where the node exporter sees the host's root filesystem and each data volume.
HOST_ROOT = "/host"
VOLUMES_DIR = "/volumes"
# Written by jobs (the backup's last success, the last good restore drill), read by the node exporter.
TEXTFILE_DIR = "/var/lib/preflight-metrics"


def resolved(values: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[dict[str, str]]:
    """name -> value, once every value is known (an empty mapping at once)."""
    return pulumi.Output.all(**dict(values)) if values else pulumi.Output.from_input({})


def http_check(port: int, path: str) -> Healthcheck:
    return Healthcheck(command=["wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}"],
                       interval_s=10, timeout_s=5, retries=6, start_period_s=10)


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, settings: MonitoringSettings, *, host: Host, stack: str, protect: bool, rpo_s: int,
                 routes: Sequence[ProbedRoute], proxies: Sequence[pulumi.Input[str]],
                 proxy_networks: Sequence[pulumi.Input[str]], secrets: Mapping[str, pulumi.Output[str]],
                 database: tuple[str, str, pulumi.Output[str]], cache_password: pulumi.Output[str],
                 data_volumes: Mapping[str, pulumi.Input[str]], metrics_volume: pulumi.Input[str],
                 proxy_ca_pem: pulumi.Input[str] | None, client_certificate: tuple[pulumi.Input[str], pulumi.Input[str]] | None,
                 certificates: Mapping[str, pulumi.Input[str]] | None = None, opts: pulumi.ResourceOptions | None = None):
        """routes: what the blackbox probes through every proxy; proxies: the proxy containers' names and
        proxy_networks the edge networks they are on; secrets: config secret name -> value (receivers,
        heartbeat); database: (name, user, password); data_volumes: name -> volume the disk alerts watch;
        metrics_volume: the jobs' textfile directory; proxy_ca_pem: what the probes trust (None: they do
        not verify, the origin certificate being Cloudflare's); client_certificate: (cert, key) the probes
        present to proxies that demand one (origin pulls); certificates: name -> not-after (ISO 8601) of
        certificates no probe sees (the origin-pull client certificate), watched for renewal; protect: its
        volumes refuse deletion (production)."""
        super().__init__("preflight:index:Monitoring", name, None, opts)
        certificates = dict(certificates or {})
        self.name, self.settings, self.host, self.stack = name, settings, host, stack
        self.image = remote_image(f"{name}-image", settings.image, host.child_opts(self)).image_id
        internal = {"internal": host.internal_network.name}
        edges = {f"edge{i}": network for i, network in enumerate(proxy_networks)}

        self.data = host.data_volume(f"{name}-prometheus-data", stack, self, protect)
        # Without a proxy on this engine (application servers on other machines) nothing probes the routes:
        # no rule expects them to be probed (it would page forever).
        probed = list(routes) if proxies else []
        rules = resolved(certificates).apply(lambda ends: render_rules(
            settings, rpo_s=rpo_s, routes=[r.service for r in probed],
            certificates={n: datetime.datetime.fromisoformat(v).timestamp() for n, v in ends.items() if v}))
        config = pulumi.Output.all(*proxies).apply(lambda names: yaml.safe_dump(prometheus_config(
            stack=stack, scrape_interval_s=settings.scrape_interval_s, proxies=names, routes=routes), sort_keys=False))
        self.prometheus = self._container(
            "prometheus", PROMETHEUS, ["prometheus"],
            [f"--config.file={CONFIG_DIR}/prometheus.yml", "--storage.tsdb.path=/prometheus",
             f"--storage.tsdb.retention.time={settings.retention_days}d"],
            files=[SecretFile(f"{CONFIG_DIR}/prometheus.yml", config), SecretFile(RULES_FILE, rules)],
            attach={**internal, **edges}, limits=settings.prometheus_limits, check_path="/-/ready",
            volumes=[docker.ContainerVolumeArgs(volume_name=self.data.name, container_path="/prometheus")])

        self.alertmanager_data = host.data_volume(f"{name}-alertmanager-data", stack, self, protect)
        alertmanager_config: pulumi.Output[str] = pulumi.Output.secret(
            resolved(secrets).apply(lambda values: render_alertmanager(settings, values)))
        # The edge network is the way out to the receivers; Prometheus reaches it on the internal one.
        self.alertmanager = self._container(
            "alertmanager", ALERTMANAGER, ["prometheus-alertmanager"],
            [f"--config.file={CONFIG_DIR}/alertmanager.yml", "--storage.path=/alertmanager",
             "--cluster.listen-address="],
            files=[SecretFile(f"{CONFIG_DIR}/alertmanager.yml", alertmanager_config)],
            attach={**internal, "edge": host.edge_network.name}, check_path="/-/ready",
            volumes=[docker.ContainerVolumeArgs(volume_name=self.alertmanager_data.name, container_path="/alertmanager")])

        probe_files = [SecretFile(f"{CONFIG_DIR}/blackbox.yml", yaml.safe_dump(blackbox_config(
            routes, verify_with_ca=proxy_ca_pem is not None, client_certificate=client_certificate is not None)))]
        if proxy_ca_pem is not None:
            probe_files.append(SecretFile(BLACKBOX_CA_FILE, proxy_ca_pem))
        if client_certificate is not None:
            probe_files += [SecretFile(BLACKBOX_CLIENT_CERT, client_certificate[0]),
                            SecretFile(BLACKBOX_CLIENT_KEY, pulumi.Output.secret(client_certificate[1]))]
        self.blackbox = self._container("blackbox-exporter", BLACKBOX_EXPORTER, ["prometheus-blackbox-exporter"],
                                        [f"--config.file={CONFIG_DIR}/blackbox.yml"], files=probe_files,
                                        attach={**internal, **edges})

        self.node = self._container(
            "node-exporter", NODE_EXPORTER, ["prometheus-node-exporter"],
            [f"--collector.textfile.directory={TEXTFILE_DIR}",
             # Only the host's root, its volumes and the stack's data volumes: not the container's own mounts.
             f"--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|etc|run)($|/)|^{HOST_ROOT}/(dev|proc|sys|run|var/lib/docker)($|/)"],
            attach=internal,
            volumes=[docker.ContainerVolumeArgs(host_path="/", container_path=HOST_ROOT, read_only=True),
                     docker.ContainerVolumeArgs(volume_name=metrics_volume, container_path=TEXTFILE_DIR, read_only=True),
                     *(docker.ContainerVolumeArgs(volume_name=volume, container_path=f"{VOLUMES_DIR}/{purpose}",
                                                  read_only=True) for purpose, volume in sorted(data_volumes.items()))])

        db_name, db_user, db_password = database
        self.postgres_exporter = self._container(
            "postgres-exporter", POSTGRES_EXPORTER, ["prometheus-postgres-exporter"], [],
            env={"DATA_SOURCE_URI": f"postgres:5432/{db_name}?sslmode=disable", "DATA_SOURCE_USER": db_user,
                 "DATA_SOURCE_PASS_FILE": secret_path("postgres_password")},
            files=[SecretFile(secret_path("postgres_password"), db_password)], attach=internal)

        passwords: pulumi.Output[str] = pulumi.Output.secret(
            cache_password.apply(lambda p: json.dumps({"redis://redis:6379": p})))
        queue_keys = ",".join(f"db{q.db}={q.name}" for q in settings.queues)
        self.redis_exporter = self._container(
            "redis-exporter", REDIS_EXPORTER, ["prometheus-redis-exporter"],
            ["--redis.addr=redis://redis:6379", f"--redis.password-file={secret_path('redis_passwords.json')}",
             *([f"--check-single-keys={queue_keys}"] if queue_keys else [])],
            files=[SecretFile(secret_path("redis_passwords.json"), passwords)], attach=internal)

        # Docker's own view of the stack's containers (restarts, health): the one monitoring container
        # that reads the engine's socket (read-only, as root: the socket's group differs per host; no
        # network but the internal one).
        self.container_exporter = self._container(
            "container-exporter", CONTAINER_EXPORTER, ["preflight-container-exporter"], [],
            env={"PREFLIGHT_STACK": stack, "PORT": str(CONTAINER_EXPORTER[1])}, attach=internal, user="0",
            check_path="/metrics",
            volumes=[docker.ContainerVolumeArgs(host_path=DOCKER_SOCKET, container_path=DOCKER_SOCKET, read_only=True)])
        self.register_outputs({"prometheus": self.prometheus.name, "alertmanager": self.alertmanager.name})

    def _container(self, component: str, target: tuple[str, int], entrypoint: list[str], command: list[str], *,
                   attach: Mapping[str, pulumi.Input[str]], files: Sequence[SecretFile] = (),
                   env: Mapping[str, str] = {}, volumes: Sequence[docker.ContainerVolumeArgs] = (),
                   limits: Limits | None = None, check_path: str = "/metrics", user: str | None = None) -> docker.Container:
        alias, port = target
        args = baseline_args(image=self.image, stack=self.stack, component=component, role="monitoring",
                             limits=limits or self.settings.exporter_limits, healthcheck=http_check(port, check_path),
                             command=command or None)
        if user is not None:
            args["user"] = user
        return docker.Container(
            f"{self.name}-{component}", **args, entrypoints=entrypoint,
            envs=[f"{k}={v}" for k, v in sorted(env.items())] or None, uploads=uploads(files) or None,
            volumes=list(volumes) or None, networks_advanced=networks(attach, alias),
            opts=self.host.child_opts(self, delete_before_replace=True))
