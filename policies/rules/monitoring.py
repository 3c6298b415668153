"""Monitoring: production runs Prometheus and Alertmanager, its alerts reach a receiver, and its
thresholds are no looser than the checklist's. Read from what the containers are given: the rule
file uploaded to Prometheus, the configuration uploaded to Alertmanager."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pulumi_policy import PolicyResource, Severity

from .base import CONTAINER, label_map, of_type, role, rule_maker

# alert -> (the checklist's figure, what the threshold measures): a rule may be stricter, never looser.
CHECKLIST_LIMITS = {"LatencyP99High": (1000.0, "p99 in ms"), "ErrorRateHigh": (1.0, "5xx share in %"),
                    "DiskHigh": (80.0, "disk use in %"), "MemoryHigh": (85.0, "memory use in %")}
# Receivers Alertmanager has that reach no one on the team.
NOT_THE_TEAM = {"default", "heartbeat", "null"}


def uploaded(props: Mapping[str, Any], suffix: str) -> str | None:
    for upload in props.get("uploads") or []:
        if str(upload.get("file") or "").endswith(suffix):
            return str(upload.get("content") or "")
    return None


def monitoring_container(containers: Sequence[PolicyResource], component: str) -> PolicyResource | None:
    return next((c for c in containers if role(c.props) == "monitoring"
                 and label_map(c.props).get("preflight.component") == component), None)


def alert_thresholds(rules_text: str) -> dict[str, float]:
    """alert -> the threshold its rule states (annotation `threshold`)."""
    found: dict[str, float] = {}
    for group in (yaml.safe_load(rules_text) or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            threshold = (rule.get("annotations") or {}).get("threshold")
            if rule.get("alert") and threshold is not None:
                found[rule["alert"]] = float(threshold)
    return found


def team_receivers(config_text: str) -> list[str]:
    receivers = (yaml.safe_load(config_text) or {}).get("receivers") or []
    return [r["name"] for r in receivers if r.get("name") not in NOT_THE_TEAM
            and any(key.endswith("_configs") and r[key] for key in r)]


def monitored_and_delivered(resources: Sequence[PolicyResource]):
    containers = of_type(resources, CONTAINER)
    if not containers:
        return
    prometheus = monitoring_container(containers, "prometheus")
    alertmanager = monitoring_container(containers, "alertmanager")
    if prometheus is None or alertmanager is None:
        yield ("run the monitoring (Prometheus and Alertmanager: remove preflight:monitoring.enabled: false); production's "
               "alerts must reach the team", containers[0])
        return
    rules = uploaded(prometheus.props, "rules.yml")
    thresholds = alert_thresholds(rules) if rules else {}
    for alert, (limit, measure) in CHECKLIST_LIMITS.items():
        if alert not in thresholds:
            yield f"{prometheus.name} has no {alert} rule ({measure}); the checklist alerts at {limit:g}", prometheus
        elif thresholds[alert] > limit:
            yield (f"{alert} on {prometheus.name} alerts at {thresholds[alert]:g} ({measure}), looser than the checklist's "
                   f"{limit:g}: lower preflight:monitoring.thresholds to at most {limit:g}"), prometheus
    config = uploaded(alertmanager.props, "alertmanager.yml")
    if config is not None and not team_receivers(config):
        yield ("send production's alerts to the team: add a receiver under preflight:monitoring.receivers "
               f"(webhook, slack, discord or email); {alertmanager.name} has none"), alertmanager


_rule = rule_maker("monitoring")

RULES = [
    _rule("PF-OBS-002", "Production is monitored, its alerts reach a receiver, its thresholds are the checklist's or "
          "stricter.", Severity.HIGH, "monitoring active, alerts configured for critical metrics, team alerts",
          monitored_and_delivered, production_only=True),
]
