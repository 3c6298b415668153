"""Monitoring: production runs Prometheus and Alertmanager, its alerts reach a receiver, and its
thresholds are no looser than the checklist's. Read from what the containers are given: the rule
file uploaded to Prometheus, the configuration uploaded to Alertmanager."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml
from pulumi_policy import PolicyResource, Severity
from pulumi_policy.proxy import UNKNOWN_OBJECT_VALUE, UnknownValueError

from .base import CONTAINER, label_map, of_type, role, rule_maker

# alert -> (the checklist's figure, what the threshold measures): a rule may be stricter, never looser.
CHECKLIST_LIMITS = {"LatencyP99High": (1000.0, "p99 in ms"), "ErrorRateHigh": (1.0, "5xx share in %"),
                    "DiskHigh": (80.0, "disk use in %"), "MemoryHigh": (85.0, "memory use in %")}
# The longest a checklist alert may wait before it fires (its `for:`).
MAX_FOR_S = 900
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


def alert_thresholds(rules_text: str) -> dict[str, tuple[float, int]]:
    """alert -> the threshold its rule states (annotation `threshold`) and how long it must hold (`for:`, in s)."""
    found: dict[str, tuple[float, int]] = {}
    for group in (yaml.safe_load(rules_text) or {}).get("groups") or []:
        for rule in group.get("rules") or []:
            threshold = (rule.get("annotations") or {}).get("threshold")
            if rule.get("alert") and threshold is not None:
                found[rule["alert"]] = (float(threshold), seconds(str(rule.get("for") or "0s")))
    return found


def seconds(duration: str) -> int:
    """A Prometheus duration as the rules write it ("90s", "5m", "1h", "1d")."""
    match = re.fullmatch(r"(\d+)([smhd])", duration)
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)] if match else 0


def team_receivers(config_text: str) -> list[str]:
    receivers = (yaml.safe_load(config_text) or {}).get("receivers") or []
    return [r["name"] for r in receivers if r.get("name") not in NOT_THE_TEAM
            and any(key.endswith("_configs") and r[key] for key in r)]


def monitored(resources: Sequence[PolicyResource]):
    """Prometheus and Alertmanager are among the stack's containers. At a preview a container to be
    created shows a stack rule no properties: then this is not known yet (the settings refuse
    production without monitoring before that)."""
    containers = of_type(resources, CONTAINER)
    if not containers:
        return
    known = [c for c in containers if "image" in c.props]
    if monitoring_container(known, "prometheus") is not None and monitoring_container(known, "alertmanager") is not None:
        return
    if len(known) < len(containers):  # they may be among the containers not known yet
        raise UnknownValueError(UNKNOWN_OBJECT_VALUE, ["containers", "props"])
    yield ("run the monitoring (Prometheus and Alertmanager: remove preflight:monitoring.enabled: false); production's "
           "alerts must reach the team", containers[0])


def checklist_thresholds(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) != "monitoring" or label_map(props).get("preflight.component") != "prometheus":
        return
    rules = uploaded(props, "rules.yml")
    thresholds = alert_thresholds(rules) if rules else {}
    for alert, (limit, measure) in CHECKLIST_LIMITS.items():
        if alert not in thresholds:
            yield f"Prometheus has no {alert} rule ({measure}); the checklist alerts at {limit:g}"
            continue
        threshold, held_s = thresholds[alert]
        if threshold > limit:
            yield (f"{alert} alerts at {threshold:g} ({measure}), looser than the checklist's {limit:g}: lower "
                   f"preflight:monitoring.thresholds to at most {limit:g}")
        if held_s > MAX_FOR_S:
            yield (f"{alert} waits {held_s}s before it fires, more than {MAX_FOR_S}s: an alert that late is no alert; "
                   f"lower preflight:monitoring.alert_for_s.{alert}")


def delivered(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) != "monitoring" or label_map(props).get("preflight.component") != "alertmanager":
        return
    config = uploaded(props, "alertmanager.yml")
    if config is not None and not team_receivers(config):
        yield ("send production's alerts to the team: add a receiver under preflight:monitoring.receivers "
               "(webhook, slack, discord or email); Alertmanager has none")


_rule = rule_maker("monitoring")

RULES = [
    _rule("PF-OBS-002", "Production runs its monitoring (Prometheus and Alertmanager).", Severity.HIGH,
          "monitoring active", monitored, production_only=True),
    _rule("PF-OBS-003", "Production's alerts reach a receiver, at thresholds no looser than the checklist's.",
          Severity.HIGH, "alerts configured for critical metrics (p99 > 1 s, 5xx > 1 %, disk > 80 %, memory > 85 %), "
          "team alerts", lambda props: [*checklist_thresholds(props), *delivered(props)], types=(CONTAINER,),
          production_only=True),
]
