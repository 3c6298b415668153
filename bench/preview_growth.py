"""How preview time grows with the number of services: 10, 25 and 50 generated services in a
temporary copy of the local stack (previewed, never applied).

    .venv/bin/python -m bench.preview_growth [--runs 3] [--sizes 10 25 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.common import copy_project, summary, timed


def with_services(count: int):
    def change(config):
        template = config["preflight:services"]["api"]
        services = {"api": template}
        for n in range(1, count):
            worker = {k: v for k, v in template.items() if k not in ("route", "migrate_command")}
            services[f"worker{n}"] = worker
        config["preflight:services"] = services
    return change


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 25, 50])
    args = parser.parse_args()
    rows = []
    for size in [1, *args.sizes]:
        with tempfile.TemporaryDirectory() as scratch:
            env = copy_project(Path(scratch), with_services(size))
            command = ["pulumi", "preview", "--stack", "local", "--non-interactive"]
            samples = [timed(command, Path(scratch), env) for _ in range(args.runs)]
            rows.append((size, samples))
            print(f"[bench] {size} services: {summary(samples)}", file=sys.stderr)
    base = statistics.median(rows[0][1])
    print(f"| services (fresh preview, {args.runs} runs) | median | per added service |\n| --- | --- | --- |")
    for size, samples in rows:
        per = (statistics.median(samples) - base) / (size - 1) if size > 1 else 0.0
        print(f"| {size} | {summary(samples)} | {per * 1000:.0f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
