"""Preview cost of the deployed `local` stack, with and without the policy pack.

    .venv/bin/python -m bench.preview_cost [--runs 9]

Runs alternate (no pack, pack, no pack, ...) so both see the same machine load; prints medians
with min and max and the ratio of the medians. Needs `make up` first (previews the real state).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from deploy.policy_pack import pack_arguments
from deploy.stack import engine_environment

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def summary(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} s (min {min(samples):.2f}, max {max(samples):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    env = {**os.environ, **engine_environment("local")}
    plain = ["pulumi", "preview", "--stack", "local", "--non-interactive"]
    with_pack = [*plain, *pack_arguments("local")]
    timed(with_pack, env)  # warm the caches (bytecode, page cache) once
    samples: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(args.runs):
        samples["without"].append(timed(plain, env))
        samples["with"].append(timed(with_pack, env))
    ratio = statistics.median(samples["with"]) / statistics.median(samples["without"])
    print(f"| preview of local ({args.runs} runs) | median |\n| --- | --- |")
    print(f"| without the policy pack | {summary(samples['without'])} |")
    print(f"| with the policy pack | {summary(samples['with'])} |")
    print(f"| ratio with/without | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
