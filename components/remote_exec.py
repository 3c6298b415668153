"""Commands on a stack's Docker hosts, from the program (dynamic resources) and from `deploy`:
the docker CLI against a local engine, or over SSH on a server (`ssh ... docker ...`), trusting
exactly the server's pinned host key.

Every SSH connection Preflight makes uses `pinned_options`: the server's public host key (which
the program generated and handed to cloud-init) is the only key ssh accepts for it; no
known_hosts file is read or written, and there is no trust on first use.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from urllib.parse import urlsplit

BASE_OPTIONS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15"]


def pinned_options(public_key: str) -> list[str]:
    """ssh options that trust `public_key` ("ssh-ed25519 AAAA...") and nothing else for the host
    they connect to: a server presenting another key is refused ("Host key verification failed")."""
    key_type, key_data = public_key.split()[:2]
    return [*BASE_OPTIONS, "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", f"HostKeyAlgorithms={key_type}",
            "-o", f"KnownHostsCommand=/bin/echo %H {key_type} {key_data}"]


def key_mismatch(ssh_output: str) -> bool:
    """ssh refused the server because it presented another host key than the pinned one."""
    return "REMOTE HOST IDENTIFICATION HAS CHANGED" in ssh_output or "Host key verification failed" in ssh_output


def ssh_argv(target: str, remote_command: Sequence[str], ssh_options: Sequence[str], port: int | None = None) -> list[str]:
    """`remote_command` run on `target` (user@host); the remote shell gets it quoted as one line."""
    # Dynamic providers get numbers back from the engine as floats (22.0).
    return ["ssh", *ssh_options, *(["-p", str(int(port))] if port else []), target, shlex.join(remote_command)]


def docker_argv(docker_host: str, args: Sequence[str], ssh_options: Sequence[str] = ()) -> list[str]:
    """The docker CLI with `args` against `docker_host` (unix://, tcp:// or ssh://user@host[:port])."""
    url = urlsplit(docker_host)
    if url.scheme == "ssh":
        target = f"{url.username}@{url.hostname}" if url.username else str(url.hostname)
        return ssh_argv(target, ["docker", *args], ssh_options, url.port)
    return ["docker", "--host", docker_host, *args]


def exec_argv(docker_host: str, container: str, command: Sequence[str], ssh_options: Sequence[str] = ()) -> list[str]:
    """`command` run in `container` on `docker_host`, stdin passed through."""
    return docker_argv(docker_host, ["exec", "-i", container, *command], ssh_options)


def exec_in_container(docker_host: str, container: str, command: Sequence[str], *, stdin: str = "",
                      ssh_options: Sequence[str] = (), timeout_s: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(exec_argv(docker_host, container, command, ssh_options), input=stdin, capture_output=True,
                          text=True, timeout=timeout_s)
