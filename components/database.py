"""Postgres on the internal network only, data on a named volume, password as a file."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from .containers import SecretFile, baseline_args, networks, private_ports, secret_path, uploads
from .host import Host, data_networks
from .images import remote_image
from .settings import DatabaseSettings, Healthcheck

HOSTNAME = "postgres"
PORT = 5432
DATA_DIR = "/var/lib/postgresql/data"


class Database(pulumi.ComponentResource):
    def __init__(self, name: str, settings: DatabaseSettings, *, host: Host, stack: str,
                 password: pulumi.Output[str], protect: bool, opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:index:Database", name, None, opts)
        image = remote_image(f"{name}-image", settings.image, host.child_opts(self))
        self.volume = host.data_volume(f"{name}-data", stack, self, protect)
        check = Healthcheck(command=settings.healthcheck_command or
                            ["pg_isready", "-h", "127.0.0.1", "-U", settings.user, "-d", settings.name],
                            interval_s=5, retries=12, start_period_s=20)
        password_file = SecretFile(secret_path("postgres_password"), password)
        self.container = docker.Container(
            name,
            **baseline_args(image=image.image_id, stack=stack, component="database", role="database", limits=settings.limits,
                            healthcheck=check, command=["postgres", "-c", f"max_connections={settings.max_connections}"]),
            envs=[f"POSTGRES_DB={settings.name}", f"POSTGRES_USER={settings.user}",
                  f"POSTGRES_PASSWORD_FILE={password_file.path}", f"PGDATA={DATA_DIR}/pgdata"],
            uploads=uploads([password_file]),
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=DATA_DIR)],
            networks_advanced=networks(data_networks(host), alias=HOSTNAME),
            ports=private_ports(host.private_address, PORT),
            # Two Postgres processes must never share one data directory: stop the old one first.
            opts=host.child_opts(self, delete_before_replace=True, protect=protect),
        )
        def url(address: str) -> pulumi.Output[str]:
            return pulumi.Output.secret(pulumi.Output.format(
                "postgresql://{0}:{1}@{2}:{3}/{4}", settings.user, password, address, PORT, settings.name))

        self.url = url(HOSTNAME)  # for containers on the same host
        # for the application servers, over the private network
        self.private_url = url(host.private_address) if host.private_address else self.url
        self.register_outputs({"container": self.container.name, "volume": self.volume.name})
