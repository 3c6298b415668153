"""The monitoring section: on by default everywhere, production's alerts reach someone, secrets declared."""

from __future__ import annotations

import pytest

from components.settings import SettingsError, parse_settings
from tests.stack_config import CLOUD_SECRETS, stack_config


def problems(stack: str, change) -> list[str]:
    raw = {**stack_config(stack), **(CLOUD_SECRETS if stack != "local" else {})}
    change(raw)
    with pytest.raises(SettingsError) as caught:
        parse_settings(stack, raw, set(CLOUD_SECRETS) if stack != "local" else set())
    return caught.value.problems


def test_every_stack_is_monitored_by_default_with_the_checklists_thresholds():
    local, _ = parse_settings("local", stack_config("local"), set())
    assert local.monitoring.enabled
    assert (local.monitoring.thresholds.latency_p99_ms, local.monitoring.thresholds.error_rate_percent,
            local.monitoring.thresholds.disk_percent, local.monitoring.thresholds.memory_percent) == (1000, 1.0, 80, 85)
    assert local.monitoring.receivers == []


def test_production_without_a_receiver_is_refused_with_the_fix():
    def drop(raw):
        raw["monitoring"].pop("receivers")
    assert problems("production", drop) == [
        "preflight:monitoring.receivers: production sends its critical alerts to the team: add a receiver (kind: "
        "webhook, slack, discord or email), e.g. kind: slack with url_secret naming a config secret"]


def test_production_cannot_turn_monitoring_off():
    def off(raw):
        raw["monitoring"]["enabled"] = False
    assert problems("production", off)[0].startswith("preflight:monitoring")


def test_a_receiver_naming_an_undeclared_secret_is_refused():
    def unknown(raw):
        raw["monitoring"]["receivers"] = [{"kind": "discord", "url_secret": "nope"}]
    [problem] = problems("staging", unknown)
    assert problem.startswith("preflight:monitoring.receivers.0.url_secret: unknown secret nope; declare it")


def test_a_webhook_needs_exactly_one_url():
    def both(raw):
        raw["monitoring"] = {"receivers": [{"kind": "webhook", "url": "http://10.0.0.1:9000/", "url_secret": "x"}]}
    [problem] = problems("local", both)
    assert "set url (no token in it) or url_secret" in problem


def test_an_unknown_alert_duration_names_the_known_alerts():
    def typo(raw):
        raw["monitoring"] = {"alert_for_s": {"RouteDwn": 10}}
    [problem] = problems("local", typo)
    assert problem.startswith("preflight:monitoring.alert_for_s: RouteDwn is not an alert of the rules; use one of:")
    assert "RouteDown" in problem


def test_local_has_no_cloudflare_health_checks():
    def email(raw):
        raw["monitoring"] = {"on_call_email": "a@example.com"}
    [problem] = problems("local", email)
    assert problem.startswith("preflight:monitoring.on_call_email: Cloudflare's health checks need the edge")
