"""Reading one stack's config: from the Pulumi engine (the program's only config read) or as given
(tests), validated once into StackSettings; every problem at once, as a SettingsError."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pydantic import ValidationError

from ..secret_names import looks_secret
from .errors import NAMESPACE, SettingsError, describe, listing
from .secrets import ConfigSecret
from .separation import SEPARATED_STACKS, separation_from_stack_files
from .stack import StackSettings


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
        problems.extend(describe(e, stack) for e in error.errors())
    unknown = sorted(set(raw) - set(StackSettings.model_fields) - _referenced_config_keys(raw))
    problems.extend(f"{NAMESPACE}:{key} is not a known setting; remove it or fix its spelling "
                    f"(known: {listing(set(StackSettings.model_fields) - {'stack'})})"
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
        problems = separation_from_stack_files(settings, Path(root))
        if problems:
            raise SettingsError(stack, problems)
    token = all_config.get("hcloud:token")
    return LoadedSettings(settings, {name: pulumi.Output.secret(value) for name, value in values.items()},
                          pulumi.Output.secret(token) if token else None)


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
