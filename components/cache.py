"""Redis on the internal network only, append-only persistence on a volume, password required."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from .containers import SecretFile, baseline_args, networks, private_ports, secret_path, uploads
from .host import Host, data_networks
from .images import remote_image
from .settings import CacheSettings, Healthcheck

HOSTNAME = "redis"
PORT = 6379
CONFIG_FILE = "/etc/preflight/redis.conf"


def redis_conf(settings: CacheSettings, password: str, *, port: int = PORT, data_dir: str = "/data") -> str:
    return "\n".join([
        "bind 0.0.0.0",
        f"port {port}",
        f"requirepass {password}",
        "appendonly yes",
        "appendfsync everysec",
        f"dir {data_dir}",
        f"maxmemory {settings.maxmemory_mb}mb",
        f"maxmemory-policy {settings.maxmemory_policy}",
        "",
    ])


class Cache(pulumi.ComponentResource):
    def __init__(self, name: str, settings: CacheSettings, *, host: Host, stack: str,
                 password: pulumi.Output[str], protect: bool, opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:index:Cache", name, None, opts)
        image = remote_image(f"{name}-image", settings.image, host.child_opts(self))
        self.volume = host.data_volume(f"{name}-data", stack, self, protect)
        password_file = SecretFile(secret_path("redis_password"), password)
        config_file = SecretFile(CONFIG_FILE, pulumi.Output.secret(password.apply(lambda pw: redis_conf(settings, pw))))
        # The password is read from a file so it never appears in the container's command line.
        check = Healthcheck(command=["sh", "-c", f'redis-cli -a "$(cat {password_file.path})" --no-auth-warning ping '
                                                 "| grep -q PONG"], interval_s=5, retries=12, start_period_s=5)
        self.container = docker.Container(
            name,
            **baseline_args(image=image.image_id, stack=stack, component="cache", role="cache", limits=settings.limits,
                            healthcheck=check, command=["redis-server", CONFIG_FILE]),
            uploads=uploads([password_file, config_file]),
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path="/data")],
            networks_advanced=networks(data_networks(host), alias=HOSTNAME),
            ports=private_ports(host.private_address, PORT),
            # One append-only file, one writer: stop the old Redis before the new one starts.
            opts=host.child_opts(self, delete_before_replace=True, protect=protect),
        )
        def url(address: str) -> pulumi.Output[str]:
            return pulumi.Output.secret(pulumi.Output.format("redis://:{0}@{1}:{2}/0", password, address, PORT))

        self.url = url(HOSTNAME)  # for containers on the same host
        # for the application servers, over the private network
        self.private_url = url(host.private_address) if host.private_address else self.url
        self.register_outputs({"container": self.container.name, "volume": self.volume.name})
