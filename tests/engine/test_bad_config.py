"""The real Pulumi CLI and Python language host run `__main__.py` with broken stack config: the
user's first message names each setting and its fix, shows no stack trace, and nothing is applied."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.engine.conftest import ProjectCopy


def up_with(engine: dict[str, str], tmp_path: Path, change) -> subprocess.CompletedProcess:
    project = ProjectCopy(tmp_path, engine, change)
    result = project.cli("up", "--yes", "--skip-preview")
    result.resource_types = [r["type"] for r in project.resources()]
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
