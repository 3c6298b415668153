"""The generated alert rules run in promtool: every alert fires on the series that must fire it,
with its labels and rendered annotations, and stays quiet on the near miss (just under the threshold,
or not held for its `for:` yet). The generated Alertmanager configs pass amtool.

promtool starts every test at time 0 and evaluates the rules each minute; series values are given
per minute (`a+bxN`: a, a+b, ... N more samples).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

import pytest
import yaml

from components.monitoring.alertmanager import render_alertmanager
from components.monitoring.rules import alert_rules, duration, render_rules
from components.settings.monitoring import ALERT_FOR_S, MonitoringSettings
from tests import daemons

DAY = 86400
RPO_S = 3600
ROUTES = ["api", "web"]
RENEW_AT = 30 * DAY + 3600  # a certificate that is due for renewal an hour after promtool's time 0
# Not-after of certificates no probe sees.
CERTIFICATES = {"origin_pull_client": RENEW_AT, "spare_client": 31 * DAY}
MONITORING = MonitoringSettings.model_validate({"queues": [{"name": "jobs"}, {"name": "mail", "db": 2}]})
RULES = alert_rules(MONITORING, rpo_s=RPO_S, routes=ROUTES, certificates=CERTIFICATES)

API_URL, WEB_URL = "https://api.example.test/health", "https://web.example.test/health"
PROXY = 'job="proxy", handler="subroute", server="srv0", method="GET", instance="proxy:2019"'
NODE = 'job="node", instance="node-exporter:9100"'
POSTGRES, REDIS, BACKUP = ('instance="postgres-exporter:9187"', 'instance="redis-exporter:9121"',
                           'instance="backup:9100"')
API_CONTAINER = 'container="preflight-local-api-1", service="api", role="app"'
API_CONTAINER_LABELS = {"container": "preflight-local-api-1", "service": "api", "role": "app"}


@dataclass
class Fired:
    labels: dict[str, str]
    value: str = ""  # how the annotations render {{ $value }}
    mentions: tuple[str, ...] = ()  # what the description must name


@dataclass
class Case:
    name: str
    alert: str
    series: dict[str, str]
    checks: list[tuple[int, list[Fired]]]
    threshold: str = ""  # the threshold as the description states it


def held(alert: str, fired: list[Fired], *, true_from_s: int = 0) -> list[tuple[int, list[Fired]]]:
    """Fires once its condition has held for `for:`, and is only pending a minute before."""
    fires_at = true_from_s + MONITORING.for_s(alert)
    return ([(fires_at - 60, [])] if MONITORING.for_s(alert) >= 60 else []) + [(fires_at, fired)]


def quiet(at_s: int) -> list[tuple[int, list[Fired]]]:
    return [(at_s, [])]


def probed(api: str = "1x10", web: str = "1x10") -> dict[str, str]:
    return {f'probe_success{{job="routes", route="api", instance="{API_URL}"}}': api,
            f'probe_success{{job="routes", route="web", instance="{WEB_URL}"}}': web,
            f'up{{job="routes", route="api", instance="{API_URL}"}}': "1x10",
            f'up{{job="routes", route="web", instance="{WEB_URL}"}}': "1x10"}


def latency(per_minute: dict[str, int], handler: str = "subroute") -> dict[str, str]:
    """Caddy's histogram: requests per minute up to each bucket bound (cumulative, like `le`)."""
    labels = PROXY.replace('handler="subroute"', f'handler="{handler}"') + ', code="200"'
    series = {f'caddy_http_request_duration_seconds_bucket{{{labels}, le="{le}"}}': f"0+{count}x20"
              for le, count in per_minute.items()}
    series[f"caddy_http_request_duration_seconds_count{{{labels}}}"] = f"0+{per_minute['+Inf']}x20"
    return series


def buckets(fast: int = 0, medium: int = 0, slow: int = 0, slower: int = 0) -> dict[str, int]:
    """Requests per minute in (0.25s, 0.5s], (0.5s, 1s], (1s, 2.5s] and above."""
    return {"0.25": 0, "0.5": fast, "1": fast + medium, "2.5": fast + medium + slow, "+Inf": fast + medium + slow + slower}


