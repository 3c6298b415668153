"""__main__.py end to end under mocks: config as the engine passes it -> settings -> resources -> exports."""

from __future__ import annotations

import runpy

import pulumi
import pytest

from components.settings import SettingsError
from tests.mocks import RecordingMocks
from tests.stack_config import ROOT, engine_config, stack_config


def run_program(stack: str, raw: dict, secret_keys: list[str], mocks: RecordingMocks | None = None) -> RecordingMocks:
    mocks = mocks or RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="preflight", stack=stack, preview=False)
    pulumi.runtime.set_all_config(engine_config(raw), [f"preflight:{k}" for k in secret_keys])

    @pulumi.runtime.test
    def run():
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    try:
        run()
    finally:
        pulumi.runtime.set_all_config({}, [])
    return mocks


def test_local_program_registers_the_platform():
    mocks = run_program("local", stack_config("local"), [])
    types = {r.type for r in mocks.resources}
    assert {"preflight:index:Platform", "docker:index/container:Container", "pulumi-python:dynamic:Resource",
            "pulumi:providers:docker"} <= types


def test_config_secret_flows_from_engine_config():
    raw = stack_config("local")
    raw["secrets"]["stripe"] = {"source": "config", "key": "stripeApiKey"}
    raw["services"]["api"]["secret_env"]["STRIPE_API_KEY"] = "stripe"
    raw["stripeApiKey"] = "sk_test_123"
    mocks = run_program("local", raw, ["stripeApiKey"])
    [api] = [r for r in mocks.of_type("docker:index/container:Container") if r.name == "preflight-api"]
    assert "STRIPE_API_KEY_FILE=/run/secrets/stripe" in api.inputs["envs"]
    assert {"file": "/run/secrets/stripe", "content": "sk_test_123"}.items() <= next(
        u for u in api.inputs["uploads"] if u["file"] == "/run/secrets/stripe").items()
    assert "uploads" in api.secret_inputs


def test_bad_config_registers_nothing():
    raw = stack_config("local")
    raw["services"]["api"]["port"] = "eighty"
    mocks = RecordingMocks()
    with pytest.raises(SettingsError, match=r"preflight:services\.api\.port"):
        run_program("local", raw, [], mocks)
    assert mocks.resources == []
