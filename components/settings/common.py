"""What several sections share: resource limits and healthchecks of a container."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from ..check_commands import cannot_fail
from ..setting_types import Strict
from .errors import fix


def _tests_something(command: list[str]) -> list[str]:
    if cannot_fail(command):
        raise fix("{command} exits 0 whatever the service does (true, exit 0, echo, sleep, `|| true`): it tests "
                  "nothing; run a command that fails when the service does, e.g. [wget, -q, -O, /dev/null, "
                  "http://127.0.0.1:<port>/health]", command=command)
    return command


# A check's exec-form command: one that can fail (issue 33: a check that cannot fail is no check).
CheckCommand = Annotated[list[str], Field(min_length=1), AfterValidator(_tests_something)]


class Limits(Strict):
    memory_mb: int = Field(256, ge=16, le=262144)
    cpus: float = Field(0.5, gt=0, le=64)


class Healthcheck(Strict):
    """Exec-form command run inside the container; exit 0 means healthy."""

    command: CheckCommand
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
