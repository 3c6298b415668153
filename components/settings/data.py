"""The database and the cache."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ..setting_types import ImageRef, Name, Strict
from .common import CheckCommand, Limits
from .errors import fix


class DatabaseSettings(Strict):
    image: ImageRef = "postgres:16.4-bookworm"
    name: Name = "app"
    user: Name = "app"
    max_connections: int = Field(100, ge=10, le=5000)
    pool_size: int = Field(10, ge=1, le=500, description="connections each service process may hold")
    limits: Limits = Limits(memory_mb=512, cpus=1.0)
    healthcheck_command: CheckCommand | None = Field(None, description="default: pg_isready")


class CacheSettings(Strict):
    image: ImageRef = "redis:7.4-bookworm"
    maxmemory_mb: int = Field(128, ge=8)
    maxmemory_policy: Literal["noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu"] = "noeviction"
    holds_data: bool = Field(False, description="Redis is a cache unless this says it holds data: then it is backed up")
    limits: Limits = Limits(memory_mb=256, cpus=0.5)

    @model_validator(mode="after")
    def _fits_in_limit(self) -> CacheSettings:
        if self.maxmemory_mb >= self.limits.memory_mb:
            raise fix("maxmemory_mb ({got}) must be below limits.memory_mb ({limit}) or Redis is killed before it "
                      "evicts; lower maxmemory_mb or raise limits.memory_mb", got=self.maxmemory_mb,
                      limit=self.limits.memory_mb)
        return self
