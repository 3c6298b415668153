"""Secrets by name: generated once by the program (kept in state), or provided as Pulumi config secrets.

Every value handed out is a Pulumi secret, so it is encrypted in state and masked in output.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from .generated import GeneratedPassword
from .settings import ConfigSecret, GeneratedSecret, SecretSpec


class Secrets(pulumi.ComponentResource):
    def __init__(self, name: str, specs: Mapping[str, SecretSpec], config_values: Mapping[str, pulumi.Output[str]],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:index:Secrets", name, None, opts)
        self._values: dict[str, pulumi.Output[str]] = {}
        for secret_name, spec in sorted(specs.items()):
            if isinstance(spec, GeneratedSecret):
                password = GeneratedPassword(f"{name}-{secret_name}", spec.length,
                                             opts=pulumi.ResourceOptions(parent=self))
                self._values[secret_name] = pulumi.Output.secret(password.result)
            elif isinstance(spec, ConfigSecret):
                self._values[secret_name] = pulumi.Output.secret(config_values[secret_name])
        self.register_outputs({})

    def value(self, secret_name: str) -> pulumi.Output[str]:
        return self._values[secret_name]

    @property
    def names(self) -> list[str]:
        return sorted(self._values)
