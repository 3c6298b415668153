"""The alert rules and Alertmanager's routing, generated from the monitoring settings (promtool and
amtool run them in tests/integration/test_alert_rules_promtool.py)."""

from __future__ import annotations

import re

import pytest
import yaml

from components.monitoring.alertmanager import alertmanager_config, render_alertmanager
from components.monitoring.rules import alert_rules, duration, render_rules
from components.settings.monitoring import ALERT_FOR_S, MonitoringSettings

SECRETS = {"slack_url": "https://hooks.slack.com/services/T0/B0/slack-token-1", "discord_url":
           "https://discord.com/api/webhooks/1/discord-token-2", "smtp_password": "smtp-password-3",
           "heartbeat_url": "https://hc-ping.example.test/heartbeat-token-4", "hook_url": "https://hooks.example.test/hook-token-5"}


def settings(**values) -> MonitoringSettings:
    return MonitoringSettings.model_validate(values)


def every_receiver() -> MonitoringSettings:
    return settings(heartbeat_url_secret="heartbeat_url", receivers=[
        {"kind": "slack", "url_secret": "slack_url", "channel": "#ops"},
        {"kind": "discord", "url_secret": "discord_url", "severity": "critical"},
        {"kind": "email", "to": "oncall@example.test", "sender": "alerts@example.test", "smarthost": "smtp.example.test:587",
         "username": "alerts", "password_secret": "smtp_password", "severity": "critical"},
        {"kind": "webhook", "url_secret": "hook_url"},
    ])


def rules_of(monitoring: MonitoringSettings, **kwargs) -> list[dict]:
    arguments = {"rpo_s": 3600, "routes": ["api", "web"], **kwargs}
    return [rule for group in alert_rules(monitoring, **arguments)["groups"] for rule in group["rules"]]


def rule(monitoring: MonitoringSettings, name: str, **kwargs) -> dict:
    return next(r for r in rules_of(monitoring, **kwargs) if r["alert"] == name)


def test_every_alert_of_the_settings_and_the_watchdog_is_generated_with_its_severity():
    rules = rules_of(settings(queues=[{"name": "jobs"}]), certificates={"origin_pull_client": 2e9})
    assert {r["alert"] for r in rules} == {*ALERT_FOR_S, "Watchdog"}
    assert {r["labels"]["severity"] for r in rules} == {"critical", "warning", "none"}
    assert all(r["annotations"]["summary"] and r["annotations"]["description"] for r in rules)


def test_each_alert_holds_for_its_default_or_the_stacks_override():
    defaults = {r["alert"]: r["for"] for r in rules_of(settings())}
    assert (defaults["RouteDown"], defaults["CpuHigh"], defaults["ContainerCrashLooping"]) == ("1m", "10m", "0s")
    assert rule(settings(alert_for_s={"CpuHigh": 90}), "CpuHigh")["for"] == "90s"


def test_a_changed_threshold_changes_the_expression_and_the_annotation():
    default, tighter = rule(settings(), "DiskHigh"), rule(settings(thresholds={"disk_percent": 70}), "DiskHigh")
    assert default["expr"].endswith("> 80") and tighter["expr"].endswith("> 70")
    assert "(threshold 70%)" in tighter["annotations"]["description"]
    assert "> 0.25 and" in rule(settings(thresholds={"latency_p95_ms": 250}), "LatencyP95High")["expr"]
    assert "> 2.5" in rule(settings(thresholds={"error_rate_percent": 2.5}), "ErrorRateHigh")["expr"]


def test_backups_are_stale_past_the_rpo_and_its_grace_or_when_never_reported_for_the_rpo():
    stale, never = [r for r in rules_of(settings(), rpo_s=86400) if r["alert"] == "BackupStale"]
    assert stale["expr"].endswith("> 87000") and stale["for"] == "0s"
    assert never["expr"] == "absent(preflight_backup_last_success_timestamp_seconds)" and never["for"] == "1d"


def test_queues_are_watched_only_when_declared():
    assert "QueueBacklog" not in {r["alert"] for r in rules_of(settings())}
    backlog = rule(settings(queues=[{"name": "jobs"}, {"name": "mail", "db": 2}], thresholds={"queue_length": 50}),
                   "QueueBacklog")
    assert backlog["expr"] == 'redis_key_size{key="jobs", db="db0"} > 50 or redis_key_size{key="mail", db="db2"} > 50'


def test_routes_without_a_probe_fire_and_no_routes_means_no_absence_rule():
    down = [r for r in rules_of(settings()) if r["alert"] == "RouteDown"]
    assert [r["expr"] for r in down] == ['probe_success{job="routes"} == 0',
                                         'absent(up{job="routes", route="api"}) or absent(up{job="routes", route="web"})']
    assert [r["expr"] for r in rules_of(settings(), routes=[]) if r["alert"] == "RouteDown"] == [
        'probe_success{job="routes"} == 0']


