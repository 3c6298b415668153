"""The real Pulumi CLI and Python language host run `__main__.py` with broken stack config: the
user's first message names each setting and its fix, shows no stack trace, and nothing is applied.

These runs stop in the settings, before any provider is needed, so they need only the CLI and the
language host (`scripts/toolchain.py ensure --engine-only`, run by `make test`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from scripts.toolchain import engine_env, ensure
from tests.stack_config import ROOT

PROGRAM = ["Pulumi.yaml", "__main__.py", "components"]


@pytest.fixture(scope="module")
def engine() -> dict[str, str]:
    if ensure(check_only=True, engine_only=True) != 0:
        pytest.fail("the Pulumi CLI or language host is missing: run `make test` (or "
                    "`.venv/bin/python scripts/toolchain.py ensure --engine-only`)")
    env = {**os.environ, **engine_env(), "PULUMI_CONFIG_PASSPHRASE": "engine-test"}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    return env


def up_with(engine: dict[str, str], tmp_path: Path, change) -> subprocess.CompletedProcess:
    """`pulumi up` of a copy of the program (so `stack init` writes no salt into the repo's stack
    file) with the local stack's config changed by `change`."""
    for name in PROGRAM:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / name)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    config = yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())
    change(config["config"])
    (tmp_path / "Pulumi.local.yaml").write_text(yaml.safe_dump(config))
    env = {**engine, "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}"}
    (tmp_path / "state").mkdir()
    pulumi = lambda *args, check=True: subprocess.run(["pulumi", *args, "--non-interactive"], cwd=tmp_path, env=env,
                                                      capture_output=True, text=True, check=check)
    pulumi("stack", "init", "local")
    result = pulumi("up", "--stack", "local", "--yes", "--skip-preview", check=False)
    exported = json.loads(pulumi("stack", "export", "--stack", "local").stdout)
    result.resource_types = [r["type"] for r in exported["deployment"].get("resources") or []]
    return result


def test_malformed_values_are_named_with_their_fix_and_nothing_is_applied(engine, tmp_path):
    def break_it(config):
        config["preflight:services"]["api"]["port"] = "eighty"
        config["preflight:proxy"]["https_port"] = 70000

    result = up_with(engine, tmp_path, break_it)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "preflight:services.api.port: input should be a valid integer" in output
    assert "preflight:proxy.https_port: input should be less than or equal to 65535" in output
    assert "Traceback" not in output and 'File "' not in output
    assert set(result.resource_types) <= {"pulumi:pulumi:Stack"}


def test_a_missing_config_secret_names_the_command_that_sets_it(engine, tmp_path):
    def need_stripe_key(config):
        config["preflight:secrets"]["stripe_api_key"] = {"source": "config", "key": "stripeApiKey"}
        config["preflight:services"]["api"]["secret_env"]["STRIPE_API_KEY"] = "stripe_api_key"

    result = up_with(engine, tmp_path, need_stripe_key)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "pulumi config set --secret preflight:stripeApiKey <value> --stack local" in output
    assert "Traceback" not in output
    assert set(result.resource_types) <= {"pulumi:pulumi:Stack"}
