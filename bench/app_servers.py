"""Preview time and planned resources of production at 1 and 3 application servers (offline, with
the engine and the hcloud plugin; the Cloudflare edge left out as in tests/engine: no plugin here).

    .venv/bin/python -m bench.app_servers [--runs 5] [--servers 1 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

from pulumi import automation as auto

from bench.common import summary, timed
from deploy.stack import engine_environment
from tests.engine.conftest import cloud_copy


def with_servers(count: int):
    def change(config):
        config["preflight:host"]["app_servers"] = count
    return change


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--servers", type=int, nargs="+", default=[1, 3])
    args = parser.parse_args()
    print(f"| app servers (production preview offline, {args.runs} runs) | median | resources | servers, "
          "containers, load balancer pieces |\n| --- | --- | --- | --- |")
    for count in args.servers:
        with tempfile.TemporaryDirectory() as scratch:
            project = cloud_copy(Path(scratch), engine_environment("local"), "production", with_servers(count))
            events: list[auto.EngineEvent] = []
            project.stack.preview(on_event=events.append)
            types = Counter(e.resource_pre_event.metadata.type for e in events if e.resource_pre_event)
            command = ["pulumi", "preview", "--stack", "production", "--non-interactive"]
            samples = [timed(command, Path(scratch), project.env) for _ in range(args.runs)]
            lb = sum(n for t, n in types.items() if t.startswith("hcloud:index/loadBalancer"))
            print(f"| {count} | {summary(samples)} | {sum(types.values())} | {types['hcloud:index/server:Server']}, "
                  f"{types['docker:index/container:Container']}, {lb} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
