"""Prometheus' alert rules from the monitoring settings: one group per concern; every alert holds
for its `for:` (ALERT_FOR_S or the stack's override), carries its severity, and says what is wrong,
where, the measured value and the threshold. Pure: the monitoring component writes `render_rules`
into Prometheus' rule file.

The metrics are those of the exporters the component runs: blackbox (job "routes", one target per
route, labelled `route`), Caddy's own metrics (job "proxy"), node_exporter (job "node"),
postgres_exporter, redis_exporter, and Preflight's container and backup metrics.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from ..settings.backup import GRACE_S
from ..settings.monitoring import MonitoringSettings, Queue, Severity

Rule = dict[str, Any]

# Caddy labels a request with the handler at the top of its route: a site's `handle` blocks are
# subroutes (the redirect, the 421 catch-all and the metrics endpoint are other handlers).
PROXY = 'job="proxy", handler="subroute"'
NODE = 'job="node"'
# The host's root is mounted at /host (its other disks under /host/mnt), the data volumes at
# /volumes/<name>; tmpfs stays in: a volume may be one, and it fills up like any other.
FILESYSTEMS = 'job="node", mountpoint=~"/host|/host/mnt/.+|/volumes/.+"'
RATE_WINDOW = "5m"
CRASH_WINDOW = "15m"

PERCENT = '{{ $value | printf "%.1f" }}%'
SECONDS = "{{ $value | humanizeDuration }}"
COUNT = '{{ $value | printf "%.0f" }}'
CONTAINER = "{{ $labels.container }} (service {{ $labels.service }}, role {{ $labels.role }})"


def duration(seconds: int) -> str:
    """A Prometheus and Alertmanager duration in the largest unit that divides it: 90 -> "90s", 300 -> "5m"."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def quoted(value: str) -> str:
    """A PromQL string literal (JSON's escapes are a subset of PromQL's)."""
    return json.dumps(value, ensure_ascii=False)


def alert(monitoring: MonitoringSettings, name: str, expr: str, severity: Severity | None, *, summary: str,
          description: str, for_s: int | None = None, labels: Mapping[str, str] | None = None,
          threshold: float | None = None) -> Rule:
    """threshold: the setting's figure, in its own unit (ms, %, count), also in the annotations: what the
    policy pack compares with the checklist's."""
    annotations = {"summary": summary, "description": description}
    if threshold is not None:
        annotations["threshold"] = f"{threshold:g}"
    return {"alert": name, "expr": expr, "for": duration(monitoring.for_s(name) if for_s is None else for_s),
            "labels": {"severity": severity or "none", **(labels or {})}, "annotations": annotations}


def route_rules(monitoring: MonitoringSettings, routes: Sequence[str]) -> list[Rule]:
    held = duration(monitoring.for_s("RouteDown"))
    down = alert(monitoring, "RouteDown", 'probe_success{job="routes"} == 0', "critical",
                 summary="Route {{ $labels.route }} is down",
                 description=f"The probe of {{{{ $labels.instance }}}} (route {{{{ $labels.route }}}}) has failed for {held}.")
    # A route with no probe target at all would never be seen down; its `up` carries the route label.
    # (`reason` tells the rules apart: promtool's lint reports two rules of one alert with the same labels.)
    unprobed = " or ".join(f'absent(up{{job="routes", route={quoted(route)}}})' for route in routes)
    if not unprobed:
        return [down]
    return [down, alert(monitoring, "RouteDown", unprobed, "critical", labels={"reason": "not_probed"},
                        summary="Route {{ $labels.route }} is not probed",
                        description=f"No probe of route {{{{ $labels.route }}}} for {held}: its state is unknown.")]


