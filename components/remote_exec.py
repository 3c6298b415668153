"""Running a command inside a container on a stack's Docker host, from the program itself (dynamic
resources): `docker exec` on a local engine, or over SSH on a server (`ssh ... docker exec`),
with the same SSH options the Docker provider uses."""

from __future__ import annotations

import shlex
import subprocess
from typing import Sequence
from urllib.parse import urlsplit

SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=10"]


def exec_argv(docker_host: str, container: str, command: Sequence[str]) -> list[str]:
    """The argv that runs `command` in `container` (stdin passed through) on `docker_host`."""
    inner = ["docker", "exec", "-i", container, *command]
    url = urlsplit(docker_host)
    if url.scheme == "ssh":
        target = f"{url.username}@{url.hostname}" if url.username else str(url.hostname)
        port = ["-p", str(url.port)] if url.port else []
        return ["ssh", *SSH_OPTIONS, *port, target, shlex.join(inner)]
    return ["docker", "--host", docker_host, *inner[1:]]


def exec_in_container(docker_host: str, container: str, command: Sequence[str], *, stdin: str = "",
                      timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(exec_argv(docker_host, container, command), input=stdin, capture_output=True, text=True,
                          timeout=timeout_s)
