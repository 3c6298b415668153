"""The proxy's release switch against real Caddy and two real copies of the sample app on loopback:
the site blocks the program renders, swapped in by the script the ProxySites resource runs inside
the proxy container (components/proxy_sites.py)."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from components.proxy import ProxyRoute, SiteTls, render_main, render_sites
from components.proxy_sites import fill_upstreams, switch_script, upstream_marker
from components.settings import ProxySettings
from tests import daemons

HOSTNAME = "api.preflight.localhost"


class Proxy:
    def __init__(self, workdir, cert, key, https_port: int):
        self.workdir, self.https_port, self.cert = workdir, https_port, cert
        self.sites_file = workdir / "sites.caddy"
        self.template = render_sites([ProxyRoute(HOSTNAME, "/", upstream_marker("api"), "/")], tls=SiteTls(str(cert), str(key)))

    def switch(self, upstream: str, template: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["sh", "-c", switch_script(str(self.sites_file), str(self.workdir / "Caddyfile"))],
                              input=fill_upstreams(template or self.template, {"api": upstream}),
                              capture_output=True, text=True, timeout=60)

    def get(self, path: str) -> tuple[int, str]:
        result = subprocess.run(["curl", "-sS", "--max-time", "15", "--cacert", str(self.cert), "--resolve",
                                 f"{HOSTNAME}:{self.https_port}:127.0.0.1", "-w", "\n%{http_code}",
                                 f"https://{HOSTNAME}:{self.https_port}{path}"], capture_output=True, text=True)
        body, _, code = result.stdout.rpartition("\n")
        return int(code or 0), body


@pytest.fixture
def releases(tmp_path):
    missing = daemons.missing_packages()
    if missing:
        pytest.fail("integration tests need these Debian packages, which `make test` installs: " + ", ".join(missing))
    env = daemons.write_secret_files(tmp_path, {"JWT_SECRET": daemons.random_password()})
    started: list[daemons.Daemon] = []
    try:
        ports = {}
        for name in ("one", "two"):
            ports[name] = daemons.free_port()
            started.append(daemons.start_app(tmp_path, {**env, "PREFLIGHT_ENVIRONMENT": name}, ports[name]))
        cert, key = daemons.self_signed_certificate(tmp_path, HOSTNAME)
        http_port, https_port = daemons.free_port(), daemons.free_port()
        settings = ProxySettings(http_port=http_port, https_port=https_port)
        main = render_main(settings, [HOSTNAME], listen_ports=(http_port, https_port),
                           sites_file=str(tmp_path / "sites.caddy"))
        (tmp_path / "sites.caddy").write_text("# placeholder\n")
        caddy = daemons.start_caddy(tmp_path, main, http_port)
        started.append(caddy)
        proxy = Proxy(tmp_path, cert, key, https_port)
        assert proxy.switch(f"127.0.0.1:{ports['one']}").returncode == 0
        yield proxy, ports, {"one": started[0], "two": started[1]}
    finally:
        for daemon in reversed(started):
            daemon.stop()


def environment(body: str) -> str:
    return json.loads(body)["environment"]


def test_a_switch_moves_new_requests_and_lets_the_old_release_finish_what_it_started(releases):
    proxy, ports, apps = releases
    code, body = proxy.get("/")
    assert code == 200 and environment(body) == "one"

    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def traffic():
        for _ in range(400):  # bounded: about 20 s at most
            if stop.is_set():
                break
            seen.append(proxy.get("/"))
            time.sleep(0.05)

    in_flight: list[tuple[int, str]] = []
    runner = threading.Thread(target=traffic)
    slow = threading.Thread(target=lambda: in_flight.append(proxy.get("/slow?s=3")))
    runner.start()
    slow.start()
    time.sleep(0.5)  # the slow request is now inside release one
    switched = proxy.switch(f"127.0.0.1:{ports['two']}")
    assert switched.returncode == 0, switched.stderr
    apps["one"].process.terminate()  # what Pulumi does next: `docker stop` of the old container
    slow.join(timeout=30)
    time.sleep(1)
    stop.set()
    runner.join(timeout=30)

    assert in_flight and in_flight[0][0] == 200, in_flight  # drained, not cut
    assert json.loads(in_flight[0][1]) == {"slept_s": 3.0}
    codes = [code for code, _ in seen]
    assert len(codes) > 10 and set(codes) == {200}, f"{len([c for c in codes if c != 200])} of {len(codes)} failed"
    after = [environment(body) for _, body in seen[-5:]]
    assert after == ["two"] * 5
    assert apps["one"].process.wait(timeout=10) == 0  # it exited by itself once its request was answered


def test_site_blocks_caddy_refuses_leave_the_previous_ones_serving(releases):
    proxy, ports, _ = releases
    before = proxy.sites_file.read_text()
    broken = proxy.template.replace("\thandle {", "\thandle {\n\t\tno_such_directive", 1)
    refused = proxy.switch(f"127.0.0.1:{ports['two']}", template=broken)
    assert refused.returncode == 1
    assert "no_such_directive" in refused.stderr
    assert proxy.sites_file.read_text() == before  # a restart of the proxy runs what it serves
    code, body = proxy.get("/")
    assert code == 200 and environment(body) == "one"


def test_the_switch_returns_only_once_the_old_release_has_answered_what_it_was_sent(releases):
    # An app that dies at once when stopped (no draining of its own): what the switch waits for is
    # all that protects the request in flight on it, since Pulumi stops the old container next.
    proxy, ports, apps = releases
    in_flight: list[tuple[int, str]] = []
    slow = threading.Thread(target=lambda: in_flight.append(proxy.get("/slow?s=3")))
    slow.start()
    time.sleep(0.5)  # the slow request is now inside release one
    started = time.monotonic()
    switched = proxy.switch(f"127.0.0.1:{ports['two']}")
    waited = time.monotonic() - started
    apps["one"].process.kill()  # SIGKILL: nothing in flight on it may be cut
    slow.join(timeout=30)
    assert switched.returncode == 0, switched.stderr
    assert in_flight and in_flight[0][0] == 200, in_flight
    assert waited >= 2.0, f"the switch returned after {waited:.1f}s, before the 3 s request on release one was answered"
    code, body = proxy.get("/")
    assert code == 200 and environment(body) == "two"
