"""Backups of a deployed stack: take one now, drill a restore into a scratch database, restore live.

Everything runs through the stack's own backup job (which holds the repository's password and
credentials) and the `docker` CLI pointed at the stack's Docker engine.
"""

from __future__ import annotations

import datetime
import io
import json
import secrets
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .docker import Docker, DockerError  # noqa: F401  (Docker: part of this module's interface)
from .exit_codes import Exit

WORK = "/var/lib/preflight-backup/work"
EXIT_WRONG_PASSWORD = Exit.WRONG_PASSWORD


class BackupError(RuntimeError):
    """A backup operation failed; the message says what happened and what to do."""

    def __init__(self, message: str, exit_code: int = Exit.FAILED):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Snapshot:
    id: str
    time: datetime.datetime
    tags: tuple[str, ...] = ()

    @property
    def age_s(self) -> float:
        return (datetime.datetime.now(datetime.UTC) - self.time).total_seconds()


def parse_time(text: str) -> datetime.datetime:
    # restic writes nanoseconds and a zone offset: 2026-11-22T01:58:22.123456789+00:00
    head, _, zone = text.partition("+") if "+" in text[19:] else (text.rstrip("Z"), "", "00:00")
    head = head[:26]
    return datetime.datetime.fromisoformat(f"{head}+{zone or '00:00'}")


def snapshots(docker: Docker, job: str) -> list[Snapshot]:
    listed = json.loads(docker.run("exec", job, "preflight-backup", "snapshots").stdout or "[]")
    return sorted((Snapshot(s["short_id"], parse_time(s["time"]), tuple(s.get("tags") or ())) for s in listed),
                  key=lambda s: s.time)


def backup_now(docker: Docker, job: str) -> Snapshot:
    docker.run("exec", job, "preflight-backup", "once")
    return [s for s in snapshots(docker, job) if "preflight" in s.tags][-1]


@dataclass
class DrillReport:
    snapshot: Snapshot
    rto_s: float
    checks: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        status = "PASSED" if not self.failures else "FAILED"
        return [f"restore drill {status}: snapshot {self.snapshot.id} taken {self.snapshot.time:%Y-%m-%d %H:%M:%S} UTC",
                f"  RPO (age of the newest snapshot): {self.snapshot.age_s:.0f}s",
                f"  RTO (scratch database up, restored, checked): {self.rto_s:.1f}s",
                *(f"  {name}: {value}" for name, value in self.checks.items()),
                *(f"  problem: {failure}" for failure in self.failures)]


def _psql(docker: Docker, container: str, sql: str) -> str:
    return docker.run("exec", container, "psql", "-U", "drill", "-d", "drill", "-tAc", sql).stdout.strip()


def _wait_ready(docker: Docker, container: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if docker.run("exec", container, "pg_isready", "-h", "127.0.0.1", "-U", "drill", "-d", "drill",
                      check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise BackupError(f"the scratch database {container} did not start within {timeout_s:.0f}s: "
                      f"{docker.run('logs', container, check=False).stderr[-500:]}")


def restore_drill(docker: Docker, ops: dict[str, Any], progress: Callable[[str], None] = print) -> DrillReport:
    """Restore the newest snapshot into a scratch Postgres (never the live one), check it, time it."""
    job = ops["backup_container"]
    available = [s for s in snapshots(docker, job) if "preflight" in s.tags]
    if not available:
        raise BackupError("the repository has no snapshot yet; run `python -m deploy backup STACK` first")
    snapshot = available[-1]
    scratch = f"preflight-restore-drill-{secrets.token_hex(3)}"
    password = secrets.token_hex(16)
    started = time.monotonic()
    progress(f"starting scratch database {scratch}")
    docker.run("create", "--name", scratch, "--network", ops["internal_network"], "--network-alias", scratch,
               "-e", "POSTGRES_USER=drill", "-e", "POSTGRES_DB=drill", "-e", "POSTGRES_PASSWORD_FILE=/tmp/pw",
               "--label", "preflight.role=restore-drill", ops["database_image"], "postgres")
    try:
        docker.run("cp", "-", f"{scratch}:/tmp", input=tar_of({"pw": password}))
        docker.run("start", scratch)
        _wait_ready(docker, scratch)
        progress(f"restoring snapshot {snapshot.id}")
        url_file = f"{WORK}/{scratch}.url"
        docker.run("exec", "-i", job, "sh", "-c", f"mkdir -p {WORK} && cat > {url_file}",
                   input=f"postgresql://drill:{password}@{scratch}:5432/drill")
        try:
            docker.run("exec", job, "preflight-backup", "restore", snapshot.id, url_file)
        finally:
            docker.run("exec", job, "rm", "-f", url_file, check=False)
        report = DrillReport(snapshot, 0.0)
        check_restored(docker, scratch, ops.get("restore_checks") or {}, report)
        report.rto_s = time.monotonic() - started
        if not report.failures:  # kept where the monitoring reads it (RestoreDrillStale)
            docker.run("exec", job, "preflight-backup", "drill-passed", check=False)
        return report
    finally:
        docker.run("rm", "-f", "-v", scratch, check=False)


def check_restored(docker: Docker, scratch: str, checks: dict[str, Any], report: DrillReport) -> None:
    tables = set(_psql(docker, scratch, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split())
    report.checks["tables"] = ", ".join(sorted(tables)) or "none"
    for table in checks.get("tables") or []:
        if table not in tables:
            report.failures.append(f"table {table} is missing from the restored copy")
    for table, floor in (checks.get("min_rows") or {}).items():
        rows = int(_psql(docker, scratch, f'SELECT count(*) FROM "{table}"') or 0) if table in tables else 0
        report.checks[f"rows in {table}"] = rows
        if rows < floor:
            report.failures.append(f"{table} has {rows} rows, fewer than {floor}")
    migrations = checks.get("migrations_table") or "schema_migrations"
    if migrations in tables:
        report.checks["migration version"] = _psql(docker, scratch, f'SELECT max(version) FROM "{migrations}"')


def restore_live(docker: Docker, ops: dict[str, Any], snapshot_id: str,
                 progress: Callable[[str], None] = print) -> Snapshot:
    """Restore `snapshot_id` into the live database, after taking a fresh safety backup."""
    job = ops["backup_container"]
    known = {s.id for s in snapshots(docker, job)}
    if snapshot_id != "latest" and snapshot_id not in known:
        raise BackupError(f"no snapshot {snapshot_id}; `python -m deploy snapshots STACK` lists them")
    progress("taking a safety backup of the live database first (kept outside the retention)")
    docker.run("exec", job, "preflight-backup", "safety")
    safety = snapshots(docker, job)[-1]
    progress(f"safety backup: snapshot {safety.id}; restoring {snapshot_id}")
    docker.run("exec", job, "preflight-backup", "restore", snapshot_id, "/run/secrets/database_url")
    return safety


def tar_of(files: Mapping[str, str]) -> bytes:
    """A tar archive of read-only files (name -> text), for `docker cp -` (which reads a tar stream)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o444
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