def latency_rule(monitoring: MonitoringSettings, name: str, quantile: float, threshold_ms: int, severity: Severity) -> Rule:
    percentile = f"p{round(quantile * 100)}"
    buckets = f"sum by (le, instance) (rate(caddy_http_request_duration_seconds_bucket{{{PROXY}}}[{RATE_WINDOW}]))"
    # With no requests the quantile is NaN and never above; the traffic condition says so explicitly.
    traffic = f"sum by (instance) (rate(caddy_http_request_duration_seconds_count{{{PROXY}}}[{RATE_WINDOW}])) > 0"
    return alert(monitoring, name, f"histogram_quantile({quantile}, {buckets}) > {threshold_ms / 1000:g} and {traffic}",
                 severity, threshold=threshold_ms,
                 summary=f"Proxy {percentile} latency above {threshold_ms}ms at {{{{ $labels.instance }}}}",
                 description=f"The {percentile} of answers through the proxy {{{{ $labels.instance }}}} is {SECONDS} "
                             f"over {RATE_WINDOW} (threshold {threshold_ms}ms).")


def error_rate_rule(monitoring: MonitoringSettings) -> Rule:
    threshold = monitoring.thresholds.error_rate_percent
    errors = f'sum by (instance) (rate(caddy_http_request_duration_seconds_count{{{PROXY}, code=~"5.."}}[{RATE_WINDOW}]))'
    answers = f"sum by (instance) (rate(caddy_http_request_duration_seconds_count{{{PROXY}}}[{RATE_WINDOW}]))"
    # No traffic divides by zero: NaN, never above the threshold.
    return alert(monitoring, "ErrorRateHigh", f"100 * {errors} / {answers} > {threshold:g}", "critical", threshold=threshold,
                 summary=f"5xx answers above {threshold:g}% at {{{{ $labels.instance }}}}",
                 description=f"{PERCENT} of the answers through the proxy {{{{ $labels.instance }}}} are 5xx "
                             f"over {RATE_WINDOW} (threshold {threshold:g}%).")


def proxy_rules(monitoring: MonitoringSettings) -> list[Rule]:
    thresholds = monitoring.thresholds
    return [latency_rule(monitoring, "LatencyP95High", 0.95, thresholds.latency_p95_ms, "warning"),
            latency_rule(monitoring, "LatencyP99High", 0.99, thresholds.latency_p99_ms, "critical"),
            error_rate_rule(monitoring)]


def host_rules(monitoring: MonitoringSettings) -> list[Rule]:
    thresholds = monitoring.thresholds
    busy = f'100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{{{NODE}, mode="idle"}}[{RATE_WINDOW}])))'
    used_memory = f"100 * (1 - node_memory_MemAvailable_bytes{{{NODE}}} / node_memory_MemTotal_bytes{{{NODE}}})"
    used_disk = f"100 * (1 - node_filesystem_avail_bytes{{{FILESYSTEMS}}} / node_filesystem_size_bytes{{{FILESYSTEMS}}})"
    return [
        alert(monitoring, "CpuHigh", f"{busy} > {thresholds.cpu_percent}", "warning", threshold=thresholds.cpu_percent,
              summary=f"CPU above {thresholds.cpu_percent}% on {{{{ $labels.instance }}}}",
              description=f"The host {{{{ $labels.instance }}}} is {PERCENT} busy over {RATE_WINDOW} "
                          f"(threshold {thresholds.cpu_percent}%)."),
        alert(monitoring, "MemoryHigh", f"{used_memory} > {thresholds.memory_percent}", "critical",
              threshold=thresholds.memory_percent,
              summary=f"Memory above {thresholds.memory_percent}% on {{{{ $labels.instance }}}}",
              description=f"The host {{{{ $labels.instance }}}} uses {PERCENT} of its memory "
                          f"(threshold {thresholds.memory_percent}%)."),
        alert(monitoring, "DiskHigh", f"{used_disk} > {thresholds.disk_percent}", "critical", threshold=thresholds.disk_percent,
              summary=f"Disk {{{{ $labels.mountpoint }}}} above {thresholds.disk_percent}% full",
              description=f"{{{{ $labels.mountpoint }}}} ({{{{ $labels.device }}}}) on {{{{ $labels.instance }}}} is "
                          f"{PERCENT} full (threshold {thresholds.disk_percent}%)."),
    ]


