"""Typed settings of one stack; the only module that reads Pulumi config.

Config -> `parse_settings` (pure, validated once) -> `StackSettings` -> components.
Every problem is reported as one line naming the setting and the fix, raised as a
`SettingsError` (a `pulumi.RunError`, so the CLI shows the message without a stack trace)
before any resource is registered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pulumi
import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .cloud_settings import BackupSettings, EdgeSettings, HetznerHost, MonitoringSettings, S3Repository
from .platform_secrets import ALWAYS_RESERVED, GENERATED_BACKUP_PASSWORD
from .secret_names import looks_secret
from .setting_types import DnsLabel, Domain, EnvName, ImageRef, Name, Port, Strict
from .ssh_settings import SshHost

NAMESPACE = "preflight"
KNOWN_STACKS = ("production", "staging", "local")
# Secrets the platform generates and wires itself; users reference them, never declare them.
PLATFORM_SECRETS = ALWAYS_RESERVED



class Limits(Strict):
    memory_mb: int = Field(256, ge=16, le=262144)
    cpus: float = Field(0.5, gt=0, le=64)


class Healthcheck(Strict):
    """Exec-form command run inside the container; exit 0 means healthy."""

    command: list[str] = Field(min_length=1)
    interval_s: int = Field(10, ge=1, le=3600)
    timeout_s: int = Field(5, ge=1, le=600)
    retries: int = Field(5, ge=1, le=100)
    start_period_s: int = Field(10, ge=0, le=3600)

    @property
    def deadline_s(self) -> int:
        """How long a new container may take to become healthy before the deploy fails. The docker
        provider waits this long even for a container Docker already calls unhealthy (a plain
        `pulumi up` detects a failing release only then; `deploy up` at the first unhealthy report)."""
        return self.start_period_s + self.retries * (self.interval_s + self.timeout_s) + 10


class LocalHost(Strict):
    kind: Literal["local"]
    docker_host: str = "unix:///var/run/docker.sock"
    app_servers: int = Field(1, ge=1, le=5, description="a rehearsal of several application servers on this one "
                             "engine: N copies of the proxy and services, copy k publishing on the proxy's ports + k-1, "
                             "released one after another")


HostSettings = Annotated[LocalHost | HetznerHost | SshHost, Field(discriminator="kind")]
PUBLIC_HOSTS = ("hetzner", "ssh")
CLOUD_ENVIRONMENTS = ("production", "staging")


class DatabaseSettings(Strict):
    image: ImageRef = "postgres:16.4-bookworm"
    name: Name = "app"
    user: Name = "app"
    max_connections: int = Field(100, ge=10, le=5000)
    pool_size: int = Field(10, ge=1, le=500, description="connections each service process may hold")
    limits: Limits = Limits(memory_mb=512, cpus=1.0)
    healthcheck_command: list[str] | None = Field(None, min_length=1, description="default: pg_isready")


class CacheSettings(Strict):
    image: ImageRef = "redis:7.4-bookworm"
    maxmemory_mb: int = Field(128, ge=8)
    maxmemory_policy: Literal["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu"] = "noeviction"
    holds_data: bool = Field(False, description="Redis is a cache unless this says it holds data: then it is backed up")
    limits: Limits = Limits(memory_mb=256, cpus=0.5)

    @model_validator(mode="after")
    def _fits_in_limit(self) -> CacheSettings:
        if self.maxmemory_mb >= self.limits.memory_mb:
            raise PydanticCustomError(
                "fix",
                "maxmemory_mb ({got}) must be below limits.memory_mb ({limit}) or Redis is killed before it evicts; "
                "lower maxmemory_mb or raise limits.memory_mb",
                {"got": self.maxmemory_mb, "limit": self.limits.memory_mb},
            )
        return self


class ProxySettings(Strict):
    image: ImageRef = "caddy:2.8.4"
    bind_address: str = Field("0.0.0.0", pattern=r"^(\d{1,3}\.){3}\d{1,3}$")
    http_port: Port = 80
    https_port: Port = 443
    hsts_max_age_s: int = Field(31536000, ge=0)
    content_security_policy: str = "default-src 'self'; frame-ancestors 'none'; base-uri 'self'"
    limits: Limits = Limits(memory_mb=128, cpus=0.5)
    healthcheck: Healthcheck = Healthcheck(command=["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2019/config/"])

    @property
    def public_port_suffix(self) -> str:
        """What a public URL needs after the hostname: nothing on 443, ':<port>' otherwise."""
        return "" if self.https_port == 443 else f":{self.https_port}"

    @model_validator(mode="after")
    def _distinct_ports(self) -> ProxySettings:
        if self.http_port == self.https_port:
            raise PydanticCustomError("fix", "http_port and https_port are both {port}; give them different ports",
                                      {"port": self.http_port})
        return self


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
                raise PydanticCustomError(
                    "fix",
                    "{key} looks like a secret but is set in plain text; move it to secret_env ({key}: <secret name>) "
                    "and declare that name under preflight:secrets",
                    {"key": key},
                )
        return env

    @model_validator(mode="after")
    def _route_needs_port(self) -> ServiceSettings:
        if self.route is not None and self.port is None:
            raise PydanticCustomError("fix", "route is set but port is not; set port to the port the service listens on",
                                      {})
        if self.route is not None and self.placement != "every_app_server":
            raise PydanticCustomError("fix", "a routed service runs behind every application server's proxy; remove "
                                      "placement or the route", {})
        return self


class GeneratedSecret(Strict):
    source: Literal["generated"] = "generated"
    length: int = Field(48, ge=32, le=256)


class ConfigSecret(Strict):
    """A value only a human can provide (an API key); set with `pulumi config set --secret`."""

    source: Literal["config"]
    key: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


SecretSpec = Annotated[GeneratedSecret | ConfigSecret, Field(discriminator="source")]


class StackSettings(Strict):
    stack: str
    environment: Literal["production", "staging", "local"]
    domain: Domain
    host: HostSettings
    edge: EdgeSettings | None = None
    monitoring: MonitoringSettings | None = None
    database: DatabaseSettings = DatabaseSettings()
    cache: CacheSettings = CacheSettings()
    proxy: ProxySettings = ProxySettings()
    backup: BackupSettings = BackupSettings()
    services: dict[Name, ServiceSettings] = Field(min_length=1)
    secrets: dict[Name, SecretSpec] = {}

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        if self.stack in KNOWN_STACKS and self.environment != self.stack:
            raise _at(("environment",), "stack {stack} must have environment {stack}, not {env}; "
                      "fix preflight:environment in Pulumi.{stack}.yaml", stack=self.stack, env=self.environment)
        if self.environment in CLOUD_ENVIRONMENTS:
            if self.host.kind not in PUBLIC_HOSTS:
                raise _at(("host", "kind"), "{env} runs on public servers: set kind: hetzner (server_name, "
                          "network_name, ssh_keys, admin_cidrs) or kind: ssh (servers you have: servers, ssh_keys, "
                          "admin_cidrs)", env=self.environment)
            for section in ("edge", "monitoring"):
                if getattr(self, section) is None:
                    raise _at((section,), "{env} needs preflight:{section} (see the README's cloud stacks section)",
                              env=self.environment, section=section)
        elif self.edge is not None or self.monitoring is not None:
            raise _at(("edge" if self.edge is not None else "monitoring",), "the Cloudflare edge and monitoring need "
                      "a public host (host.kind: hetzner or ssh); remove this section from the {env} stack",
                      env=self.environment)
        for name in self.secrets:
            if name in PLATFORM_SECRETS:
                raise _at(("secrets", name), "{name} is generated by the platform; remove it from preflight:secrets "
                          "(services get it through uses_database/uses_cache)", name=name)
        if GENERATED_BACKUP_PASSWORD in self.secrets and self.backup.password_secret is None:
            raise _at(("secrets", GENERATED_BACKUP_PASSWORD), "{name} is the name of the backup repository password the "
                      "platform generates; to use yours, set preflight:backup.password_secret: {name}, or give your "
                      "secret another name", name=GENERATED_BACKUP_PASSWORD)
        backup_secrets = [("backup", "password_secret"), ("backup", "repository", "access_key_id_secret"),
                          ("backup", "repository", "secret_access_key_secret")]
        for path in backup_secrets:
            owner = self.backup.repository if len(path) == 3 else self.backup
            secret = getattr(owner, path[-1], None)
            if secret is not None and secret not in self.secrets:
                raise _at(path, "unknown secret {secret}; declare it under preflight:secrets (known: {known})",
                          secret=secret, known=_listing(self.secrets))
        if self.environment in CLOUD_ENVIRONMENTS and not isinstance(self.backup.repository, S3Repository):
            raise _at(("backup", "repository"), "{env} keeps its backups off the server: set kind: s3 with url and "
                      "the secrets that hold the access keys", env=self.environment)
        routes: dict[tuple[str, str], str] = {}
        for name, service in self.services.items():
            for secret in service.secret_env.values():
                if secret not in self.secrets:
                    raise _at(("services", name, "secret_env"), "unknown secret {secret}; declare it under "
                              "preflight:secrets (known: {known})", secret=secret, known=_listing(self.secrets))
            for other in service.depends_on:
                if other not in self.services or other == name:
                    raise _at(("services", name, "depends_on"), "unknown service {other}; use one of: {known}",
                              other=other, known=_listing(set(self.services) - {name}))
            if service.route is not None:
                key = (service.route.subdomain, service.route.path)
                if key in routes:
                    raise _at(("services", name, "route"), "{host}{path} is already routed to {other}; give each "
                              "service its own subdomain or path", host=self.hostname(service.route),
                              path=service.route.path, other=routes[key])
                routes[key] = name
        service_start_order(self.services)
        return self

    @property
    def service_order(self) -> list[str]:
        return service_start_order(self.services)

    def hostname(self, route: Route) -> str:
        return f"{route.subdomain}.{self.domain}"

    @property
    def backup_interval_s(self) -> int:
        """RPO: hourly in production (the checklist's 1 h), daily elsewhere unless set."""
        return self.backup.interval_s or (3600 if self.environment == "production" else 86400)

    @property
    def protect_data(self) -> bool:
        """Stateful resources refuse deletion in production."""
        return self.environment == "production"


def service_start_order(services: Mapping[str, ServiceSettings]) -> list[str]:
    """Service names, each after the services it depends on; refuses cycles."""
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            cycle = " -> ".join((*path[path.index(name):], name))
            raise _at(("services", name, "depends_on"), "depends_on forms a cycle ({cycle}); remove one of these "
                      "entries", cycle=cycle)
        for dependency in services[name].depends_on:
            visit(dependency, (*path, name))
        ordered.append(name)

    for service_name in sorted(services):
        visit(service_name, ())
    return ordered


# production and staging are compared with each other (the other stack's file, read as it is).
SEPARATED_STACKS = {"production": "staging", "staging": "production"}


def stack_separation_problems(settings: StackSettings, other_stack: str, other: Mapping[str, Any]) -> list[str]:
    """What `settings` shares with the other cloud stack (its `preflight:*` config from its stack
    file, secure values still encrypted): domains, hostnames, servers, networks, copied secrets."""
    problems: list[str] = []
    other_host: dict[str, Any] = other["host"] if isinstance(other.get("host"), dict) else {}
    if other.get("domain") == settings.domain:
        problems.append(f"{NAMESPACE}:domain: {settings.domain} is also {other_stack}'s domain; give each stack its own "
                        f"(e.g. staging.{settings.domain})")
    if isinstance(settings.host, HetznerHost):
        for key in ("server_name", "network_name"):
            if other_host.get(key) == getattr(settings.host, key):
                problems.append(f"{NAMESPACE}:host.{key}: {getattr(settings.host, key)} is also {other_stack}'s; "
                                f"name this stack's {key.split('_')[0]} after the stack")
    if isinstance(settings.host, SshHost):
        theirs = {str(s.get("address")) for s in other_host.get("servers") or [] if isinstance(s, dict)}
        shared_servers = sorted(theirs & {server.address for server in settings.host.servers})
        if shared_servers:
            problems.append(f"{NAMESPACE}:host.servers: {', '.join(shared_servers)} is also a server of {other_stack}; "
                            "production and staging never share a server")
    other_routes: dict[str, Any] = other["services"] if isinstance(other.get("services"), dict) else {}
    other_hostnames = {f"{svc['route']['subdomain']}.{other.get('domain')}" for svc in other_routes.values()
                       if isinstance(svc, dict) and isinstance(svc.get("route"), dict) and "subdomain" in svc["route"]}
    shared = sorted(other_hostnames & {settings.hostname(s.route) for s in settings.services.values() if s.route})
    if shared:
        problems.append(f"{NAMESPACE}:services: {', '.join(shared)} is also served by {other_stack}; "
                        "every public hostname belongs to one stack")
    return problems


def copied_secret_problems(own_file: Mapping[str, Any], other_stack: str, other_file: Mapping[str, Any]) -> list[str]:
    """A `secure:` value that is byte for byte the other stack's: a secret copied between stacks."""
    def secure(document: Mapping[str, Any]) -> dict[str, str]:
        config = document.get("config") or {}
        return {key: value["secure"] for key, value in config.items() if isinstance(value, dict) and "secure" in value}

    theirs = set(secure(other_file).values())
    return [f"{key}: the same encrypted value as in {other_stack}; set this stack's own with "
            f"`pulumi config set --secret {key} <value>`" for key, value in sorted(secure(own_file).items())
            if value in theirs]


class SettingsError(pulumi.RunError):
    """Invalid stack config. The message lists every problem, each with its setting and fix."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        header = f"stack {stack!r} has {len(problems)} config problem{'s' if len(problems) > 1 else ''}:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


@dataclass(frozen=True)
class LoadedSettings:
    settings: StackSettings
    # secret name -> value, for secrets whose source is `config`; always pulumi secrets.
    config_secrets: Mapping[str, pulumi.Output[str]]
    # The hcloud provider's token (config hcloud:token), for the rollout gate across several servers;
    # None: the gate reads HCLOUD_TOKEN like the provider does.
    hcloud_token: pulumi.Output[str] | None = None


def parse_settings(stack: str, raw: Mapping[str, Any], secret_keys: set[str]) -> tuple[StackSettings, dict[str, str]]:
    """Validate the `preflight:*` config of one stack.

    `raw` maps config keys (without namespace) to decoded values; `secret_keys` names the keys set
    with --secret. Returns the settings and the plain values of config secrets.
    """
    problems = [f"{NAMESPACE}:{key} looks like a secret but is set in plain text; run "
                f"`pulumi config rm {NAMESPACE}:{key} --stack {stack}` then "
                f"`pulumi config set --secret {NAMESPACE}:{key} <value> --stack {stack}`"
                for key in raw if key not in StackSettings.model_fields and looks_secret(key) and key not in secret_keys]
    settings: StackSettings | None = None
    try:
        settings = StackSettings.model_validate({**{k: v for k, v in raw.items() if k in StackSettings.model_fields},
                                                 "stack": stack})
    except ValidationError as error:
        problems.extend(_describe(e, stack) for e in error.errors())
    unknown = sorted(set(raw) - set(StackSettings.model_fields) - _referenced_config_keys(raw))
    problems.extend(f"{NAMESPACE}:{key} is not a known setting; remove it or fix its spelling "
                    f"(known: {_listing(set(StackSettings.model_fields) - {'stack'})})"
                    for key in unknown if not looks_secret(key))
    values: dict[str, str] = {}
    if settings is not None:
        for name, spec in settings.secrets.items():
            if not isinstance(spec, ConfigSecret):
                continue
            command = f"`pulumi config set --secret {NAMESPACE}:{spec.key} <value> --stack {stack}`"
            if raw.get(spec.key) in (None, ""):
                problems.append(f"{NAMESPACE}:{spec.key} (secret {name}) is required but not set; run {command}")
            elif spec.key not in secret_keys:
                if not looks_secret(spec.key):  # otherwise already reported above
                    problems.append(f"{NAMESPACE}:{spec.key} (secret {name}) is set in plain text; run "
                                    f"`pulumi config rm {NAMESPACE}:{spec.key} --stack {stack}` then {command}")
            else:
                values[name] = str(raw[spec.key])
    if problems:
        raise SettingsError(stack, problems)
    assert settings is not None
    return settings, values


def load_settings() -> LoadedSettings:
    """Read this stack's config from the Pulumi engine (the program's only config read)."""
    stack = pulumi.get_stack()
    prefix = f"{NAMESPACE}:"
    all_config = pulumi.runtime.config.CONFIG.get() or pulumi.runtime.config.get_config_env()
    raw = {key[len(prefix):]: _decode(value) for key, value in all_config.items() if key.startswith(prefix)}
    secret_keys = {key[len(prefix):] for key in _secret_config_keys() if key.startswith(prefix)}
    settings, values = parse_settings(stack, raw, secret_keys)
    if stack in SEPARATED_STACKS:
        # Older language hosts do not pass the root directory; the program then runs in it.
        root = pulumi.runtime.get_root_directory() or Path.cwd()
        problems = _separation_from_stack_files(settings, Path(root))
        if problems:
            raise SettingsError(stack, problems)
    token = all_config.get("hcloud:token")
    return LoadedSettings(settings, {name: pulumi.Output.secret(value) for name, value in values.items()},
                          pulumi.Output.secret(token) if token else None)


def _separation_from_stack_files(settings: StackSettings, root: Path) -> list[str]:
    """Compare with the other cloud stack's file beside this one, when there is one."""
    other_stack = SEPARATED_STACKS[settings.stack]
    own_path, other_path = root / f"Pulumi.{settings.stack}.yaml", root / f"Pulumi.{other_stack}.yaml"
    if not other_path.exists():
        return []
    other_file = yaml.safe_load(other_path.read_text()) or {}
    other = {k[len(NAMESPACE) + 1:]: v for k, v in (other_file.get("config") or {}).items()
             if k.startswith(f"{NAMESPACE}:")}
    own_file = yaml.safe_load(own_path.read_text()) or {} if own_path.exists() else {}
    return stack_separation_problems(settings, other_stack, other) + \
        copied_secret_problems(own_file, other_stack, other_file)


