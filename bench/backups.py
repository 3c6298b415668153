"""Backup and restore-drill durations of the deployed `local` stack with a generated database.

    .venv/bin/python -m bench.backups [--mb 300] [--runs 3]

Fills a table with about --mb megabytes of incompressible rows (pgcrypto), then times `backup`
and `restore-drill` (the drill's RTO: scratch database up, restored, checked) --runs times and
prints medians with min and max, the dump's size in the repository and the database's size.
The table is dropped at the end (the snapshots stay until the retention thins them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from deploy import backups, stack

ROOT = Path(__file__).resolve().parent.parent

ROW_BYTES = 1024


def psql(docker: backups.Docker, container: str, sql: str) -> str:
    return docker.run("exec", container, "psql", "-U", "app", "-d", "app", "-tAc", sql).stdout.strip()


def summary(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} s (min {min(samples):.1f}, max {max(samples):.1f})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ops = stack.operations(stack.select("local"))
    docker, database, job = backups.Docker.of(ops), ops["database_container"], ops["backup_container"]
    rows = args.mb * 1024 * 1024 // ROW_BYTES
    print(f"[bench] generating {rows} rows (~{args.mb} MB)", file=sys.stderr)
    psql(docker, database, "CREATE EXTENSION IF NOT EXISTS pgcrypto; DROP TABLE IF EXISTS bench_payload; "
                           "CREATE TABLE bench_payload (id bigint PRIMARY KEY, payload text)")
    psql(docker, database, f"INSERT INTO bench_payload SELECT g, encode(gen_random_bytes({ROW_BYTES * 3 // 4}), "
                           f"'base64') FROM generate_series(1, {rows}) g")
    database_size = psql(docker, database, "SELECT pg_size_pretty(pg_database_size('app'))")
    timings: dict[str, list[float]] = {"backup": [], "drill": []}
    rto: list[float] = []
    try:
        for run in range(args.runs):
            started = time.perf_counter()
            backups.backup_now(docker, job)
            timings["backup"].append(time.perf_counter() - started)
            started = time.perf_counter()
            report = backups.restore_drill(docker, ops, progress=lambda _: None)
            timings["drill"].append(time.perf_counter() - started)
            rto.append(report.rto_s)
            print(f"[bench] run {run + 1}: backup {timings['backup'][-1]:.1f}s, drill {timings['drill'][-1]:.1f}s",
                  file=sys.stderr)
        stats = json.loads(docker.run("exec", job, "restic", "stats", "latest", "--mode", "raw-data", "--json").stdout)
        restored = json.loads(docker.run("exec", job, "restic", "stats", "latest", "--json").stdout)
    finally:
        psql(docker, database, "DROP TABLE IF EXISTS bench_payload")
    print(f"| backups of local, database {database_size} ({args.runs} runs) | median |\n| --- | --- |")
    print(f"| backup (pg_dump + restic + retention) | {summary(timings['backup'])} |")
    print(f"| restore drill, whole command | {summary(timings['drill'])} |")
    print(f"| RTO reported by the drill | {summary(rto)} |")
    print(f"| newest snapshot: dump size / stored in the repository | "
          f"{restored['total_size'] / 1e6:.0f} MB / {stats['total_size'] / 1e6:.0f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