def postgres_rules(monitoring: MonitoringSettings) -> list[Rule]:
    threshold = monitoring.thresholds.postgres_connections_percent
    used = "100 * sum by (instance) (pg_stat_activity_count) / max by (instance) (pg_settings_max_connections)"
    return [alert(monitoring, "PostgresConnectionsHigh", f"{used} > {threshold}", "critical", threshold=threshold,
                  summary=f"Postgres connections above {threshold}% of max_connections",
                  description=f"Postgres at {{{{ $labels.instance }}}} uses {PERCENT} of max_connections "
                              f"(threshold {threshold}%).")]


def queue_rule(monitoring: MonitoringSettings, queues: Sequence[Queue]) -> Rule:
    limit = monitoring.thresholds.queue_length
    lengths = (f"redis_key_size{{key={quoted(queue.name)}, db={quoted(f'db{queue.db}')}}} > {limit}" for queue in queues)
    return alert(monitoring, "QueueBacklog", " or ".join(lengths), "warning",
                 summary="Queue {{ $labels.key }} is backed up",
                 description=f"Queue {{{{ $labels.key }}}} (Redis {{{{ $labels.db }}}}) holds {COUNT} items "
                             f"(threshold {limit}).")


def redis_rules(monitoring: MonitoringSettings, queues: Sequence[Queue]) -> list[Rule]:
    threshold = monitoring.thresholds.redis_memory_percent
    # Without maxmemory the ratio is +Inf: not a limit being reached.
    memory = alert(monitoring, "RedisMemoryHigh",
                   f"redis_memory_used_bytes / redis_memory_max_bytes * 100 > {threshold} and redis_memory_max_bytes > 0",
                   "warning", summary=f"Redis memory above {threshold}% of maxmemory",
                   description=f"Redis at {{{{ $labels.instance }}}} uses {PERCENT} of its maxmemory (threshold {threshold}%).")
    return [memory, queue_rule(monitoring, queues)] if queues else [memory]


def container_rules(monitoring: MonitoringSettings) -> list[Rule]:
    restarts = monitoring.thresholds.restarts
    return [
        alert(monitoring, "ContainerCrashLooping",
              f"increase(preflight_container_restarts_total[{CRASH_WINDOW}]) >= {restarts}", "critical",
              summary="Container {{ $labels.container }} is crash looping",
              description=f"{CONTAINER} restarted {COUNT} times in {CRASH_WINDOW} (threshold {restarts})."),
        # One series per container whatever its state and health labels say: a change of state would start
        # a new series, and the `for:` again.
        alert(monitoring, "ContainerUnhealthy", "min without (state, health) (preflight_container_up) == 0", "critical",
              summary="Container {{ $labels.container }} is down or unhealthy",
              description=f"{CONTAINER} has not been running and healthy for "
                          f"{duration(monitoring.for_s('ContainerUnhealthy'))}."),
    ]


def backup_rules(monitoring: MonitoringSettings, rpo_s: int) -> list[Rule]:
    allowed_s = rpo_s + GRACE_S
    drill_days = monitoring.thresholds.drill_age_days
    return [
        alert(monitoring, "BackupStale", f"time() - preflight_backup_last_success_timestamp_seconds > {allowed_s}",
              "critical", summary="The last good backup is older than the RPO",
              description=f"The last good backup of {{{{ $labels.instance }}}} is {SECONDS} old "
                          f"(threshold {duration(allowed_s)}: the RPO {duration(rpo_s)} and {duration(GRACE_S)} grace)."),
        # A backup job that never reported (or stopped reporting) is no more a backup than a stale one.
        alert(monitoring, "BackupStale", "absent(preflight_backup_last_success_timestamp_seconds)", "critical",
              for_s=rpo_s, labels={"reason": "not_reported"}, summary="No backup has reported success",
              description=f"No backup has reported a success for {duration(rpo_s)} (the RPO)."),
        alert(monitoring, "RestoreDrillStale",
              f"time() - preflight_restore_drill_last_success_timestamp_seconds > {drill_days * 86400}", "warning",
              summary="The last good restore drill is too old",
              description=f"The last good restore drill of {{{{ $labels.instance }}}} is {SECONDS} old "
                          f"(threshold {drill_days} days)."),
        # A stack that never drilled has no drill to be old: after the same days, that is stale too.
        alert(monitoring, "RestoreDrillStale", "absent(preflight_restore_drill_last_success_timestamp_seconds)", "warning",
              for_s=drill_days * 86400, labels={"reason": "not_reported"}, summary="No restore drill has passed",
              description=f"No restore drill has reported a success for {drill_days} days."),
    ]


