"""Setup installs exactly the plugin versions the pinned Python SDKs ask for."""

from __future__ import annotations

import re

from scripts.plugins import PROVIDERS
from scripts.toolchain import NOT_NEEDED_LOCALLY, Plugin, engine_env, required_plugins, sdk_version
from tests.stack_config import ROOT

PROVIDER_SDKS = {"pulumi-docker": "docker", "pulumi-hcloud": "hcloud", "pulumi-cloudflare": "cloudflare"}


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return dict(re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", line).groups() for line in lines if "==" in line)


def test_every_requirement_is_pinned():
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)


def test_required_plugins_match_the_pinned_provider_sdks():
    pinned = pins()
    expected = {Plugin(name, pinned[sdk]) for sdk, name in PROVIDER_SDKS.items()}
    assert set(required_plugins()) == expected


def test_cli_version_follows_the_sdk():
    assert sdk_version() == pins()["pulumi"]
    assert f"pulumi-v{sdk_version()}" in engine_env()["PATH"].split(":")[0]


def test_engine_never_reaches_for_the_network():
    env = engine_env()
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_BACKEND_URL"].startswith("file://")


def test_every_required_plugin_has_a_route_here_or_a_stated_reason():
    for plugin in required_plugins():
        assert (plugin.name in PROVIDERS) != (plugin.name in NOT_NEEDED_LOCALLY), plugin


def test_plugin_builds_are_ours_and_complete():
    for provider in PROVIDERS.values():
        assert (provider.program / "main.go").exists() and (provider.program / "go.mod").exists()
        if provider.declared_path:
            assert (provider.program / "upstream" / f"{provider.export_package}.go.txt").exists()


def test_an_official_language_host_is_kept_and_a_built_adapter_is_rebuilt_when_its_source_changes(tmp_path, monkeypatch):
    from scripts import toolchain

    monkeypatch.setattr(toolchain, "cli_dir", lambda version: tmp_path)
    (tmp_path / "pulumi-language-python").write_text("the release's host")
    toolchain.record_official_host(tmp_path)
    assert toolchain.has_language_host("3.259.0")  # no adapter, no v3.68 host needed
    (tmp_path / toolchain.HOST_PROVENANCE).write_text("an older adapter")
    (tmp_path / toolchain.INNER_HOST).write_text("v3.68")
    assert not toolchain.has_language_host("3.259.0")
