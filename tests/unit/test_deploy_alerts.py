"""`deploy alerts`: what Prometheus holds, and the test notification read from Alertmanager's counters."""

from __future__ import annotations

import json
import subprocess

from deploy import alerts


class FakeDocker:
    """Answers `docker exec ... wget URL` with what the URL would give; counts per kind move once posted."""

    def __init__(self, after_post: dict[str, tuple[int, int]], prometheus_alerts: list | None = None):
        self.after_post, self.posted, self.prometheus_alerts = after_post, False, prometheus_alerts or []

    def run(self, *args, **kwargs):
        url = args[-1]
        if any(a.startswith("--post-data") for a in args):
            self.posted = True
            out = ""
        elif url.endswith("/metrics"):
            counts = self.after_post if self.posted else {k: (0, 0) for k in self.after_post}
            out = "".join(f'alertmanager_notifications_total{{integration="{k}"}} {sent}\n'
                          f'alertmanager_notifications_failed_total{{integration="{k}"}} {failed}\n'
                          for k, (sent, failed) in counts.items())
        else:
            out = json.dumps({"data": {"alerts": self.prometheus_alerts}})
        return subprocess.CompletedProcess(args, 0, out, "")


def test_a_receiver_that_sent_answered_and_one_that_failed_is_named():
    result = alerts.send_test(FakeDocker({"webhook": (1, 0), "slack": (1, 1)}), "am", ["slack", "webhook"],
                              wait_s=0, progress=lambda m: None)
    assert (result.answered, result.failed, result.ok) == (["webhook"], ["slack"], False)


def test_a_webhook_beside_the_heartbeat_is_not_verifiable_from_the_shared_counter():
    result = alerts.send_test(FakeDocker({"webhook": (5, 0)}), "am", ["webhook"], wait_s=0,
                              shared=frozenset({"webhook"}), progress=lambda m: None)
    assert (result.answered, result.unverifiable, result.ok) == ([], ["webhook"], False)


def test_firing_alerts_come_first_and_the_watchdog_is_left_out():
    held = [{"labels": {"alertname": "Watchdog", "severity": "none"}, "state": "firing"},
            {"labels": {"alertname": "CpuHigh", "severity": "warning"}, "state": "pending", "activeAt": "t1", "value": "90"},
            {"labels": {"alertname": "RouteDown", "severity": "critical", "route": "api"}, "state": "firing",
             "activeAt": "t0", "value": "0", "annotations": {"summary": "Route api is down"}}]
    found = alerts.firing(FakeDocker({}, held), "prometheus")
    assert [a.name for a in found] == ["RouteDown", "CpuHigh"]
    assert found[0].line() == "CRITICAL RouteDown (firing since t0) value 0 [route=api]: Route api is down"
