"""The one place long-running containers get their operational baseline.

Every container the platform runs is built from `baseline_args`, so healthcheck, CPU and memory
limits, restart policy, log rotation and the wait-until-healthy gate hold by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from .settings import Healthcheck, Limits

LOG_ROTATION = {"max-size": "10m", "max-file": "3"}
SECRETS_DIR = "/run/secrets"


@dataclass(frozen=True)
class SecretFile:
    """A secret delivered as a file inside the container (never as a plain env value)."""

    path: str
    value: pulumi.Input[str]


def secret_path(name: str) -> str:
    return f"{SECRETS_DIR}/{name}"


def labels(stack: str, component: str, role: str = "service", public: bool = False,
           service: str | None = None) -> list[docker.ContainerLabelArgs]:
    """service: the service's name in the settings (its containers' component names carry the server's suffix)."""
    values = {"preflight.stack": stack, "preflight.component": component, "preflight.role": role}
    if service is not None:
        values["preflight.service"] = service
    if public:
        values["preflight.public"] = "true"  # routed by the proxy: takes traffic from the internet
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(values.items())]


def networks(attachments: Mapping[str, pulumi.Input[str]], alias: str) -> list[docker.ContainerNetworksAdvancedArgs]:
    """attachments: purpose -> network name; the container answers to `alias` on each."""
    return [docker.ContainerNetworksAdvancedArgs(name=net, aliases=[alias]) for _, net in sorted(attachments.items())]


def private_ports(host_private_address: str | None, port: int) -> list[docker.ContainerPortArgs]:
    """A data service's port, published on the host's private-network address only (cloud hosts,
    so application servers can reach it); nothing on the local host."""
    if host_private_address is None:
        return []
    return [docker.ContainerPortArgs(internal=port, external=port, ip=host_private_address)]


def uploads(files: Sequence[SecretFile]) -> list[docker.ContainerUploadArgs]:
    # 0400 would lock out images whose process runs as a non-root user; 0444 inside a private
    # container filesystem exposes nothing that `docker exec` could not read anyway.
    return [docker.ContainerUploadArgs(file=f.path, content=f.value, permissions="0444") for f in files]


def go_duration(seconds: int) -> str:
    """Seconds as Docker reports them back (Go's time.Duration: 900 -> "15m0s"), so an unchanged
    healthcheck never shows up as a diff."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def healthcheck_args(check: Healthcheck) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *check.command],
        interval=go_duration(check.interval_s),
        timeout=go_duration(check.timeout_s),
        retries=check.retries,
        start_period=go_duration(check.start_period_s),
    )


def docker_cpus(cpus: float) -> str:
    """`cpus` written exactly as the docker provider reads it back from the engine (9 decimals
    with trailing zeros cut; one decimal when the text has exactly nine zeros), so an unchanged
    limit never shows up as a diff."""
    text = f"{cpus:.9f}"
    return f"{cpus:.1f}" if text.count("0") == 9 else text.rstrip("0")


def limit_args(limits: Limits) -> dict:
    return {"memory": limits.memory_mb, "memory_swap": limits.memory_mb, "cpus": docker_cpus(limits.cpus)}


def baseline_args(
    *,
    image: pulumi.Input[str],
    stack: str,
    component: str,
    limits: Limits,
    healthcheck: Healthcheck,
    role: str = "service",
    public: bool = False,
    restart: str = "unless-stopped",
    command: Sequence[str] | None = None,
    service: str | None = None,
) -> dict:
    """Arguments every long-running container shares; callers add networks, env, uploads, ports."""
    return {
        "image": image,
        "command": list(command) if command else None,
        "labels": labels(stack, component, role, public, service),
        "healthcheck": healthcheck_args(healthcheck),
        "restart": restart,
        "log_driver": "json-file",
        "log_opts": dict(LOG_ROTATION),
        "must_run": True,
        # `up` succeeds only once the new container reports healthy; with create-before-delete
        # that is what keeps the old container serving until the new one is ready.
        "wait": True,
        "wait_timeout": healthcheck.deadline_s,
        "security_opts": ["no-new-privileges:true"],
        "destroy_grace_seconds": 30,
        **limit_args(limits),
    }
