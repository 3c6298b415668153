"""Run every benchmark, print their Markdown tables one after the other, and keep them with the
machine they ran on in bench/results.json (and bench/results.md). `make bench` calls this."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["preview_cost", "preview_growth", "app_servers", "releases", "backups", "monitoring_cost"]


def main() -> int:
    """`python -m bench.run [NAME ...]`: all benchmarks, or only those named (the others' tables are kept)."""
    chosen = sys.argv[1:] or BENCHMARKS
    previous = json.loads((HERE / "results.json").read_text()) if (HERE / "results.json").exists() else {}
    results = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
               "tables": {k: v for k, v in previous.get("tables", {}).items() if k not in chosen}}
    for name in chosen:
        done = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            print(f"{name} failed (exit {done.returncode})", file=sys.stderr)
            return done.returncode
        results["tables"][name] = done.stdout.strip()
        print(f"### {name}\n\n{done.stdout.strip()}\n", flush=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "results.md").write_text(f"Measured {results['date']} on {results['machine']}.\n\n" + "\n\n".join(
        f"### {name}\n\n{results['tables'][name]}" for name in BENCHMARKS if name in results["tables"]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