def answers(ok: float, errors: float) -> dict[str, str]:
    return {f'caddy_http_request_duration_seconds_count{{{PROXY}, code="200"}}': f"0+{ok}x20",
            f'caddy_http_request_duration_seconds_count{{{PROXY}, code="502"}}': f"0+{errors}x20"}


def cpu(idle_per_minute: float) -> dict[str, str]:
    return {f'node_cpu_seconds_total{{{NODE}, cpu="0", mode="idle"}}': f"0+{idle_per_minute}x20",
            f'node_cpu_seconds_total{{{NODE}, cpu="0", mode="user"}}': f"0+{60 - idle_per_minute}x20"}


def filesystem(mountpoint: str, avail: int, device: str = "tmpfs", fstype: str = "tmpfs") -> dict[str, str]:
    labels = f'{NODE}, device="{device}", fstype="{fstype}", mountpoint="{mountpoint}"'
    return {f"node_filesystem_avail_bytes{{{labels}}}": f"{avail}x10", f"node_filesystem_size_bytes{{{labels}}}": "100x10"}


def disk_labels(mountpoint: str, device: str, fstype: str) -> dict[str, str]:
    return {"severity": "critical", "job": "node", "instance": "node-exporter:9100", "device": device, "fstype": fstype,
            "mountpoint": mountpoint}


def connections(active: int, idle: int) -> dict[str, str]:
    return {f'pg_stat_activity_count{{{POSTGRES}, datname="app", state="active"}}': f"{active}x10",
            f'pg_stat_activity_count{{{POSTGRES}, datname="app", state="idle"}}': f"{idle}x10",
            f'pg_settings_max_connections{{{POSTGRES}, server="postgres:5432"}}': "100x10"}


def redis_memory(used: int, maximum: int) -> dict[str, str]:
    return {f"redis_memory_used_bytes{{{REDIS}}}": f"{used}x10", f"redis_memory_max_bytes{{{REDIS}}}": f"{maximum}x10"}


def queues(jobs: int, mail: int) -> dict[str, str]:
    return {f'redis_key_size{{{REDIS}, db="db0", key="jobs"}}': f"{jobs}x10",
            f'redis_key_size{{{REDIS}, db="db2", key="mail"}}': f"{mail}x10",
            # The same key in a database no queue is declared in.
            f'redis_key_size{{{REDIS}, db="db1", key="jobs"}}': "500x10"}


def queue_labels(db: str, key: str) -> dict[str, str]:
    return {"severity": "warning", "instance": "redis-exporter:9121", "db": db, "key": key}


def crit(**labels: str) -> dict[str, str]:
    return {"severity": "critical", **labels}


def warn(**labels: str) -> dict[str, str]:
    return {"severity": "warning", **labels}


PROXY_LABELS = {"instance": "proxy:2019"}
HOST_LABELS = {"instance": "node-exporter:9100"}