def _secret_config_keys() -> set[str]:
    return set(pulumi.runtime.config._SECRET_KEYS.get()) | set(pulumi.runtime.config.get_config_secret_keys_env())


def _referenced_config_keys(raw: Mapping[str, Any]) -> set[str]:
    secrets = raw.get("secrets")
    if not isinstance(secrets, dict):
        return set()
    return {spec["key"] for spec in secrets.values() if isinstance(spec, dict) and isinstance(spec.get("key"), str)}


def _decode(value: Any) -> Any:
    """Structured config arrives as JSON text; scalars arrive as plain strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _at(loc: tuple, template: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError("fix", "@{loc}@" + template, {"loc": ".".join(map(str, loc)), **context})


def _listing(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"


FIXES = {
    "missing": "it is required; add it to Pulumi.{stack}.yaml",
    "extra_forbidden": "it is not a known setting; remove it or fix its spelling",
    "string_pattern_mismatch": "use a value matching {pattern}",
    "literal_error": "use one of: {expected}",
    "union_tag_invalid": "set {discriminator} to one of: {expected_tags}",
    "union_tag_not_found": "set source to generated or config",
}


# pydantic puts the chosen variant of a tagged union into the location (host.hetzner.app_servers);
# the user wrote host.app_servers.
UNION_TAGS = {"host": ("local", "hetzner", "ssh"), "repository": ("volume", "s3")}


def _describe(error: Mapping[str, Any], stack: str) -> str:
    loc: list[str] = []
    for part in map(str, error["loc"]):
        after_secret = len(loc) == 2 and loc[0] == "secrets" and part in ("generated", "config")
        if part.startswith("function-") or after_secret or (loc and part in UNION_TAGS.get(loc[-1], ())):
            continue
        loc.append(part)
    message: str = error["msg"]
    if error["type"] == "fix":
        if message.startswith("@"):
            extra, message = message[1:].split("@", 1)
            loc = extra.split(".")
        return f"{_setting(loc)}: {message}"
    ctx = {k: v for k, v in (error.get("ctx") or {}).items()}
    fix = FIXES.get(error["type"])
    if fix is None:
        got = error.get("input")
        shown = "" if isinstance(got, (dict, list)) or error["type"] == "missing" else f" (got {got!r})"
        return f"{_setting(loc)}: {message[0].lower() + message[1:]}{shown}"
    return f"{_setting(loc)}: {fix.format(stack=stack, **ctx)}"


def _setting(loc: list[str]) -> str:
    return f"{NAMESPACE}:{'.'.join(loc)}" if loc else f"{NAMESPACE} config"
