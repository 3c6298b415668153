"""production and staging share nothing: each is compared with the other's stack file as it is."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..cloud_settings import HetznerHost
from ..ssh_settings import SshHost
from .backup import S3Repository
from .errors import NAMESPACE
from .stack import StackSettings

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
        theirs = {str(s.get("address")) for s in other_host.get("servers") or [] if isinstance(s, dict)} | \
            {str(other_host.get("load_balancer_address"))}
        ours = {server.address for server in settings.host.servers} | {settings.host.load_balancer_address or ""}
        shared_servers = sorted(theirs & ours - {"", "None"})
        if shared_servers:
            problems.append(f"{NAMESPACE}:host.servers: {', '.join(shared_servers)} is also a server of {other_stack}; "
                            "production and staging never share a server")
    problems += shared_backup_repository(settings, other_stack, other)
    other_routes: dict[str, Any] = other["services"] if isinstance(other.get("services"), dict) else {}
    other_hostnames = {f"{svc['route']['subdomain']}.{other.get('domain')}" for svc in other_routes.values()
                       if isinstance(svc, dict) and isinstance(svc.get("route"), dict) and "subdomain" in svc["route"]}
    shared = sorted(other_hostnames & {settings.hostname(s.route) for s in settings.services.values() if s.route})
    if shared:
        problems.append(f"{NAMESPACE}:services: {', '.join(shared)} is also served by {other_stack}; "
                        "every public hostname belongs to one stack")
    return problems


def repository_place(url: str) -> tuple[str, list[str]]:
    """'s3:https://Host/bucket/a/b' -> ('host', ['bucket', 'a', 'b']): where a restic repository lives."""
    address = url.removeprefix("s3:").split("://", 1)[-1]
    host, _, path = address.partition("/")
    return host.lower(), [part for part in path.split("/") if part]


def shared_backup_repository(settings: StackSettings, other_stack: str, other: Mapping[str, Any]) -> list[str]:
    """The same bucket and path (or one repository inside the other's): one stack's restore, prune or
    wrong password reaches the other's backups."""
    ours = settings.backup.repository
    backup: Mapping[str, Any] = other["backup"] if isinstance(other.get("backup"), dict) else {}
    theirs: Mapping[str, Any] = backup["repository"] if isinstance(backup.get("repository"), dict) else {}
    if not isinstance(ours, S3Repository) or not isinstance(theirs.get("url"), str):
        return []
    (host, path), (other_host, other_path) = repository_place(ours.url), repository_place(theirs["url"])
    shortest = min(len(path), len(other_path))
    if host == other_host and path[:shortest] == other_path[:shortest]:
        return [f"{NAMESPACE}:backup.repository.url: {ours.url} is {other_stack}'s backup repository "
                f"({theirs['url']}) or lies inside it; give each stack its own bucket or path "
                f"(e.g. .../{path[0] if path else 'bucket'}/preflight-{settings.stack})"]
    return []


def copied_secret_problems(own_file: Mapping[str, Any], other_stack: str, other_file: Mapping[str, Any]) -> list[str]:
    """A `secure:` value that is byte for byte the other stack's: a secret copied between stacks."""
    def secure(document: Mapping[str, Any]) -> dict[str, str]:
        config = document.get("config") or {}
        return {key: value["secure"] for key, value in config.items() if isinstance(value, dict) and "secure" in value}

    theirs = set(secure(other_file).values())
    return [f"{key}: the same encrypted value as in {other_stack}; set this stack's own with "
            f"`pulumi config set --secret {key} <value>`" for key, value in sorted(secure(own_file).items())
            if value in theirs]


def separation_from_stack_files(settings: StackSettings, root: Path) -> list[str]:
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