def certificate_rules(monitoring: MonitoringSettings, certificates: Mapping[str, float]) -> list[Rule]:
    days = monitoring.thresholds.certificate_days
    renew_s = days * 86400
    served = alert(monitoring, "CertificateRenewalDue", f'probe_ssl_earliest_cert_expiry{{job="routes"}} - time() < {renew_s}',
                   "warning", summary="The certificate of route {{ $labels.route }} expires soon",
                   description=f"The certificate served at {{{{ $labels.instance }}}} (route {{{{ $labels.route }}}}) "
                               f"expires in {SECONDS} (threshold {days} days).")
    if not certificates:
        return [served]
    # Certificates no probe sees (the origin-pull client certificate): their not-after is known at deploy.
    # The name is a label of the series, not of the rule: annotations only see the series' labels.
    remaining = " or ".join(
        f'label_replace(vector({not_after:.0f} - time()), "certificate", {quoted(name.replace("$", "$$"))}, "", "")'
        for name, not_after in sorted(certificates.items()))
    # `source` tells this rule from the probes' (promtool's lint reports two rules of one alert with the same labels).
    known = alert(monitoring, "CertificateRenewalDue", f"({remaining}) < {renew_s}", "warning", labels={"source": "deploy"},
                  summary="The certificate {{ $labels.certificate }} expires soon",
                  description=f"The certificate {{{{ $labels.certificate }}}} expires in {SECONDS} (threshold {days} days).")
    return [served, known]


def monitoring_rules(monitoring: MonitoringSettings) -> list[Rule]:
    return [
        alert(monitoring, "MonitoringTargetDown", "up == 0", "warning",
              summary="Prometheus cannot scrape {{ $labels.job }} at {{ $labels.instance }}",
              description=f"The {{{{ $labels.job }}}} target {{{{ $labels.instance }}}} has not answered a scrape "
                          f"for {duration(monitoring.for_s('MonitoringTargetDown'))}: its alerts cannot fire."),
        # The dead man's switch: always firing; when its heartbeat stops, the alerting itself is down.
        alert(monitoring, "Watchdog", "vector(1)", None, for_s=0, summary="Alerting works",
              description="Always firing, so the heartbeat receiver proves Prometheus and Alertmanager deliver alerts."),
    ]


def alert_rules(monitoring: MonitoringSettings, *, rpo_s: int, routes: Sequence[str],
                certificates: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Prometheus' rule file. `routes`: the names of the routed services (blackbox probes them, labelled
    `route`); the queues come from `monitoring.queues`; `certificates`: name -> not-after (unix time)
    of certificates no probe sees."""
    groups = {
        "routes": route_rules(monitoring, routes),
        "proxy": proxy_rules(monitoring),
        "host": host_rules(monitoring),
        "postgres": postgres_rules(monitoring),
        "redis": redis_rules(monitoring, monitoring.queues),
        "containers": container_rules(monitoring),
        "backups": backup_rules(monitoring, rpo_s),
        "certificates": certificate_rules(monitoring, certificates or {}),
        "monitoring": monitoring_rules(monitoring),
    }
    return {"groups": [{"name": name, "rules": rules} for name, rules in groups.items()]}


def render_yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, width=1000, allow_unicode=True)


def render_rules(monitoring: MonitoringSettings, *, rpo_s: int, routes: Sequence[str],
                 certificates: Mapping[str, float] | None = None) -> str:
    return render_yaml(alert_rules(monitoring, rpo_s=rpo_s, routes=routes, certificates=certificates))
