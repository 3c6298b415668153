"""One stack's settings: every section, and the checks across them (checks.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..cloud_settings import EdgeSettings
from ..setting_types import Domain, Name, Strict
from .backup import BackupSettings
from .checks import CHECKS
from .data import CacheSettings, DatabaseSettings
from .host import HostSettings
from .monitoring import MonitoringSettings
from .proxy import ProxySettings
from .secrets import SecretSpec
from .services import Route, ServiceSettings, service_start_order


class StackSettings(Strict):
    stack: str
    environment: Literal["production", "staging", "local"]
    domain: Domain
    host: HostSettings
    edge: EdgeSettings | None = None
    monitoring: MonitoringSettings = MonitoringSettings()
    database: DatabaseSettings = DatabaseSettings()
    cache: CacheSettings = CacheSettings()
    proxy: ProxySettings = ProxySettings()
    backup: BackupSettings = BackupSettings()
    services: dict[Name, ServiceSettings] = Field(min_length=1)
    secrets: dict[Name, SecretSpec] = {}

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        for check in CHECKS:
            check(self)
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
