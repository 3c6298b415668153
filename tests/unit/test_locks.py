"""Stack locks of a file backend: a lock left by a dead process of this host is removed, any other
lock stays and is reported with the command that clears it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from deploy.locks import clear_stale_locks, lock_directory

NOW = datetime.now(UTC)


def write_lock(backend: Path, name: str, pid: int, hostname: str, taken: datetime) -> Path:
    directory = lock_directory(f"file://{backend}", "preflight", "local")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"pid": pid, "username": "ci", "hostname": hostname,
                                "timestamp": taken.isoformat().replace("+00:00", "Z")}))
    return path


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def clear(backend: Path) -> tuple[list, list[str]]:
    lines: list[str] = []
    return clear_stale_locks(f"file://{backend}", "preflight", "local", lines.append), lines


def test_a_lock_left_by_a_process_of_this_host_that_is_gone_is_removed(tmp_path):
    path = write_lock(tmp_path, "a", dead_pid(), socket.gethostname(), NOW)
    held, lines = clear(tmp_path)
    assert held == [] and not path.exists()
    assert "removed the lock of stack local" in lines[0] and "no longer exists" in lines[0]


def test_a_lock_whose_pid_now_belongs_to_a_younger_process_is_removed(tmp_path):
    # This test's own pid, but the lock was taken before this process started: the pid was reused.
    path = write_lock(tmp_path, "a", os.getpid(), socket.gethostname(), NOW - timedelta(days=30))
    held, _ = clear(tmp_path)
    assert held == [] and not path.exists()


def test_a_lock_held_by_a_live_process_stays_and_names_who_and_how_to_clear_it(tmp_path):
    path = write_lock(tmp_path, "a", os.getpid(), socket.gethostname(), NOW)
    held, lines = clear(tmp_path)
    assert [lock.pid for lock in held] == [os.getpid()] and path.exists()
    assert f"pid {os.getpid()} of ci@{socket.gethostname()}, since" in lines[0]
    assert "pulumi cancel --stack local --yes" in lines[0]


def test_a_lock_of_another_host_stays(tmp_path):
    path = write_lock(tmp_path, "a", dead_pid(), "ci-runner-7", NOW - timedelta(hours=2))
    held, lines = clear(tmp_path)
    assert len(held) == 1 and path.exists() and "ci@ci-runner-7" in lines[0]


def test_other_backends_are_left_to_themselves(tmp_path):
    assert lock_directory("https://api.pulumi.com", "preflight", "local") is None
    assert lock_directory("s3://bucket", "preflight", "local") is None
    assert clear_stale_locks("s3://bucket", "preflight", "local", print) == []


def test_a_checkpoint_attribute_file_a_killed_write_left_empty_is_rewritten_from_its_checkpoint(tmp_path):
    # Seen for real: the CLI killed while gocloud's fileblob wrote local.json.attrs (not atomic);
    # every later command then failed with `failed to load checkpoint: EOF`.
    from deploy.checkpoints import repair

    stacks = tmp_path / ".pulumi" / "stacks" / "preflight"
    stacks.mkdir(parents=True)
    (stacks / "local.json").write_text('{"version": 3}')
    (stacks / "local.json.attrs").write_text("")
    whole = '{"user.content_type":"text/plain; charset=utf-8","md5":"x"}'
    (stacks / "local.json.bak").write_text("{}")
    (stacks / "local.json.bak.attrs").write_text(whole)
    lines: list[str] = []
    repaired = repair(f"file://{tmp_path}", "preflight", "local", lines.append)
    assert [p.name for p in repaired] == ["local.json.attrs"] and "left empty by an interrupted update" in lines[0]
    assert json.loads((stacks / "local.json.attrs").read_text())["md5"] == "yIZccQFoWD3MO8TNidxqIA=="
    assert (stacks / "local.json.bak.attrs").read_text() == whole  # a whole one is left as it is