CASES = [
    Case("a failing probe", "RouteDown", probed(api="0x10"),
         held("RouteDown", [Fired(crit(job="routes", route="api", instance=API_URL), mentions=("api", API_URL))])),
    Case("every probe succeeds", "RouteDown", probed(), quiet(300)),
    Case("a route nobody probes", "RouteDown", {f'up{{job="routes", route="api", instance="{API_URL}"}}': "1x10",
                                                f'probe_success{{job="routes", route="api", instance="{API_URL}"}}': "1x10"},
         held("RouteDown", [Fired(crit(job="routes", route="web", reason="not_probed"), mentions=("web",))])),

    Case("p95 in (0.5s, 1s]", "LatencyP95High", latency(buckets(medium=100)), threshold="500ms",
         checks=held("LatencyP95High", [Fired(warn(**PROXY_LABELS), "975ms", ("proxy:2019",))], true_from_s=60)),
    Case("p95 under 0.5s, slow answers of another handler", "LatencyP95High",
         {**latency(buckets(fast=100)), **latency(buckets(slower=100), handler="file_server")}, quiet(900)),
    Case("no traffic", "LatencyP95High", latency(buckets()), quiet(900)),
    Case("p99 in (1s, 2.5s]", "LatencyP99High", latency(buckets(slow=100)), threshold="1000ms",
         checks=held("LatencyP99High", [Fired(crit(**PROXY_LABELS), "2.485s", ("proxy:2019",))], true_from_s=60)),
    Case("p99 under 1s", "LatencyP99High", latency(buckets(medium=100)), quiet(900)),

    Case("2% 5xx", "ErrorRateHigh", answers(98, 2), threshold="1%",
         checks=held("ErrorRateHigh", [Fired(crit(**PROXY_LABELS), "2.0", ("proxy:2019",))], true_from_s=60)),
    Case("0.9% 5xx", "ErrorRateHigh", answers(991, 9), quiet(900)),
    Case("no traffic", "ErrorRateHigh", answers(0, 0), quiet(900)),

    Case("90% busy", "CpuHigh", cpu(6), threshold="80%",
         checks=held("CpuHigh", [Fired(warn(**HOST_LABELS), "90.0", ("node-exporter:9100",))], true_from_s=60)),
    Case("79% busy", "CpuHigh", cpu(12.6), quiet(1200)),

    Case("90% of memory", "MemoryHigh", {f"node_memory_MemAvailable_bytes{{{NODE}}}": "10x10",
                                         f"node_memory_MemTotal_bytes{{{NODE}}}": "100x10"}, threshold="85%",
         checks=held("MemoryHigh", [Fired(crit(job="node", **HOST_LABELS), "90.0", ("node-exporter:9100",))])),
    Case("84% of memory", "MemoryHigh", {f"node_memory_MemAvailable_bytes{{{NODE}}}": "16x10",
                                         f"node_memory_MemTotal_bytes{{{NODE}}}": "100x10"}, quiet(600)),

    Case("a full tmpfs volume and host disk, a full bind mount ignored", "DiskHigh",
         {**filesystem("/volumes/pgdata", 15), **filesystem("/host/mnt/data", 10, "/dev/sdb", "ext4"),
          **filesystem("/host", 50, "/dev/sda1", "ext4"), **filesystem("/etc/hostname", 1, "/dev/sda1", "ext4")},
         threshold="80%", checks=held("DiskHigh", [
             Fired(disk_labels("/volumes/pgdata", "tmpfs", "tmpfs"), "85.0", ("/volumes/pgdata", "tmpfs")),
             Fired(disk_labels("/host/mnt/data", "/dev/sdb", "ext4"), "90.0", ("/host/mnt/data", "/dev/sdb"))])),
    Case("79% full", "DiskHigh", filesystem("/volumes/pgdata", 21), quiet(600)),

    Case("85 of 100 connections", "PostgresConnectionsHigh", connections(50, 35), threshold="80%",
         checks=held("PostgresConnectionsHigh", [Fired(crit(instance="postgres-exporter:9187"), "85.0",
                                                      ("postgres-exporter:9187",))])),
    Case("79 of 100 connections", "PostgresConnectionsHigh", connections(50, 29), quiet(600)),

    Case("95% of maxmemory", "RedisMemoryHigh", redis_memory(95, 100), threshold="90%",
         checks=held("RedisMemoryHigh", [Fired(warn(instance="redis-exporter:9121"), "95.0", ("redis-exporter:9121",))])),
    Case("89% of maxmemory", "RedisMemoryHigh", redis_memory(89, 100), quiet(600)),
    Case("no maxmemory", "RedisMemoryHigh", redis_memory(95, 0), quiet(600)),

    Case("both queues backed up", "QueueBacklog", queues(150, 101), threshold="100", checks=held("QueueBacklog", [
        Fired(queue_labels("db0", "jobs"), "150", ("jobs", "db0")), Fired(queue_labels("db2", "mail"), "101", ("mail",))])),
    Case("100 items is not a backlog", "QueueBacklog", queues(100, 3), quiet(600)),

    Case("3 restarts in 15 minutes", "ContainerCrashLooping", {f"preflight_container_restarts_total{{{API_CONTAINER}}}":
                                                                "0x10 1 2 3 3x10"}, threshold="3",
         checks=[(12 * 60, []), (20 * 60, [Fired(crit(**API_CONTAINER_LABELS), "3", ("preflight-local-api-1", "api"))])]),
    Case("2 restarts", "ContainerCrashLooping", {f"preflight_container_restarts_total{{{API_CONTAINER}}}": "0x10 1 2 2x10"},
         quiet(20 * 60)),

    Case("an unhealthy container", "ContainerUnhealthy", {f"preflight_container_up{{{API_CONTAINER}}}": "0x10"},
         held("ContainerUnhealthy", [Fired(crit(**API_CONTAINER_LABELS), mentions=("preflight-local-api-1", "api"))])),
    Case("a healthy container", "ContainerUnhealthy", {f"preflight_container_up{{{API_CONTAINER}}}": "1x10"}, quiet(600)),

    # A success at time 0: stale once older than the RPO and the grace (70 minutes).
    Case("the last backup 71 minutes ago", "BackupStale",
         {f"preflight_backup_last_success_timestamp_seconds{{{BACKUP}}}": "0x80"}, threshold="70m",
         checks=[(70 * 60, []), (71 * 60, [Fired(crit(instance="backup:9100"), "1h 11m 0s", ("backup:9100",))])]),
    # Absent from time 0: fires once absent for the RPO.
    Case("no backup ever reported", "BackupStale", {f"up{{{NODE}}}": "1x70"},
         [(RPO_S - 60, []), (RPO_S, [Fired(crit(reason="not_reported"), mentions=("1h",))])]),

    # Before time 0 (promtool's start): a drill 8 days and a minute ago, and one a minute younger than 8 days.
    Case("the last drill 8 days ago", "RestoreDrillStale",
         {f"preflight_restore_drill_last_success_timestamp_seconds{{{BACKUP}}}": f"{-(8 * DAY + 60)}x5"},
         threshold="8 days", checks=[(0, [Fired(warn(instance="backup:9100"), "8d 0h 1m 0s", ("backup:9100",))])]),
    Case("the last drill just under 8 days ago", "RestoreDrillStale",
         {f"preflight_restore_drill_last_success_timestamp_seconds{{{BACKUP}}}": f"{-(8 * DAY - 60)}x5"}, quiet(0)),

    Case("a route's and a known certificate with 30 days left after an hour, others with 31", "CertificateRenewalDue",
         {f'probe_ssl_earliest_cert_expiry{{job="routes", route="api", instance="{API_URL}"}}': f"{RENEW_AT}x70",
          f'probe_ssl_earliest_cert_expiry{{job="routes", route="web", instance="{WEB_URL}"}}': f"{31 * DAY}x70"},
         threshold="30 days", checks=[(60 * 60, []), (61 * 60, [
             Fired(warn(job="routes", route="api", instance=API_URL), "29d 23h 59m 0s", ("api", API_URL)),
             Fired(warn(certificate="origin_pull_client", source="deploy"), "29d 23h 59m 0s", ("origin_pull_client",))])]),

    Case("a target down", "MonitoringTargetDown", {f"up{{{NODE}}}": "0x10"},
         held("MonitoringTargetDown", [Fired(warn(job="node", **HOST_LABELS), mentions=("node", "node-exporter:9100"))])),
    Case("every target up", "MonitoringTargetDown", {f"up{{{NODE}}}": "1x10"}, quiet(600)),

    Case("always", "Watchdog", {f"up{{{NODE}}}": "1x5"}, [(at_s, [Fired({"severity": "none"})]) for at_s in (0, 180)]),
]


