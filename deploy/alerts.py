"""The stack's alerts, read where they are decided (Prometheus: firing, with value and since when)
and a test notification sent through every receiver (Alertmanager: which answered, which failed).

Both live on the stack's internal network only: their APIs are asked from inside their own
containers (`docker exec ... wget`), over the same SSH connection as every other operation."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import stack
from .docker import Docker, DockerError
from .exit_codes import Exit

PROMETHEUS_API = "http://127.0.0.1:9090/api/v1"
ALERTMANAGER_API = "http://127.0.0.1:9093/api/v2"
ALERTMANAGER_METRICS = "http://127.0.0.1:9093/metrics"
TEST_ALERT = "PreflightTestNotification"
IGNORED = {"Watchdog"}  # always firing by design: the dead man's switch


@dataclass
class Alert:
    name: str
    state: str  # firing | pending
    severity: str
    since: str
    value: str
    labels: dict[str, str]
    summary: str

    def line(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items())
                          if k in ("route", "service", "container", "instance", "mountpoint", "key"))
        return f"{self.severity.upper():8} {self.name} ({self.state} since {self.since}) value {self.value}" + \
            (f" [{where}]" if where else "") + (f": {self.summary}" if self.summary else "")


def fetch(docker: Docker, container: str, url: str, post: str | None = None) -> str:
    args = ["exec", container, "wget", "-q", "-O", "-", "-T", "10"]
    if post is not None:
        args += ["--header=Content-Type: application/json", f"--post-data={post}"]
    return docker.run(*args, url, timeout=30).stdout


def firing(docker: Docker, prometheus: str) -> list[Alert]:
    """Alerts Prometheus holds now (firing first, then pending), the watchdog left out."""
    data = json.loads(fetch(docker, prometheus, f"{PROMETHEUS_API}/alerts"))["data"]["alerts"]
    alerts = [Alert(name=a["labels"].get("alertname", "?"), state=a["state"], severity=a["labels"].get("severity", ""),
                    since=a.get("activeAt", ""), value=a.get("value", ""),
                    labels={k: v for k, v in a["labels"].items() if k not in ("alertname", "severity")},
                    summary=(a.get("annotations") or {}).get("summary", ""))
              for a in data if a["labels"].get("alertname") not in IGNORED]
    return sorted(alerts, key=lambda a: (a.state != "firing", a.severity != "critical", a.name))


def notification_counts(docker: Docker, alertmanager: str) -> dict[str, tuple[float, float]]:
    """integration -> (notifications sent, failed), from Alertmanager's own metrics."""
    counts: dict[str, list[float]] = {}
    for line in fetch(docker, alertmanager, ALERTMANAGER_METRICS).splitlines():
        match = re.match(r'alertmanager_notifications(_failed)?_total\{integration="([^"]+)"[^}]*\} (\S+)', line)
        if match:
            pair = counts.setdefault(match.group(2), [0.0, 0.0])
            pair[1 if match.group(1) else 0] += float(match.group(3))
    return {k: (v[0], v[1]) for k, v in counts.items()}


@dataclass
class TestResult:
    answered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)  # configured, but nothing was attempted in time
    # Kinds whose counter the heartbeat shares (Alertmanager 0.25 counts by kind): what they did is not known.
    unverifiable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.answered) and not self.failed and not self.silent and not self.unverifiable


def send_test(docker: Docker, alertmanager: str, integrations: list[str], *, wait_s: float = 60,
              shared: frozenset[str] = frozenset(), progress: Callable[[str], None] = print) -> TestResult:
    """Posts a critical test alert (every receiver gets critical ones) and watches each kind of
    receiver's counters until each has sent or failed, at most wait_s. shared: kinds the heartbeat
    also counts under (its pings would pass for an answer, or its failures for the team's)."""
    before = notification_counts(docker, alertmanager)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alert = [{"labels": {"alertname": TEST_ALERT, "severity": "critical", "service": "preflight"},
              "annotations": {"summary": "a test notification from `python -m deploy alerts --test`"},
              "startsAt": now}]
    fetch(docker, alertmanager, f"{ALERTMANAGER_API}/alerts", post=json.dumps(alert))
    progress(f"test alert posted; waiting for {', '.join(integrations)} (at most {wait_s:.0f}s)")
    deadline = time.monotonic() + wait_s
    result = TestResult()
    while True:
        after = notification_counts(docker, alertmanager)
        result = TestResult(unverifiable=sorted(set(integrations) & shared))
        for integration in sorted(set(integrations) - shared):
            sent = after.get(integration, (0.0, 0.0))[0] - before.get(integration, (0.0, 0.0))[0]
            failed = after.get(integration, (0.0, 0.0))[1] - before.get(integration, (0.0, 0.0))[1]
            (result.failed if failed > 0 else result.answered if sent > 0 else result.silent).append(integration)
        if not result.silent or time.monotonic() > deadline:
            return result
        time.sleep(2)


def as_json(alerts: list[Alert]) -> list[dict[str, Any]]:
    return [asdict(a) for a in alerts]


def cmd_alerts(args) -> int:
    """`deploy alerts STACK [--test]`: what fires now; --test: a notification through every receiver."""
    ops = stack.operations(stack.select(args.stack))
    monitoring = ops.get("monitoring")
    if not monitoring:
        print(f"{args.stack} has no monitoring (preflight:monitoring.enabled is false)", file=sys.stderr)
        return Exit.USAGE
    docker = Docker.of(ops)
    try:
        if args.test:
            kinds = sorted(set(monitoring["receivers"]))
            if not kinds:
                print(f"{args.stack} has no receiver: add one under preflight:monitoring.receivers", file=sys.stderr)
                return Exit.USAGE
            shared = frozenset({"webhook"}) if monitoring.get("heartbeat") else frozenset()
            result = send_test(docker, monitoring["alertmanager"], kinds, shared=shared,
                               progress=lambda m: print(m, file=sys.stderr))
            if args.json:
                print(json.dumps(asdict(result), indent=2))
            else:
                print("\n".join([*(f"answered: {k}" for k in result.answered), *(f"FAILED: {k}" for k in result.failed),
                                 *(f"no attempt seen: {k}" for k in result.silent),
                                 *(f"not verifiable: {k} (the heartbeat is a webhook too: look at the receiving end)"
                                   for k in result.unverifiable)]))
            return 0 if result.ok else Exit.ALERTING
        alerts = firing(docker, monitoring["prometheus"])
    except DockerError as error:
        print(f"alerts: the monitoring of {args.stack} does not answer: {error}", file=sys.stderr)
        return Exit.FAILED
    if args.json:
        print(json.dumps(as_json(alerts), indent=2))
    else:
        print("\n".join(a.line() for a in alerts) or "nothing firing")
    return Exit.ALERTING if any(a.state == "firing" and a.severity == "critical" for a in alerts) else 0
