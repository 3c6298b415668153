"""The rolling release across application servers, rehearsed for real on the local Docker engine
(`host.app_servers: 2` on the local stack: two copies of the proxy and the api, each copy's proxy on
its own ports). What the cloud stacks add on top, the load balancer's health gate, needs Hetzner.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pytest
from pulumi import automation as auto

from bench.load import Load
from tests.engine.conftest import ProjectCopy, Traffic, curl_local

APP_IMAGE = "preflight-sample-app:0.1.0"
ROLLING_IMAGE = "preflight-sample-app:engine-test-rolling"
FAILING_IMAGE = "preflight-sample-app:engine-test-rolling-failing"  # answers 500 to everything


def free_port_pair() -> int:
    """A port p with p and p + 1 both free (copy 2 publishes on the proxy's ports + 1)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no two consecutive free ports")


def image_id(image: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], capture_output=True, text=True,
                          check=True).stdout.strip()


def running_image(container: str) -> str:
    return subprocess.run(["docker", "inspect", "--format", "{{.Image}}", container], capture_output=True, text=True,
                          check=True).stdout.strip()


def health(port: int, certificate: str) -> int:
    return int(curl_local(port, certificate, "/health", extra=("-o", "/dev/null", "-w", "%{http_code}")).stdout or 0)


@pytest.fixture(scope="module")
def two_copies(engine, docker_engine, tmp_path_factory):
    https_port, http_port = free_port_pair(), free_port_pair()

    def rehearse(config):
        config["preflight:host"]["app_servers"] = 2
        config["preflight:proxy"].update(https_port=https_port, http_port=http_port)
        config["preflight:services"]["api"]["healthcheck"].update(interval_s=1, timeout_s=1, retries=2,
                                                                  start_period_s=0)

    project = ProjectCopy(tmp_path_factory.mktemp("two-app-servers"), engine, rehearse)
    project.stack.up(color="never")
    certificate = project.directory / "ca.pem"
    certificate.write_text(project.stack.outputs()["tls_certificate_pem"].value)
    yield project, [https_port, https_port + 1], str(certificate)
    project.stack.destroy(color="never")


def events_of(components: list[str], since: float, until: float) -> list[dict]:
    """Docker's container events of these components (the `preflight.component` label) in a window."""
    result = subprocess.run(["docker", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--filter",
                             "type=container", "--format", "{{json .}}"], capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    return [e for e in events if e.get("Actor", {}).get("Attributes", {}).get("preflight.component") in components]


def test_both_copies_serve_through_their_own_proxy(two_copies):
    _project, ports, certificate = two_copies
    assert [health(port, certificate) for port in ports] == [200, 200]


def test_a_release_replaces_one_copy_after_the_other_while_both_keep_serving(two_copies):
    project, ports, certificate = two_copies
    subprocess.run(["docker", "build", "-q", "-t", ROLLING_IMAGE, "-"], input=f"FROM {APP_IMAGE}\nLABEL rolling=1\n",
                   text=True, check=True, capture_output=True)
    project.config["preflight:services"]["api"]["image"] = ROLLING_IMAGE
    project.write_config()
    traffic = {port: Traffic(lambda port=port: health(port, certificate)) for port in ports}
    started = time.time()
    for copy in traffic.values():
        copy.start()
    project.stack.up(color="never")
    codes = {port: copy.stop() for port, copy in traffic.items()}
    finished = time.time()

    for port, seen in codes.items():
        assert len(seen) > 5 and set(seen) == {200}, f"copy on {port}: {len(seen)} requests, {seen.count(200)} ok"
    events = events_of(["preflight-api-app1", "preflight-api-app2"], started, finished + 1)

    def first(component: str, action: str) -> float:
        times = [e["timeNano"] / 1e9 for e in events
                 if e["Actor"]["Attributes"]["preflight.component"] == component and e["Action"] == action]
        assert times, f"no {action!r} event for {component}"
        return min(times)

    copy1_healthy = first("preflight-api-app1", "health_status: healthy")
    copy2_created = first("preflight-api-app2", "create")
    assert first("preflight-api-app1", "create") < copy1_healthy < copy2_created
    assert first("preflight-api-app2", "health_status: healthy") > copy2_created


def test_a_failing_release_stops_at_the_first_copy_and_neither_copy_fails_a_request(two_copies):
    project, ports, certificate = two_copies
    subprocess.run(["docker", "build", "-q", "-t", FAILING_IMAGE, "-"], text=True, check=True, capture_output=True,
                   input=f"FROM {APP_IMAGE}\nENV SAMPLE_APP_FAULT=error\n")
    project.config["preflight:services"]["api"]["image"] = FAILING_IMAGE
    project.write_config()
    loads = {port: Load(f"https://api.preflight.localhost:{port}/health", port, certificate, rate=40) for port in ports}
    for load in loads.values():
        load.start()
    with pytest.raises(auto.CommandError):
        project.stack.up(color="never")
    results = {port: load.stop() for port, load in loads.items()}
    for port, result in results.items():
        assert len(result.codes) > 100 and set(result.codes) == {200}, \
            f"copy on {port}: {len([c for c in result.codes if c != 200])} of {len(result.codes)} failed"
    # Copy 2 was never touched: its api container still runs the previous image.
    [copy2] = subprocess.run(["docker", "ps", "-q", "--filter", "label=preflight.component=preflight-api-app2"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert running_image(copy2) == image_id(ROLLING_IMAGE)
    project.config["preflight:services"]["api"]["image"] = ROLLING_IMAGE
    project.write_config()
    project.stack.up(color="never")
