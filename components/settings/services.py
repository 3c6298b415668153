"""The application's services, their routes, and the order they start in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..secret_names import looks_secret
from ..setting_types import DnsLabel, EnvName, ImageRef, Name, Port, Strict
from .common import Healthcheck, Limits
from .errors import fix, fix_at


class Route(Strict):
    """Public route through the proxy: https://<subdomain>.<domain><path>"""

    subdomain: DnsLabel
    path: str = Field("/", pattern=r"^/[A-Za-z0-9._~/-]*$")
    health_path: str = Field("/health", pattern=r"^/[A-Za-z0-9._~/-]*$", description="the proxy's upstream check")


class ServiceSettings(Strict):
    image: ImageRef
    command: list[str] | None = Field(None, min_length=1)
    port: Port | None = None
    env: dict[EnvName, str] = {}
    # env var -> secret name; the value is delivered as the file /run/secrets/<name> and the
    # variable <VAR>_FILE points at it, so no secret value appears in `docker inspect`.
    secret_env: dict[EnvName, Name] = {}
    healthcheck: Healthcheck
    limits: Limits = Limits()
    processes: int = Field(1, ge=1, le=256, description="processes that each open a pool of database.pool_size "
                           "connections (gunicorn workers, ...): the pool check counts them")
    restart: Literal["always", "unless-stopped", "on-failure"] = "unless-stopped"
    route: Route | None = None
    migrate_command: list[str] | None = Field(None, min_length=1)
    uses_database: bool = True
    uses_cache: bool = True
    depends_on: list[Name] = []
    placement: Literal["every_app_server", "one_app_server"] = Field(
        "every_app_server", description="with several application servers: one_app_server for a scheduler, whose "
        "jobs would otherwise fire once per server")

    @field_validator("env")
    @classmethod
    def _no_plaintext_secrets(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if looks_secret(key):
                raise fix("{key} looks like a secret but is set in plain text; move it to secret_env ({key}: <secret "
                          "name>) and declare that name under preflight:secrets", key=key)
        return env

    @model_validator(mode="after")
    def _route_needs_port(self) -> ServiceSettings:
        if self.route is not None and self.port is None:
            raise fix("route is set but port is not; set port to the port the service listens on")
        if self.route is not None and self.placement != "every_app_server":
            raise fix("a routed service runs behind every application server's proxy; remove placement or the route")
        return self


def service_start_order(services: Mapping[str, ServiceSettings]) -> list[str]:
    """Service names, each after the services it depends on; refuses cycles."""
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            cycle = " -> ".join((*path[path.index(name):], name))
            raise fix_at(("services", name, "depends_on"), "depends_on forms a cycle ({cycle}); remove one of these "
                      "entries", cycle=cycle)
        for dependency in services[name].depends_on:
            visit(dependency, (*path, name))
        ordered.append(name)

    for service_name in sorted(services):
        visit(service_name, ())
    return ordered
