"""Secrets by name: generated with pulumi-random, or provided as Pulumi config secrets.

Every value handed out is a Pulumi secret, so it is encrypted in state and masked in output.
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_random as random

from .settings import ConfigSecret, GeneratedSecret, SecretSpec


class Secrets(pulumi.ComponentResource):
    def __init__(self, name: str, specs: Mapping[str, SecretSpec], config_values: Mapping[str, pulumi.Output[str]],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("preflight:index:Secrets", name, None, opts)
        self._values: dict[str, pulumi.Output[str]] = {}
        for secret_name, spec in sorted(specs.items()):
            if isinstance(spec, GeneratedSecret):
                # Alphanumeric only: the values end up inside connection URLs.
                password = random.RandomPassword(f"{name}-{secret_name}", length=spec.length, special=False,
                                                 min_lower=1, min_upper=1, min_numeric=1,
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
