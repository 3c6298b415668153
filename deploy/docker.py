"""The docker CLI against one of a stack's engines."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.remote_exec import docker_argv


class DockerError(RuntimeError):
    """A docker command failed; the message is what it printed, `returncode` its exit code."""

    def __init__(self, message: str, returncode: int):
        super().__init__(message)
        self.returncode = returncode


@dataclass(frozen=True)
class Docker:
    """One engine: its DOCKER_HOST (a server's over SSH, trusting its pinned host key)."""

    host: str
    ssh_options: tuple[str, ...] = ()

    @classmethod
    def of(cls, operations: Mapping[str, Any]) -> Docker:
        """The data server's engine, from the stack's `operations` output."""
        return cls(operations["docker_host"], tuple(operations.get("ssh_options") or ()))

    def argv(self, *args: str) -> list[str]:
        return docker_argv(self.host, args, self.ssh_options)

    def run(self, *args: str, input: str | bytes | None = None, check: bool = True,
            timeout: float | None = None) -> subprocess.CompletedProcess:
        """check: a non-zero exit raises DockerError."""
        raw = subprocess.run(self.argv(*args), capture_output=True, timeout=timeout,
                             input=input.encode() if isinstance(input, str) else input)
        result = subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode(errors="replace"),
                                             raw.stderr.decode(errors="replace"))
        if check and result.returncode != 0:
            raise DockerError((result.stderr or result.stdout).strip() or f"docker {args[0]} failed", result.returncode)
        return result
