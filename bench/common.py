"""What the benchmarks share: the engine's environment and throwaway copies of the project."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from deploy.stack import engine_environment

ROOT = Path(__file__).resolve().parent.parent

# The sample app's images the release benchmarks deploy (built from APP by bench/releases.py).
APP = "preflight-sample-app:0.1.0"
RELEASE = "preflight-sample-app:bench-release"
SLOW_READY = "preflight-sample-app:bench-slow-ready"
FAILING = "preflight-sample-app:bench-failing"

PROGRAM = ["Pulumi.yaml", "__main__.py", "components"]


def copy_project(directory: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, str]:
    """A copy of the program with the local stack's config changed by `change`, its own file
    backend and stack; returns the environment to run `pulumi` in it."""
    for name in PROGRAM:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, directory / name)
    (directory / ".venv").symlink_to(ROOT / ".venv")
    (directory / "state").mkdir()
    document = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    change(document["config"])
    (directory / "Pulumi.local.yaml").write_text(yaml.safe_dump(document))
    env = {**os.environ, **engine_environment("local"), "PULUMI_BACKEND_URL": f"file://{directory / 'state'}"}
    subprocess.run(["pulumi", "stack", "init", "local", "--non-interactive"], cwd=directory, env=env, check=True,
                   capture_output=True)
    return env


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def summary(samples: list[float], unit: str = "s") -> str:
    return f"{statistics.median(samples):.2f} {unit} (min {min(samples):.2f}, max {max(samples):.2f})"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