def labels_named(rule: dict) -> set[str]:
    return {name for text in rule["annotations"].values() for name in re.findall(r"\$labels\.(\w+)", text)}


def rule_for(alert: str, labels: dict[str, str]) -> dict:
    """The rule of `alert` that produced these labels: it carries the rule's labels and those its annotations name."""
    [rule] = [rule for group in RULES["groups"] for rule in group["rules"] if rule["alert"] == alert and
              rule["labels"].items() <= labels.items() and labels_named(rule) <= labels.keys()]
    return rule


def rendered(template: str, fired: Fired) -> str:
    """The annotation as Prometheus renders it, for the templates the rules use: labels and one value."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: fired.labels.get(m.group(1), ""), template)
    return re.sub(r"\{\{ \$value[^}]*\}\}", fired.value, text)


def expected_alert(case: Case, fired: Fired) -> dict:
    """What promtool must see fire (its annotations exactly), once they are checked to name what matters."""
    templates = rule_for(case.alert, fired.labels)["annotations"]
    annotations = {key: rendered(template, fired) for key, template in templates.items()}
    if "$value" in templates["description"]:
        assert fired.value and fired.value in annotations["description"], (case.name, annotations)
    assert all(name in annotations["description"] for name in fired.mentions), (case.name, annotations)
    assert f"threshold {case.threshold}" in annotations["description"] or not case.threshold, (case.name, annotations)
    return {"exp_labels": fired.labels, "exp_annotations": annotations}


def promtool_test(case: Case) -> dict:
    return {"name": f"{case.alert}: {case.name}", "interval": "1m",
            "input_series": [{"series": series, "values": values} for series, values in case.series.items()],
            "alert_rule_test": [{"eval_time": duration(at_s), "alertname": case.alert,
                                 "exp_alerts": [expected_alert(case, fired) for fired in fired_alerts]}
                                for at_s, fired_alerts in case.checks]}


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module", autouse=True)
def tools():
    missing = [p for p in daemons.missing_packages() if p in ("prometheus", "prometheus-alertmanager")]
    if missing:
        pytest.fail("these tests run promtool and amtool, from the Debian packages " + ", ".join(missing) +
                    ", which `make test` installs (scripts/test-deps.sh)")


def test_every_alert_has_a_case_that_fires_it_and_one_that_does_not():
    fired = {case.alert for case in CASES for _, alerts in case.checks if alerts}
    quiet_ones = {case.alert for case in CASES for _, alerts in case.checks if not alerts}
    assert fired == {*ALERT_FOR_S, "Watchdog"}
    assert quiet_ones == {*ALERT_FOR_S}


@pytest.mark.parametrize("arguments", [
    {"rpo_s": RPO_S, "routes": ROUTES, "certificates": CERTIFICATES},
    {"rpo_s": 86400, "routes": []},
], ids=["every rule", "fewest rules"])
def test_promtool_accepts_the_rules(tmp_path, arguments):
    monitoring = MONITORING if arguments["routes"] else MonitoringSettings()
    (tmp_path / "rules.yml").write_text(render_rules(monitoring, **arguments))
    # Lint errors (two rules of one alert with the same labels) only fail with --lint-fatal.
    result = run("promtool", "check", "rules", "--lint-fatal", str(tmp_path / "rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_on_its_condition_and_stays_quiet_on_the_near_miss(tmp_path):
    (tmp_path / "rules.yml").write_text(render_rules(MONITORING, rpo_s=RPO_S, routes=ROUTES, certificates=CERTIFICATES))
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [promtool_test(case) for case in CASES]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False, width=1000))
    result = run("promtool", "test", "rules", str(tmp_path / "tests.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


SECRETS = {"hook_url": "https://hooks.example.test/t0ken", "slack_url": "https://hooks.slack.com/services/T0/B0/x",
           "discord_url": "https://discord.com/api/webhooks/1/x", "smtp_password": "p4ss",
           "heartbeat_url": "https://hc-ping.example.test/uuid"}
RECEIVERS = {
    "webhook": {"kind": "webhook", "url": "https://hooks.example.test/alerts"},
    "webhook from a secret": {"kind": "webhook", "url_secret": "hook_url", "severity": "critical"},
    "slack": {"kind": "slack", "url_secret": "slack_url", "channel": "#ops"},
    "discord": {"kind": "discord", "url_secret": "discord_url", "severity": "critical"},
    "email": {"kind": "email", "to": "oncall@example.test", "sender": "alerts@example.test",
              "smarthost": "smtp.example.test:587", "username": "alerts", "password_secret": "smtp_password"},
}
ALERTMANAGER_SETTINGS = {
    "no receiver": {},
    **{name: {"receivers": [receiver]} for name, receiver in RECEIVERS.items()},
    "heartbeat only": {"heartbeat_url_secret": "heartbeat_url"},
    "everything": {"receivers": list(RECEIVERS.values()), "heartbeat_url_secret": "heartbeat_url"},
}


@pytest.mark.parametrize("values", ALERTMANAGER_SETTINGS.values(), ids=ALERTMANAGER_SETTINGS.keys())
def test_amtool_accepts_the_alertmanager_config(tmp_path, values):
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager(MonitoringSettings.model_validate(values), SECRETS))
    result = run("amtool", "check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
