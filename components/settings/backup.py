"""Backups: the restic job, its repository, retention and restore checks (every stack has one)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ..setting_types import ImageRef, Name, Strict
from ..transport import plain_http_repository
from .errors import fix

# How long past its interval a backup may be before the job is unhealthy and the alert fires.
GRACE_S = 600


class VolumeRepository(Strict):
    """A Docker volume on the host (local stack): proves the mechanics, not off-site safety."""

    kind: Literal["volume"] = "volume"


class S3Repository(Strict):
    """S3-compatible object storage (Hetzner Object Storage), credentials from config secrets."""

    kind: Literal["s3"]
    url: str = Field(pattern=r"^s3:https?://[^/\s]+/[^\s]+$", description="restic repository, s3:https://host/bucket/path")
    access_key_id_secret: Name = Field(description="name in preflight:secrets")
    secret_access_key_secret: Name = Field(description="name in preflight:secrets")

    @field_validator("url")
    @classmethod
    def _over_https(cls, url: str) -> str:
        host = plain_http_repository(url)
        if host:
            raise fix("the backups would travel to {host} in plain HTTP (keys, and what an attacker may replace); use "
                      "s3:https://{host}/...", host=host)
        return url


class Retention(Strict):
    hourly: int = Field(24, ge=0, le=1000)
    daily: int = Field(7, ge=0, le=1000)
    weekly: int = Field(4, ge=0, le=1000)

    @model_validator(mode="after")
    def _keeps_something(self) -> Retention:
        if self.hourly + self.daily + self.weekly == 0:
            raise fix("the retention keeps no snapshot at all; keep at least one hourly, daily or weekly")
        return self


class RestoreChecks(Strict):
    """What a restore drill verifies in the restored copy."""

    tables: list[str] = Field(default_factory=list, description="tables that must exist")
    min_rows: dict[str, int] = Field(default_factory=dict, description="table -> fewest rows expected")
    migrations_table: str = "schema_migrations"


# The backup job's own limits (not a setting): the capacity check counts them on the data server.
BACKUP_JOB_MEMORY_MB, BACKUP_JOB_CPUS = 256, 0.5


class BackupSettings(Strict):
    image: ImageRef = "preflight-local/backup:1"
    interval_s: int | None = Field(None, ge=300, le=7 * 86400,
                                      description="default: hourly in production, daily elsewhere")
    retention: Retention = Retention()
    repository: Annotated[VolumeRepository | S3Repository, Field(discriminator="kind")] = VolumeRepository()
    password_secret: Name | None = Field(
        None, description="name in preflight:secrets; default: generated and kept (encrypted) in the stack's state")
    checks: RestoreChecks = RestoreChecks()
