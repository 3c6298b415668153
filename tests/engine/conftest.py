"""The real engine: the Go-built CLI, the language host, the plugins built from served modules,
and the local Docker engine. Each test works on a copy of the program with its own file backend,
so nothing it does touches the repository's stack files or a stack `make up` deployed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from deploy.policy_pack import pack_arguments
from deploy.stack import engine_environment
from scripts.toolchain import ensure
from tests.stack_config import CLOUD_SECRETS, ROOT

PROGRAM = ["Pulumi.yaml", "__main__.py", "components"]


LOCAL_API_HOST = "api.preflight.localhost"


def curl_local(port: int, certificate: Path | str, path: str, *, scheme: str = "https",
               extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """curl through a local stack's proxy on `port`, trusting its certificate."""
    return subprocess.run(["curl", "-sS", "--max-time", "10", "--resolve", f"{LOCAL_API_HOST}:{port}:127.0.0.1",
                           "--cacert", str(certificate), *extra, f"{scheme}://{LOCAL_API_HOST}:{port}{path}"],
                          capture_output=True, text=True)


class Traffic(threading.Thread):
    """`probe` (one request, its HTTP status) every 50 ms until stopped: what users would see."""

    def __init__(self, probe: Callable[[], int]):
        super().__init__(daemon=True)
        self.probe, self.stopping = probe, threading.Event()
        self.codes: list[int] = []

    def run(self):
        while not self.stopping.is_set():
            self.codes.append(self.probe())
            self.stopping.wait(0.05)

    def stop(self) -> list[int]:
        self.stopping.set()
        self.join(timeout=30)
        return self.codes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def engine() -> dict[str, str]:
    """The environment every Pulumi run of the tests gets; fails (never skips) when a piece is missing."""
    if ensure(check_only=True) != 0:
        pytest.fail("the Pulumi engine is incomplete: run `make test` (or `.venv/bin/python scripts/toolchain.py "
                    "ensure`), which builds what is missing")
    return engine_environment("local")  # as `python -m deploy` runs the local stack


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.fail("no Docker engine answers: run `make test` (it starts one with scripts/docker-engine.sh)")


class ProjectCopy:
    """A copy of the program and the local stack's file in `directory`, driven through the
    Automation API (the same CLI users run). `stack` other than local: the local stack's config
    under that stack name and environment (what the policy pack's production-only rules need)."""

    def __init__(self, directory: Path, env: dict[str, str], change: Callable[[dict[str, Any]], None] = lambda c: None,
                 stack: str = "local", base: str = "local"):
        """base: whose stack file to start from (Pulumi.<base>.yaml)."""
        self.directory, self.stack_name = directory, stack
        for name in PROGRAM:
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, directory / name)
        (directory / ".venv").symlink_to(ROOT / ".venv")
        (directory / "state").mkdir()
        self.document = yaml.safe_load((ROOT / f"Pulumi.{base}.yaml").read_text())
        self.document["config"]["preflight:environment"] = stack
        change(self.document["config"])
        self.write_config()
        self.env = {**env, "PULUMI_BACKEND_URL": f"file://{directory / 'state'}"}
        workspace = auto.LocalWorkspace(work_dir=str(directory), env_vars=self.env)
        self.stack = auto.Stack.create(stack, workspace)

    @property
    def config(self) -> dict[str, Any]:
        return self.document["config"]

    def write_config(self) -> None:
        (self.directory / f"Pulumi.{self.stack_name}.yaml").write_text(yaml.safe_dump(self.document))

    def deploy_argv(self, *args: str) -> list[str]:
        """`python -m deploy ...` on this copy, as CI runs it (from the project root, with its venv)."""
        return [str(ROOT / ".venv" / "bin" / "python"), "-m", "deploy", "--project", str(self.directory), *args]

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        """The CLI as a user types it, for what the user reads (output text, exit codes)."""
        return subprocess.run(["pulumi", *args, "--stack", self.stack_name, "--non-interactive"], cwd=self.directory,
                              env={**os.environ, **self.env}, capture_output=True, text=True, check=check)

    def patch(self, path: str, old: str, new: str) -> None:
        """Change the copy's code (a regression the policy pack must catch)."""
        file = self.directory / path
        assert old in file.read_text(), f"{old!r} not in {path}"
        file.write_text(file.read_text().replace(old, new))

    def preview_with_pack(self, config: str, *extra: str) -> subprocess.CompletedProcess:
        """`pulumi preview` with the policy pack and an enforcement config, as `make preview` runs it."""
        return self.cli("preview", *pack_arguments(config), *extra)

    def resources(self) -> list[dict[str, Any]]:
        """The state's resources (secret values encrypted)."""
        exported = json.loads(self.cli("stack", "export", check=True).stdout)
        return exported["deployment"].get("resources") or []


# hcloud checks the token's shape when it configures, not against the API: a preview stays offline.
PLACEHOLDER_HCLOUD_TOKEN = "0" * 64


def cloud_copy(directory: Path, env: dict[str, str], stack: str,
               change: Callable[[dict[str, Any]], None] = lambda c: None) -> ProjectCopy:
    """A copy of a cloud stack that previews offline here: the other stack's file beside it (the
    settings compare the two), placeholder credentials and config secrets, and the Cloudflare edge
    left out of the program (no cloudflare plugin on these machines; toolchain/README.md)."""
    other = "staging" if stack == "production" else "production"
    shutil.copy(ROOT / f"Pulumi.{other}.yaml", directory / f"Pulumi.{other}.yaml")
    env = {**env, "HCLOUD_TOKEN": PLACEHOLDER_HCLOUD_TOKEN, "PULUMI_CONFIG_PASSPHRASE": f"{stack}-engine-test"}
    project = ProjectCopy(directory, env, change, stack=stack, base=stack)
    project.patch("components/platform.py", "        if settings.edge is None:\n",
                  "        if True:  # no cloudflare plugin on this machine (tests/engine/conftest.py)\n")
    for key, value in CLOUD_SECRETS.items():
        project.stack.set_config(f"preflight:{key}", auto.ConfigValue(value, secret=True))
    # The stack file now holds the encrypted secrets too: later write_config() calls keep them.
    project.document = yaml.safe_load((directory / f"Pulumi.{stack}.yaml").read_text())
    return project
