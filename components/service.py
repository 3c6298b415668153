"""An application service (api, worker, scheduler, web) described in config.

Rollout order for a new release: migrations run to completion (and must exit 0), then the new
container starts and must turn healthy, then the proxy is switched to it (components/proxy_sites.py),
and only then is the old container removed (create-before-delete; services publish no host port,
so old and new run side by side, and only the proxy decides which one takes requests).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_docker as docker

from .containers import LOG_ROTATION, SecretFile, baseline_args, labels, limit_args, networks, secret_path, uploads
from .host import Host
from .images import remote_image
from .settings import ServiceSettings


class MigrationFailed(pulumi.RunError):
    pass


def require_success(service: str, exit_code: int | None, container: str) -> str:
    """The gate between migrations and the new release: a failed migration stops the update
    before the new service container is created, so the old release keeps serving."""
    if exit_code != 0:
        raise MigrationFailed(f"migrations of service {service!r} exited with code {exit_code}; the new release was "
                              f"not started and the previous one keeps serving. Read the output with "
                              f"`docker logs {container}`, fix, and run `pulumi up` again.")
    return "ok"


class Service(pulumi.ComponentResource):
    def __init__(self, name: str, settings: ServiceSettings, *, service_name: str, host: Host, stack: str,
                 secret_files: Mapping[str, pulumi.Output[str]], env: Mapping[str, str], run_migrations: bool = True,
                 opts: pulumi.ResourceOptions | None = None):
        """service_name: the name from config, which the proxy and other services use as hostname;
        secret_files: secret name -> value, delivered under /run/secrets/<name>;
        env: platform-provided variables (merged under the service's own env);
        run_migrations: false on every application server but the first (migrations run once per release)."""
        super().__init__("preflight:index:Service", name, None, opts)
        image = remote_image(f"{name}-image", settings.image, host.child_opts(self))
        files = [SecretFile(secret_path(secret), value) for secret, value in sorted(secret_files.items())]
        envs = [f"{k}={v}" for k, v in sorted({**env, **settings.env}.items())]

        data_reach: dict[str, pulumi.Input[str]] = {"internal": host.internal_network.name}
        if host.data_network is not None and (settings.uses_database or settings.uses_cache):
            data_reach["data"] = host.data_network.name
        gate: pulumi.Input[str] = "none"
        if settings.migrate_command and run_migrations:
            self.migration = docker.Container(
                f"{name}-migrate",
                image=image.image_id,
                command=settings.migrate_command,
                envs=envs,
                uploads=uploads(files),
                networks_advanced=networks(data_reach, alias=f"{service_name}-migrate"),
                labels=labels(stack, name, role="migration"),
                log_driver="json-file",
                log_opts=dict(LOG_ROTATION),
                must_run=False,
                attach=True,
                logs=True,
                restart="no",
                security_opts=["no-new-privileges:true"],
                **limit_args(settings.limits),
                opts=host.child_opts(self),
            )
            gate = pulumi.Output.all(self.migration.exit_code, self.migration.name).apply(
                lambda result: require_success(service_name, *result))

        self.container = docker.Container(
            name,
            **baseline_args(image=image.image_id, stack=stack, component=name, limits=settings.limits,
                            healthcheck=settings.healthcheck, restart=settings.restart, command=settings.command,
                            public=settings.route is not None, service=service_name),
            envs=envs + [pulumi.Output.concat("PREFLIGHT_MIGRATIONS=", gate)],
            uploads=uploads(files),
            # Other services reach it as `service_name` on the internal network. On the edge network it
            # answers only to its own container name: the proxy is switched to that name once the
            # container is healthy, so a new container never shares a name the proxy sends traffic to.
            networks_advanced=[*networks(data_reach, alias=service_name),
                               *([docker.ContainerNetworksAdvancedArgs(name=host.edge_network.name)]
                                 if settings.route is not None else [])],
            # Explicitly create-before-delete (the docker provider defaults containers to
            # delete-first): the new release turns healthy before the old one is removed.
            opts=host.child_opts(self, delete_before_replace=False),
        )
        self.upstream = pulumi.Output.concat(self.container.name, ":", str(settings.port))
        self.register_outputs({"container": self.container.name})