def test_known_certificates_are_watched_by_name_in_one_rule():
    due = [r for r in rules_of(settings(), certificates={"origin_pull_client": 1_800_000_000, "other": 1_900_000_000})
           if r["alert"] == "CertificateRenewalDue"]
    assert due[0]["expr"] == 'probe_ssl_earliest_cert_expiry{job="routes"} - time() < 2592000'
    assert due[1]["expr"] == (
        '(label_replace(vector(1800000000 - time()), "certificate", "origin_pull_client", "", "") or '
        'label_replace(vector(1900000000 - time()), "certificate", "other", "", "")) < 2592000')
    assert due[1]["labels"] == {"severity": "warning", "source": "deploy"}
    assert len([r for r in rules_of(settings()) if r["alert"] == "CertificateRenewalDue"]) == 1


def test_the_rendered_rules_are_the_rule_dict():
    assert yaml.safe_load(render_rules(settings(), rpo_s=3600, routes=["api"])) == alert_rules(
        settings(), rpo_s=3600, routes=["api"])


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (90, "90s"), (300, "5m"), (5400, "90m"), (3600, "1h"),
                                               (86400, "1d"), (4200, "70m")])
def test_durations_use_the_largest_unit_that_divides_them(seconds, text):
    assert duration(seconds) == text


def matches(matcher: str, labels: dict[str, str]) -> bool:
    name, operator, value = re.fullmatch(r'(\w+)(=~|=)"(.*)"', matcher).groups()
    actual = labels.get(name, "")
    return re.fullmatch(value, actual) is not None if operator == "=~" else actual == value


def notified(config: dict, labels: dict[str, str]) -> list[str]:
    """The receivers Alertmanager's route tree sends an alert with these labels to."""
    chosen = []
    for route in config["route"]["routes"]:
        if all(matches(m, labels) for m in route["matchers"]):
            chosen.append(route["receiver"])
            if not route["continue"]:
                break
    return chosen or [config["route"]["receiver"]]


def test_receivers_get_alerts_of_their_least_severity_and_above():
    config = alertmanager_config(every_receiver(), SECRETS)
    assert notified(config, {"alertname": "RouteDown", "severity": "critical"}) == [
        "slack-0", "discord-1", "email-2", "webhook-3"]
    assert notified(config, {"alertname": "CpuHigh", "severity": "warning"}) == ["slack-0", "webhook-3"]


def test_the_watchdog_pings_only_the_heartbeat_every_minute():
    config = alertmanager_config(every_receiver(), SECRETS)
    assert notified(config, {"alertname": "Watchdog", "severity": "none"}) == ["heartbeat"]
    watchdog = config["route"]["routes"][0]
    assert (watchdog["repeat_interval"], watchdog["group_wait"]) == ("1m", "0s")
    heartbeat = next(r for r in config["receivers"] if r["name"] == "heartbeat")
    assert heartbeat["webhook_configs"] == [{"url": SECRETS["heartbeat_url"], "send_resolved": True}]


def test_without_receivers_or_heartbeat_everything_goes_to_the_null_receiver():
    config = alertmanager_config(settings(), {})
    assert config["receivers"] == [{"name": "default"}]
    assert notified(config, {"alertname": "Watchdog", "severity": "none"}) == ["default"]
    assert notified(config, {"alertname": "RouteDown", "severity": "critical"}) == ["default"]


def test_grouping_repeat_and_resolved_come_from_the_settings():
    config = alertmanager_config(settings(repeat_interval_s=7200, receivers=[{"kind": "webhook", "url":
                                                                             "https://hooks.example.test/x"}]), {})
    route = config["route"]
    assert (route["group_by"], route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        ["alertname", "route", "service", "container"], "10s", "1m", "2h")
    assert config["receivers"][1]["webhook_configs"] == [{"url": "https://hooks.example.test/x", "send_resolved": True}]


def test_each_receiver_kind_gets_its_secret_and_email_requires_tls():
    receivers = {r["name"]: r for r in alertmanager_config(every_receiver(), SECRETS)["receivers"]}
    assert receivers["slack-0"]["slack_configs"][0]["api_url"] == SECRETS["slack_url"]
    assert receivers["slack-0"]["slack_configs"][0]["channel"] == "#ops"
    assert receivers["discord-1"]["discord_configs"][0]["webhook_url"] == SECRETS["discord_url"]
    email = receivers["email-2"]["email_configs"][0]
    assert (email["auth_password"], email["require_tls"], email["from"]) == (SECRETS["smtp_password"], True,
                                                                            "alerts@example.test")
    assert all(config["send_resolved"] for r in receivers.values() for key, configs in r.items() if key != "name"
               for config in configs)


def test_secrets_are_in_the_alertmanager_config_and_nowhere_in_the_rules():
    monitoring = every_receiver()
    rules = render_rules(monitoring, rpo_s=3600, routes=["api"], certificates={"origin_pull_client": 2e9})
    alertmanager = render_alertmanager(monitoring, SECRETS)
    for value in SECRETS.values():
        assert value in alertmanager
        assert value not in rules


def test_a_secret_not_given_is_named():
    with pytest.raises(ValueError, match="config secret discord_url"):
        alertmanager_config(every_receiver(), {k: v for k, v in SECRETS.items() if k != "discord_url"})
