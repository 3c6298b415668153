"""The policy pack under the real engine: `pulumi preview --policy-pack` refuses a stack that breaks
the checklist, names each rule and what to change, and stays quiet about everything else.

The misconfigured stack is a copy of production (previewed offline, without the Cloudflare edge:
see conftest.cloud_copy) with four deliberate breaches: CORS `*` and an image tagged `latest` set
in config, and - since the settings refuse both by construction - a published Postgres port and a
Redis container without limits patched into the copy's code. Preview only: nothing is created.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.engine.conftest import ProjectCopy, cloud_copy
from tests.stack_config import CLOUD_SECRETS, ROOT

BREACHES = {
    "PF-SEC-004": "env CORS_ALLOWED_ORIGINS='*': list the exact origins",
    "PF-DATA-001": "remove the published ports (0.0.0.0:15432->5432)",
    "PF-CTR-006": "pin the image 'preflight-sample-app:latest' to a version tag or a digest",
    "PF-CTR-002": "set a memory limit (settings: limits.memory_mb)",
}


def misconfigure(config):
    api = config["preflight:services"]["api"]
    api["env"]["CORS_ALLOWED_ORIGINS"] = "*"
    api["image"] = "preflight-sample-app:latest"


@pytest.fixture(scope="module")
def misconfigured(engine, tmp_path_factory) -> ProjectCopy:
    project = cloud_copy(tmp_path_factory.mktemp("misconfigured"), engine, "production", misconfigure)
    project.patch("components/database.py", "            ports=private_ports(host.private_address, PORT),",
                  "            ports=[docker.ContainerPortArgs(internal=5432, external=15432)],")
    project.patch("components/containers.py", "        **limit_args(limits),",
                  "        **({} if component == 'cache' else limit_args(limits)),")
    return project


def output_of(result) -> str:
    return result.stdout + result.stderr


def test_the_production_config_refuses_each_breach_by_rule_and_fix(misconfigured):
    result = misconfigured.preview_with_pack("production")
    output = output_of(result)
    assert result.returncode != 0
    for rule, fix in BREACHES.items():
        assert "[mandatory]" in output and rule in output and fix in output, (rule, output)
    assert "preview failed" in output
    # The pack sees config secrets decrypted; its messages never repeat them.
    assert not [key for key, value in CLOUD_SECRETS.items() if value in output]
    assert "Traceback" not in output and "KeyboardInterrupt" not in output


def test_the_local_config_warns_and_lets_the_preview_pass(misconfigured):
    result = misconfigured.preview_with_pack("local")
    output = output_of(result)
    assert result.returncode == 0, output
    for rule in BREACHES:
        assert rule in output
    assert "[advisory]" in output and "[mandatory]" not in output


def waiver_config(tmp_path, waivers: list[dict]) -> str:
    path = tmp_path / "production-with-waiver.json"
    path.write_text(json.dumps({"all": "mandatory", "PF-DATA-001": {"waivers": waivers}}))
    return str(path)


def test_a_waiver_with_a_reason_silences_exactly_its_resource(misconfigured, tmp_path):
    config = waiver_config(tmp_path, [{"resource": "preflight-postgres",
                                       "reason": "debug access for OPS-7 until Friday"}])
    output = output_of(misconfigured.preview_with_pack(config))
    assert "PF-DATA-001" not in output
    for rule in set(BREACHES) - {"PF-DATA-001"}:
        assert rule in output


def test_a_waiver_without_a_reason_is_refused_by_the_engine(misconfigured, tmp_path):
    config = waiver_config(tmp_path, [{"resource": "preflight-postgres"}])
    result = misconfigured.preview_with_pack(config)
    assert result.returncode != 0
    assert "PF-DATA-001" in output_of(result) and "reason" in output_of(result)


def test_the_deploy_preview_report_names_each_violation_and_refuses(misconfigured, tmp_path):
    result = subprocess.run(misconfigured.deploy_argv("preview", "production", "--report-dir", str(tmp_path)),
                            cwd=ROOT, capture_output=True, text=True, env={**os.environ, **misconfigured.env})
    assert result.returncode == 5, result.stderr
    report = json.loads((tmp_path / "preview.json").read_text())
    assert {v["rule"] for v in report["violations"] if v["level"] == "mandatory"} >= set(BREACHES)
    assert "| PF-SEC-004 | preflight-api | mandatory |" in (tmp_path / "preview.md").read_text()
