"""Stack locks left by a process that no longer exists.

A file backend (`file://...`) keeps one JSON file per running update under
`.pulumi/locks/<org>/<project>/<stack>/`, with the pid, user and host of its owner; a killed
`pulumi up` leaves its file behind and every later update of the stack refuses to start. A lock
whose owner is a process of this host that is gone (or whose pid now belongs to a process started
after the lock was taken) is stale and is removed, with a line saying so. Any other lock is left
alone and reported with who holds it, since when, and the command that clears it.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Lock:
    path: Path
    pid: int
    owner: str  # user@host
    hostname: str
    taken: datetime

    def describe(self) -> str:
        return f"pid {self.pid} of {self.owner}, since {self.taken.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def backend_root(backend_url: str) -> Path | None:
    """The directory of a file backend; None for any other backend (the service and cloud buckets
    keep their own house)."""
    parsed = urllib.parse.urlparse(backend_url)
    if parsed.scheme != "file":
        return None
    return Path(urllib.parse.unquote(parsed.path)).expanduser()


def lock_directory(backend_url: str, project: str, stack: str) -> Path | None:
    """Where a file backend keeps the stack's locks."""
    root = backend_root(backend_url)
    return None if root is None else root / ".pulumi" / "locks" / "organization" / project / stack


def read_locks(directory: Path) -> list[Lock]:
    locks = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            content = json.loads(path.read_text())
            taken = datetime.fromisoformat(content["timestamp"].replace("Z", "+00:00"))
            locks.append(Lock(path, int(content["pid"]), f"{content.get('username', '?')}@{content['hostname']}",
                              content["hostname"], taken))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a lock we can judge: left for the engine to report
    return locks


def process_started(pid: int) -> datetime | None:
    """When the live process with this pid started (Linux /proc), or None if there is none. A zombie
    (killed, not yet reaped: where PID 1 does not reap, it stays so) is not alive."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, IndexError, StopIteration, ValueError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return datetime.fromtimestamp(boot + int(fields[19]) / os.sysconf("SC_CLK_TCK"), tz=UTC)


def is_stale(lock: Lock, hostname: str | None = None) -> bool:
    """The owner was a process of this host and is gone: no process has its pid, or the one that
    has it started after the lock was taken (the pid was reused)."""
    if lock.hostname != (hostname or socket.gethostname()):
        return False
    started = process_started(lock.pid)
    return started is None or started > lock.taken


def clear_stale_locks(backend_url: str, project: str, stack: str, report: Callable[[str], None]) -> list[Lock]:
    """Removes the stale locks of the stack; returns the locks still held (reported)."""
    directory = lock_directory(backend_url, project, stack)
    if directory is None:
        return []
    held = []
    for lock in read_locks(directory):
        if is_stale(lock):
            lock.path.unlink(missing_ok=True)
            report(f"removed the lock of stack {stack} left by {lock.describe()}: that process no longer exists "
                   f"(an interrupted update)")
        else:
            held.append(lock)
            report(f"stack {stack} is locked by {lock.describe()}; if that update is no longer running, clear the "
                   f"lock with `pulumi cancel --stack {stack} --yes`")
    return held
