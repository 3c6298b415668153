"""A rule's message names the setting to change; that setting must exist (issue 33, item 11: a
message sent users to `host.ssh_public_keys`, which no model has)."""

from __future__ import annotations

import re
import typing

import pytest
from pydantic import BaseModel

from components.settings import ServiceSettings, StackSettings

from .harness import POLICIES

SETTING = re.compile(r"settings: ([a-z_]+(?:\.(?:[a-z_]+|<name>))+)")
NAMED = sorted({m for path in (POLICIES / "rules").glob("*.py") for m in SETTING.findall(path.read_text())})


def models_of(annotation) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation can hold (unions, Annotated, dict values, Optional)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in models_of(arg)]


def resolves(path: list[str], models: list[type[BaseModel]]) -> bool:
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head == "<name>":
        return resolves(rest, models)
    fields = [m.model_fields[head] for m in models if head in m.model_fields]
    return bool(fields) and (not rest or any(resolves(rest, models_of(f.annotation)) for f in fields))


def test_rules_name_settings_at_all():
    assert "host.ssh_keys" in NAMED and len(NAMED) >= 5


@pytest.mark.parametrize("setting", NAMED)
def test_every_setting_a_message_names_exists(setting):
    # Top-level sections, or a service's own settings (healthcheck.command, limits.memory_mb).
    assert resolves(setting.split("."), [StackSettings]) or resolves(setting.split("."), [ServiceSettings]), setting
