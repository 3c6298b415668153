"""What monitoring costs on the local stack: a fresh `up` with and without it (copies of the local
stack, one after the other), then each monitoring container's memory and CPU at rest (docker stats,
sampled after a settling minute), against what its limits reserve and a cx22's 4 GB and 2 vCPUs.

    .venv/bin/python -m bench.monitoring_cost [--runs 3] [--settle 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import copy_project, free_port, summary

CX22_MEMORY_MB, CX22_CPUS = 4096, 2


def fresh_up(monitoring: bool) -> tuple[float, Path, dict[str, str]]:
    scratch = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))

    def change(config):
        config["preflight:proxy"].update(https_port=free_port(), http_port=free_port())
        config["preflight:monitoring"] = {"enabled": monitoring}

    env = copy_project(scratch, change)
    started = time.perf_counter()
    subprocess.run(["pulumi", "up", "--stack", "local", "--yes", "--skip-preview", "--non-interactive"], cwd=scratch,
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - started, scratch, env


def destroy(scratch: Path, env: dict[str, str]) -> None:
    subprocess.run(["pulumi", "destroy", "--stack", "local", "--yes", "--skip-preview", "--non-interactive"],
                   cwd=scratch, env=env, check=True, capture_output=True)


def monitoring_stats(scratch: Path, env: dict[str, str]) -> list[dict]:
    exported = json.loads(subprocess.run(["pulumi", "stack", "export", "--stack", "local"], cwd=scratch, env=env,
                                         check=True, capture_output=True, text=True).stdout)
    containers = [r["outputs"] for r in exported["deployment"]["resources"]
                  if r["type"] == "docker:index/container:Container" and "-monitoring-" in r["urn"]]
    names = [c["name"] for c in containers]
    limits = {c["name"]: (c.get("memory") or 0, float(c.get("cpus") or 0)) for c in containers}
    stats = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{json .}}", *names], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    rows = []
    for line in stats:
        entry = json.loads(line)
        used = entry["MemUsage"].split("/")[0].strip()
        rows.append({"name": entry["Name"], "memory_mb": to_mb(used), "cpu_percent": float(entry["CPUPerc"].rstrip("%")),
                     "limit_mb": limits[entry["Name"]][0], "limit_cpus": limits[entry["Name"]][1]})
    return rows


def to_mb(text: str) -> float:
    for unit, factor in (("GiB", 1024), ("MiB", 1), ("KiB", 1 / 1024), ("B", 1 / 1024 / 1024)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=60)
    args = parser.parse_args()
    times: dict[bool, list[float]] = {True: [], False: []}
    rest: list[dict] = []
    for run in range(args.runs):
        for monitoring in (False, True):
            seconds, scratch, env = fresh_up(monitoring)
            times[monitoring].append(seconds)
            if monitoring and run == args.runs - 1:
                time.sleep(args.settle)
                rest = monitoring_stats(scratch, env)
            destroy(scratch, env)
    ratio = statistics.median(times[True]) / statistics.median(times[False])
    print(f"| fresh `up` of the local stack ({args.runs} runs) | median |\n| --- | --- |")
    print(f"| without monitoring | {summary(times[False])} |\n| with monitoring | {summary(times[True])} |")
    print(f"| ratio | {ratio:.2f} |\n")
    print(f"| monitoring container (at rest, after {args.settle:.0f} s) | memory MB | CPU % | limit MB | limit CPUs |\n"
          "| --- | --- | --- | --- | --- |")
    for row in sorted(rest, key=lambda r: r["name"]):
        print(f"| {row['name']} | {row['memory_mb']:.1f} | {row['cpu_percent']:.2f} | {row['limit_mb']} | {row['limit_cpus']} |")
    used, reserved = sum(r["memory_mb"] for r in rest), sum(r["limit_mb"] for r in rest)
    cpus = sum(r["limit_cpus"] for r in rest)
    print(f"| all | {used:.1f} | {sum(r['cpu_percent'] for r in rest):.2f} | {reserved} | {cpus:.1f} |")
    print(f"\nOn a cx22 ({CX22_MEMORY_MB} MB, {CX22_CPUS} vCPUs): {100 * used / CX22_MEMORY_MB:.1f} % of its memory used at "
          f"rest, {100 * reserved / CX22_MEMORY_MB:.1f} % reserved by the limits, {100 * cpus / CX22_CPUS:.0f} % of its "
          "CPUs as limits (a ceiling, not a reservation).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
