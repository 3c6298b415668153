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
