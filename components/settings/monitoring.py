"""Monitoring: on every stack, Prometheus and Alertmanager on the stack's own networks, alert rules
from the checklist's thresholds, delivered to the team's receivers; on the cloud stacks also
Cloudflare's external health checks (on_call_email)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ..setting_types import ImageRef, Name, Strict
from .common import Limits
from .errors import fix

Severity = Literal["critical", "warning"]
HttpsUrl = Annotated[str, Field(pattern=r"^https?://[^\s/@]+(:\d+)?(/\S*)?$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]

# The alerts the rules generate (components/monitoring/rules.py), each with how long its condition
# must hold before it fires (Prometheus' `for:`): sustained, never one sample.
ALERT_FOR_S: dict[str, int] = {
    "RouteDown": 60,
    "LatencyP95High": 300,
    "LatencyP99High": 300,
    "ErrorRateHigh": 300,
    "CpuHigh": 600,
    "MemoryHigh": 300,
    "DiskHigh": 300,
    "PostgresConnectionsHigh": 300,
    "RedisMemoryHigh": 300,
    "QueueBacklog": 300,
    "ContainerCrashLooping": 0,
    "ContainerUnhealthy": 120,
    "BackupStale": 0,
    "RestoreDrillStale": 0,
    "CertificateRenewalDue": 0,
    "MonitoringTargetDown": 300,
}


class Thresholds(Strict):
    """The checklist's figures; an alert fires past them (the pack refuses looser ones in production)."""

    latency_p95_ms: int = Field(500, ge=10, le=60000, description="p95 of answers at the proxy (warning)")
    latency_p99_ms: int = Field(1000, ge=10, le=60000, description="p99 of answers at the proxy (critical)")
    error_rate_percent: float = Field(1.0, gt=0, le=100, description="share of 5xx answers at the proxy")
    cpu_percent: int = Field(80, ge=1, le=100)
    memory_percent: int = Field(85, ge=1, le=100)
    disk_percent: int = Field(80, ge=1, le=100)
    postgres_connections_percent: int = Field(80, ge=1, le=100, description="of max_connections")
    redis_memory_percent: int = Field(90, ge=1, le=100, description="of maxmemory")
    queue_length: int = Field(100, ge=1, description="items waiting in a named queue")
    restarts: int = Field(3, ge=1, le=100, description="restarts within 15 minutes: a crash loop")
    drill_age_days: int = Field(8, ge=1, le=90, description="the last good restore drill")
    certificate_days: int = Field(30, ge=1, le=365, description="a certificate's remaining life")


class WebhookReceiver(Strict):
    """Alertmanager's webhook JSON posted to `url`, or to the URL in config secret `url_secret`."""

    kind: Literal["webhook"]
    url: HttpsUrl | None = None
    url_secret: Name | None = None
    severity: Severity = Field("warning", description="the least severe alert it gets")

    @model_validator(mode="after")
    def _one_url(self) -> WebhookReceiver:
        if (self.url is None) == (self.url_secret is None):
            raise fix("set url (no token in it) or url_secret (a config secret holding it), not both or neither")
        return self


class ChatReceiver(Strict):
    """Slack or Discord: the incoming-webhook URL carries a token, so it comes from a config secret."""

    kind: Literal["slack", "discord"]
    url_secret: Name
    channel: str | None = Field(None, description="slack only: the channel (the webhook's default otherwise)")
    severity: Severity = "warning"


class EmailReceiver(Strict):
    kind: Literal["email"]
    to: Email
    sender: Email = Field(description="the From address")
    smarthost: str = Field(pattern=r"^[A-Za-z0-9.-]+:\d+$", description="host:port of the SMTP server")
    username: str | None = None
    password_secret: Name | None = None
    severity: Severity = "warning"


Receiver = Annotated[WebhookReceiver | ChatReceiver | EmailReceiver, Field(discriminator="kind")]


class Queue(Strict):
    """A Redis list the application uses as a job queue; its length is watched."""

    name: str = Field(min_length=1, max_length=200)
    db: int = Field(0, ge=0, le=15)


class MonitoringSettings(Strict):
    enabled: bool = True
    # One image holds Prometheus, Alertmanager and the exporters (scripts/images/monitoring).
    image: ImageRef = "preflight-local/monitoring:1"
    thresholds: Thresholds = Thresholds()
    receivers: list[Receiver] = []
    heartbeat_url_secret: Name | None = Field(
        None, description="config secret: a dead man's switch URL (healthchecks-style) the watchdog pings")
    queues: list[Queue] = []
    # Prometheus' `for:` per alert, where the defaults in ALERT_FOR_S do not fit.
    alert_for_s: dict[str, int] = {}
    scrape_interval_s: int = Field(15, ge=1, le=300)
    retention_days: int = Field(15, ge=1, le=365)
    repeat_interval_s: int = Field(4 * 3600, ge=60, description="how often a still-firing alert is sent again")
    prometheus_limits: Limits = Limits(memory_mb=256, cpus=0.5)
    exporter_limits: Limits = Limits(memory_mb=48, cpus=0.2)
    # Cloud stacks: Cloudflare's external checks of every public health URL (what an on-host monitor
    # cannot see: the host itself gone), reporting to this address.
    on_call_email: Email | None = None
    interval_s: int = Field(60, ge=15, le=3600)
    retries: int = Field(2, ge=0, le=5)

    @field_validator("alert_for_s")
    @classmethod
    def _known_alerts(cls, value: dict[str, int]) -> dict[str, int]:
        for alert, seconds in value.items():
            if alert not in ALERT_FOR_S:
                raise fix("{alert} is not an alert of the rules; use one of: {known}", alert=alert,
                          known=", ".join(sorted(ALERT_FOR_S)))
            if not 0 <= seconds <= 86400:
                raise fix("{alert}: use 0 to 86400 seconds", alert=alert)
        return value

    def for_s(self, alert: str) -> int:
        return self.alert_for_s.get(alert, ALERT_FOR_S[alert])

    @property
    def secrets(self) -> list[tuple[str, str]]:
        """(setting, config secret name) of every secret the monitoring reads."""
        named = [(f"monitoring.receivers[{i}].{field}", getattr(r, field)) for i, r in enumerate(self.receivers)
                 for field in ("url_secret", "password_secret") if getattr(r, field, None)]
        if self.heartbeat_url_secret:
            named.append(("monitoring.heartbeat_url_secret", self.heartbeat_url_secret))
        return named
