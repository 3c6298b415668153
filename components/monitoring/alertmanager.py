"""Alertmanager's configuration from the monitoring settings: the Watchdog to the heartbeat (the dead
man's switch), every other alert to each receiver whose least severity it reaches, resolved alerts
too. Pure: `secrets` holds the config secrets' values, so the rendered text is itself a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..settings.monitoring import ChatReceiver, EmailReceiver, MonitoringSettings, Receiver, WebhookReceiver
from .rules import duration, render_yaml

NULL_RECEIVER = "default"
HEARTBEAT_RECEIVER = "heartbeat"
GROUP_BY = ["alertname", "route", "service", "container"]
# A receiver gets the alerts of its least severity and above.
SEVERITY_MATCHERS = {"critical": 'severity="critical"', "warning": 'severity=~"critical|warning"'}

TITLE = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}"
TEXT = ("{{ range .Alerts }}{{ .Labels.alertname }}{{ with .Labels.service }} service={{ . }}{{ end }}"
        "{{ with .Labels.route }} route={{ . }}{{ end }}{{ with .Labels.container }} container={{ . }}{{ end }}: "
        "{{ .Annotations.description }}\n{{ end }}")


def secret_value(secrets: Mapping[str, str], name: str) -> str:
    if name not in secrets:
        raise ValueError(f"the monitoring reads config secret {name}, which was not given")
    return secrets[name]


def receiver_name(index: int, receiver: Receiver) -> str:
    return f"{receiver.kind}-{index}"


def webhook(receiver: WebhookReceiver, secrets: Mapping[str, str]) -> dict[str, Any]:
    url = receiver.url or secret_value(secrets, receiver.url_secret or "")
    return {"webhook_configs": [{"url": url, "send_resolved": True}]}


def chat(receiver: ChatReceiver, secrets: Mapping[str, str]) -> dict[str, Any]:
    url = secret_value(secrets, receiver.url_secret)
    if receiver.kind == "discord":
        return {"discord_configs": [{"webhook_url": url, "title": TITLE, "message": TEXT, "send_resolved": True}]}
    slack: dict[str, Any] = {"api_url": url, "title": TITLE, "text": TEXT, "send_resolved": True}
    if receiver.channel:
        slack["channel"] = receiver.channel
    return {"slack_configs": [slack]}


def email(receiver: EmailReceiver, secrets: Mapping[str, str]) -> dict[str, Any]:
    config: dict[str, Any] = {"to": receiver.to, "from": receiver.sender, "smarthost": receiver.smarthost,
                              "require_tls": True, "send_resolved": True}
    if receiver.username:
        config["auth_username"] = receiver.username
    if receiver.password_secret:
        config["auth_password"] = secret_value(secrets, receiver.password_secret)
    return {"email_configs": [config]}


def receiver_config(name: str, receiver: Receiver, secrets: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(receiver, WebhookReceiver):
        return {"name": name, **webhook(receiver, secrets)}
    if isinstance(receiver, ChatReceiver):
        return {"name": name, **chat(receiver, secrets)}
    return {"name": name, **email(receiver, secrets)}


def heartbeat_receiver(monitoring: MonitoringSettings, secrets: Mapping[str, str]) -> list[dict[str, Any]]:
    if not monitoring.heartbeat_url_secret:
        return []
    url = secret_value(secrets, monitoring.heartbeat_url_secret)
    return [{"name": HEARTBEAT_RECEIVER, "webhook_configs": [{"url": url, "send_resolved": True}]}]


def watchdog_route(monitoring: MonitoringSettings) -> dict[str, Any]:
    """First and final: the Watchdog pings the heartbeat every minute and reaches no team receiver."""
    receiver = HEARTBEAT_RECEIVER if monitoring.heartbeat_url_secret else NULL_RECEIVER
    return {"receiver": receiver, "matchers": ['alertname="Watchdog"'], "group_wait": "0s", "group_interval": "1m",
            "repeat_interval": "1m", "continue": False}


def severity_routes(monitoring: MonitoringSettings) -> list[dict[str, Any]]:
    # `continue`: every receiver the alert's severity reaches is notified, not only the first.
    return [{"receiver": receiver_name(index, receiver), "matchers": [SEVERITY_MATCHERS[receiver.severity]],
             "continue": True}
            for index, receiver in enumerate(monitoring.receivers)]


def alertmanager_config(monitoring: MonitoringSettings, secrets: Mapping[str, str]) -> dict[str, Any]:
    """Alertmanager's configuration; `secrets`: config secret name -> its value (the receivers' URLs and
    passwords, the heartbeat URL)."""
    receivers = [{"name": NULL_RECEIVER},
                 *(receiver_config(receiver_name(index, receiver), receiver, secrets)
                   for index, receiver in enumerate(monitoring.receivers)),
                 *heartbeat_receiver(monitoring, secrets)]
    route = {"receiver": NULL_RECEIVER, "group_by": GROUP_BY, "group_wait": "10s", "group_interval": "1m",
             "repeat_interval": duration(monitoring.repeat_interval_s),
             "routes": [watchdog_route(monitoring), *severity_routes(monitoring)]}
    # A critical alert makes the warning of the same problem on the same instance noise.
    inhibit = {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
               "equal": ["alertname", "instance"]}
    return {"route": route, "receivers": receivers, "inhibit_rules": [inhibit]}


def render_alertmanager(monitoring: MonitoringSettings, secrets: Mapping[str, str]) -> str:
    return render_yaml(alertmanager_config(monitoring, secrets))
