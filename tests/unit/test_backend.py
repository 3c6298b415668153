"""Which backend a stack runs against: `local` on the project's own file backend; a cloud stack only
on a backend its team chose, never on the project's `.state/` where it would look brand new."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from deploy import backend
from tests.stack_config import ROOT

LOCAL = "file:///project/.state"


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """An empty user home and the project's engine home; no backend in the environment."""
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    monkeypatch.delenv("PULUMI_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "Pulumi.yaml").write_text("name: preflight\nruntime: python\n")
    return tmp_path / "project", tmp_path / "engine-home", tmp_path / "user" / ".pulumi"


def login(user_home: Path, url: str) -> None:
    user_home.mkdir(parents=True)
    (user_home / "credentials.json").write_text(json.dumps({"current": url, "accessTokens": {url: "pul-x"}}))


def test_local_runs_on_the_projects_own_backend(homes):
    project, engine_home, _ = homes
    assert backend.chosen("local", project, engine_home, LOCAL) == LOCAL


def test_a_cloud_stack_with_no_backend_chosen_is_refused_with_what_to_run(homes):
    project, engine_home, _ = homes
    with pytest.raises(backend.NoBackend, match=r"stack production has no backend: .*pulumi login"):
        backend.chosen("production", project, engine_home, LOCAL)


def test_a_cloud_stack_on_the_projects_local_backend_is_refused(homes, monkeypatch):
    project, engine_home, _ = homes
    monkeypatch.setenv("PULUMI_BACKEND_URL", LOCAL + "/")
    with pytest.raises(backend.NoBackend, match="would look brand new"):
        backend.chosen("staging", project, engine_home, LOCAL)


def test_the_users_login_is_the_backend_and_is_shared_with_the_projects_engine_home(homes):
    project, engine_home, user_home = homes
    login(user_home, "s3://team-state/preflight")
    assert backend.chosen("production", project, engine_home, LOCAL) == "s3://team-state/preflight"
    backend.share_login(engine_home)
    assert (engine_home / "credentials.json").resolve() == (user_home / "credentials.json").resolve()


def test_an_explicit_url_wins_over_pulumi_yaml_which_wins_over_the_login(homes, monkeypatch):
    project, engine_home, user_home = homes
    login(user_home, "https://api.pulumi.com")
    (project / "Pulumi.yaml").write_text("name: preflight\nbackend:\n  url: gs://team-bucket\n")
    assert backend.chosen("production", project, engine_home, LOCAL) == "gs://team-bucket"
    monkeypatch.setenv("PULUMI_BACKEND_URL", "file:///srv/shared-state")
    assert backend.chosen("production", project, engine_home, LOCAL) == "file:///srv/shared-state"


def test_deploy_preview_of_production_without_a_backend_stops_before_the_engine_runs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PULUMI_BACKEND_URL", "PULUMI_HOME")}
    env.update(HOME=str(tmp_path), PREFLIGHT_CACHE=str(tmp_path / "cache"))
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "deploy", "preview", "production"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "stack production has no backend" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "cache").exists()  # no engine home, no state, nothing touched
