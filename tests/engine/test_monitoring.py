"""Monitoring on the local stack, for real: each alert raised by a real fault, evaluated by the
stack's Prometheus and delivered by its Alertmanager to a webhook receiver this test runs on the
stack's edge network gateway (traffic stays on this machine). Only this copy's intervals are short:
a 2 s scrape, a few seconds of `for:`, a 20 s backup RPO (and 40 s of grace: a backup takes seconds here), a 16 MB Redis volume.

One `up` serves every test, in file order; each fault is undone before the next. The time from
fault to delivery is printed for each alert (pytest -s shows it)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.engine.conftest import ProjectCopy, curl_local, free_port
from tests.stack_config import ROOT

FOR_S = {"RouteDown": 4, "ErrorRateHigh": 4, "ContainerUnhealthy": 4, "PostgresConnectionsHigh": 4, "DiskHigh": 4}
DELIVERY_S = 120  # the longest any alert may take to arrive here (for: + scrape + evaluation + group_wait)
REDIS_VOLUME_MB = 16
MAX_CONNECTIONS = 20
TIMINGS: dict[str, float] = {}


class Receiver(ThreadingHTTPServer):
    """Alertmanager's webhook payloads, as they arrive, with the time of arrival."""

    def __init__(self, address: str):
        self.payloads: list[tuple[float, dict[str, Any]]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.arrived:
                    receiver.payloads.append((time.monotonic(), body))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__((address, 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}/alerts"

    def wait_for(self, status: str, alertname: str, since: float, match: Callable[[dict], bool] = lambda a: True,
                 timeout: float = DELIVERY_S) -> tuple[float, dict[str, Any]]:
        """The first alert with this name and status delivered after `since` (monotonic) that `match` accepts."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for at, payload in self.payloads:
                    for alert in payload["alerts"]:
                        if at >= since and alert["status"] == status and alert["labels"].get("alertname") == alertname \
                                and match(alert):
                            return at, alert
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = sorted({(a["labels"].get("alertname"), a["status"]) for _, p in self.payloads for a in p["alerts"]})
                    raise AssertionError(f"no {status} {alertname} within {timeout:.0f}s; delivered so far: {seen}")
                self.arrived.wait(min(left, 1.0))


def docker(*args: str, check: bool = True) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check).stdout.strip()


class Monitored:
    def __init__(self, project: ProjectCopy, https_port: int):
        self.project, self.https_port = project, https_port
        self.certificate = project.directory / "local-ca.pem"
        self.certificate.write_text(project.stack.outputs()["tls_certificate_pem"].value)
        self.receiver: Receiver | None = None

    def containers(self) -> dict[str, str]:
        """Resource name -> container name, from the state."""
        return {r["urn"].split("::")[-1]: r["outputs"]["name"] for r in self.project.resources()
                if r["type"] == "docker:index/container:Container"}

    def container_ids(self) -> dict[str, str]:
        return {name: docker("inspect", "--format", "{{.Id}}", container) for name, container in self.containers().items()}

    def deploy(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.project.deploy_argv(*args), cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PULUMI_BACKEND_URL": self.project.env["PULUMI_BACKEND_URL"]})

    def edge_gateway(self) -> str:
        """The host's address on the proxy's network (the proxy is on the edge network alone)."""
        return docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}",
                      self.containers()["preflight-proxy"])

    def get(self, path: str) -> int:
        result = curl_local(self.https_port, self.certificate, path, extra=("-o", "/dev/null", "-w", "%{http_code}"))
        return int(result.stdout or 0)


@pytest.fixture(scope="module")
def monitored(engine, docker_engine, tmp_path_factory):
    https_port, http_port = free_port(), free_port()

    def short(config):
        config["preflight:proxy"].update(https_port=https_port, http_port=http_port)
        config["preflight:monitoring"] = {"scrape_interval_s": 2, "alert_for_s": FOR_S}
        config["preflight:database"].update(max_connections=MAX_CONNECTIONS, pool_size=2)
        config["preflight:backup"] = {"interval_s": 20}

    project = ProjectCopy(tmp_path_factory.mktemp("monitored"), engine, short)
    # A backup RPO of seconds, and a small Redis volume to fill: in this copy only.
    project.patch("components/settings/backup.py", "ge=300, le=7 * 86400", "ge=10, le=7 * 86400")
    project.patch("components/settings/backup.py", "GRACE_S = 600", "GRACE_S = 40")
    project.patch("components/cache.py", 'self.volume = host.data_volume(f"{name}-data", stack, self, protect)',
                  f'self.volume = docker.Volume(f"{{name}}-data", driver_opts={{"type": "tmpfs", "device": "tmpfs", '
                  f'"o": "size={REDIS_VOLUME_MB}m"}}, opts=host.child_opts(self))')
    project.stack.up(color="never")
    yield Monitored(project, https_port)
    print("\nfault -> delivery (s):", json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}))
    project.stack.destroy(color="never")


def test_a_receiver_added_later_takes_effect_with_one_deploy_up_that_replaces_only_alertmanager(monitored):
    monitored.receiver = Receiver(monitored.edge_gateway())
    before = monitored.container_ids()
    monitored.project.config["preflight:monitoring"]["receivers"] = [
        {"kind": "webhook", "url": monitored.receiver.url, "severity": "warning"}]
    monitored.project.write_config()
    result = monitored.deploy("up", "local")
    assert result.returncode == 0, result.stdout + result.stderr
    after = monitored.container_ids()
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == ["preflight-monitoring-alertmanager"]


def test_a_healthy_stack_has_nothing_critical_firing(monitored):
    result = monitored.deploy("--json", "alerts", "local")
    assert result.returncode == 0, result.stdout + result.stderr
    firing = json.loads(result.stdout)
    assert not [a for a in firing if a["state"] == "firing" and a["severity"] == "critical"], firing


def test_a_test_notification_goes_through_every_receiver(monitored):
    assert monitored.receiver is not None
    since = time.monotonic()
    result = monitored.deploy("alerts", "local", "--test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "answered: webhook" in result.stdout
    monitored.receiver.wait_for("firing", "PreflightTestNotification", since, timeout=30)


def timed(name: str, started: float, arrived: float) -> None:
    TIMINGS[name] = arrived - started
    print(f"\n{name}: delivered {arrived - started:.1f}s after the fault")


def test_the_api_stopped_fires_route_down_naming_it_and_resolves_once_it_is_back(monitored):
    assert monitored.receiver is not None
    api = monitored.containers()["preflight-api"]
    started = time.monotonic()
    docker("stop", api)
    try:
        arrived, alert = monitored.receiver.wait_for("firing", "RouteDown", started,
                                                      lambda a: a["labels"].get("route") == "api")
        timed("RouteDown", started, arrived)
        assert "api" in alert["annotations"]["summary"] + alert["annotations"].get("description", "")
    finally:
        docker("start", api)
    back = time.monotonic()
    arrived, _ = monitored.receiver.wait_for("resolved", "RouteDown", back, lambda a: a["labels"].get("route") == "api")
    timed("RouteDown resolved", back, arrived)


def test_a_crash_looping_service_fires_crash_loop_naming_its_container(monitored):
    assert monitored.receiver is not None
    api = monitored.containers()["preflight-api"]
    restarts = int(docker("inspect", "--format", "{{.RestartCount}}", api))
    started = time.monotonic()
    for attempt in range(3):  # the app exits on SIGTERM; Docker's restart policy brings it back
        docker("exec", api, "python3", "-c", "import os, signal; os.kill(1, signal.SIGTERM)", check=False)
        deadline = time.monotonic() + 60
        # Until it is back and healthy: a SIGTERM before the app set its handler would be ignored (PID 1).
        while docker("inspect", "--format", "{{.RestartCount}} {{.State.Health.Status}}", api, check=False) != \
                f"{restarts + attempt + 1} healthy":
            assert time.monotonic() < deadline, f"Docker did not restart the api ({attempt} restarts seen)"
            time.sleep(0.2)
    arrived, alert = monitored.receiver.wait_for("firing", "ContainerCrashLooping", started,
                                                  lambda a: a["labels"].get("container") == api)
    timed("ContainerCrashLooping", started, arrived)
    assert alert["labels"]["service"] == "api"


def test_5xx_above_the_threshold_fires_the_error_rate_alert(monitored):
    assert monitored.receiver is not None
    started = time.monotonic()
    stop = threading.Event()
    codes: list[int] = []

    def errors():  # about 10 requests/s of 503s through the proxy, for at most DELIVERY_S
        while not stop.is_set() and time.monotonic() - started < DELIVERY_S:
            codes.append(monitored.get("/status?code=503"))
            stop.wait(0.1)

    sender = threading.Thread(target=errors, daemon=True)
    sender.start()
    try:
        arrived, alert = monitored.receiver.wait_for("firing", "ErrorRateHigh", started)
    finally:
        stop.set()
        sender.join(timeout=30)
    timed("ErrorRateHigh", started, arrived)
    assert set(codes) == {503}
    assert "%" in alert["annotations"]["summary"] + alert["annotations"].get("description", "")


def test_postgres_connections_above_80_percent_of_the_pool_fire_an_alert(monitored):
    assert monitored.receiver is not None
    postgres = monitored.containers()["preflight-postgres"]
    held = int(MAX_CONNECTIONS * 0.9)
    started = time.monotonic()
    # Each holds its connection for at most 90 s, then ends by itself.
    docker("exec", "-d", postgres, "sh", "-c", f"for i in $(seq {held}); do psql -U app -d app -c 'select pg_sleep(90)' "
           ">/dev/null 2>&1 & done; wait")
    try:
        arrived, alert = monitored.receiver.wait_for("firing", "PostgresConnectionsHigh", started)
    finally:
        docker("exec", postgres, "psql", "-U", "app", "-d", "app", "-c",
               "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(90)%' "
               "and pid <> pg_backend_pid()", check=False)
    timed("PostgresConnectionsHigh", started, arrived)


def test_a_disk_over_the_threshold_fires_naming_its_mount(monitored):
    assert monitored.receiver is not None
    redis = monitored.containers()["preflight-redis"]
    started = time.monotonic()
    docker("exec", redis, "dd", "if=/dev/zero", "of=/data/filler", "bs=1M", f"count={int(REDIS_VOLUME_MB * 0.9)}",
           check=False)
    try:
        arrived, alert = monitored.receiver.wait_for("firing", "DiskHigh", started,
                                                      lambda a: a["labels"].get("mountpoint") == "/volumes/redis")
    finally:
        docker("exec", redis, "rm", "-f", "/data/filler")
    timed("DiskHigh", started, arrived)


def test_the_backup_job_stopped_fires_backup_stale(monitored):
    assert monitored.receiver is not None
    backup = monitored.containers()["preflight-backup"]
    started = time.monotonic()
    docker("stop", backup)
    try:
        arrived, alert = monitored.receiver.wait_for("firing", "BackupStale", started)
    finally:
        docker("start", backup)
    timed("BackupStale", started, arrived)
