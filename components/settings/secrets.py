"""Declared secrets: generated (kept in the state) or set as Pulumi config secrets."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ..platform_secrets import ALWAYS_RESERVED
from ..setting_types import Strict

# Secrets the platform generates and wires itself; users reference them, never declare them.
PLATFORM_SECRETS = ALWAYS_RESERVED


class GeneratedSecret(Strict):
    source: Literal["generated"] = "generated"
    length: int = Field(48, ge=32, le=256)


class ConfigSecret(Strict):
    """A value only a human can provide (an API key); set with `pulumi config set --secret`."""

    source: Literal["config"]
    key: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


SecretSpec = Annotated[GeneratedSecret | ConfigSecret, Field(discriminator="source")]
