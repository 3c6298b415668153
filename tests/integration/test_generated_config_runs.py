"""What the components generate, run by the real daemons: the local stack's Caddyfile in Caddy,
its redis.conf in Redis, the sample app against Postgres and Redis, all on loopback.

This proves the generated configuration and the app; it does not replace the engine tests
(real Pulumi CLI + Docker), which need the provider plugins.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess

import pytest

from components.cache import redis_conf
from components.proxy import ProxyRoute, SiteTls, render_caddyfile
from components.settings import parse_settings
from tests import daemons
from tests.stack_config import stack_config


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    missing = daemons.missing_packages()
    if missing:
        pytest.fail("integration tests need these Debian packages, which `make test` installs: " + ", ".join(missing))
    settings, _ = parse_settings("local", stack_config("local"), set())
    workdir = tmp_path_factory.mktemp("stack")
    started: list[daemons.Daemon] = []
    try:
        postgres, database_url = daemons.start_postgres(workdir, user=settings.database.user,
                                                        database=settings.database.name,
                                                        password=daemons.random_password())
        started.append(postgres)
        redis_password, redis_port = daemons.random_password(), daemons.free_port()
        started.append(daemons.start_redis(workdir, redis_conf(settings.cache, redis_password, port=redis_port,
                                                               data_dir=str(workdir)), redis_port))
        env = daemons.write_secret_files(workdir, {
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{redis_port}/0",
            "JWT_SECRET": daemons.random_password(),
        })
        migration = daemons.run_app("migrate", env)
        app_port = daemons.free_port()
        started.append(daemons.start_app(workdir, env, app_port))

        api = settings.services["api"]
        hostname = settings.hostname(api.route)
        cert, key = daemons.self_signed_certificate(workdir, hostname)
        http_port, https_port = daemons.free_port(), daemons.free_port()
        proxy_settings = settings.proxy.model_copy(update={"http_port": http_port, "https_port": https_port})
        caddyfile = render_caddyfile(proxy_settings,
                                     [ProxyRoute(hostname, api.route.path, f"127.0.0.1:{app_port}",
                                                 api.route.health_path)],
                                     tls=SiteTls(str(cert), str(key)), listen_ports=(http_port, https_port))
        started.append(daemons.start_caddy(workdir, caddyfile, https_port))
        yield {"settings": settings, "env": env, "migration": migration, "hostname": hostname, "cert": cert,
               "http_port": http_port, "https_port": https_port, "redis": started[1], "redis_port": redis_port,
               "redis_password": redis_password, "caddyfile": caddyfile, "workdir": workdir}
    finally:
        for daemon in reversed(started):
            daemon.stop()


def get(stack, path, scheme="https"):
    port = stack["https_port"] if scheme == "https" else stack["http_port"]
    return daemons.curl(f"{scheme}://{stack['hostname']}:{port}{path}", hostname=stack["hostname"], port=port,
                        cacert=stack["cert"])


def test_caddy_accepts_the_generated_config(stack):
    result = subprocess.run(["caddy", "validate", "--adapter", "caddyfile", "--config",
                             str(stack["workdir"] / "Caddyfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_migrations_ran_and_are_idempotent(stack):
    assert stack["migration"].returncode == 0, stack["migration"].stderr
    assert "applied migration 1" in stack["migration"].stdout
    again = daemons.run_app("migrate", stack["env"])
    assert again.returncode == 0 and "applied" not in again.stdout and "up to date" in again.stdout


def test_health_through_the_proxy_reports_database_and_cache(stack):
    status, headers, body = get(stack, "/health")
    assert status == 200
    assert json.loads(body) == {"database": "up", "cache": "up"}
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in headers and "server" not in headers


def test_plain_http_is_redirected_to_https(stack):
    status, headers, _ = get(stack, "/health?x=1", scheme="http")
    assert status == 308
    assert headers["location"] == f"https://{stack['hostname']}:{stack['https_port']}/health?x=1"


def test_a_client_without_sni_gets_the_site_and_its_health_answer(stack):
    """What Hetzner's load balancer does when it checks a server over TLS: connect by address, send
    the hostname only in the Host header."""
    context = ssl.create_default_context(cafile=str(stack["cert"]))
    context.check_hostname = False  # no server_hostname: no SNI; the certificate is still verified
    with socket.create_connection(("127.0.0.1", stack["https_port"]), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        tls.sendall(f"GET /health HTTP/1.1\r\nHost: {stack['hostname']}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]

def test_redis_requires_the_password(stack):
    port, password = str(stack["redis_port"]), stack["redis_password"]
    anonymous = subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True, text=True)
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    authed = subprocess.run(["redis-cli", "-p", port, "--no-auth-warning", "-a", password, "config", "get",
                             "appendonly"], capture_output=True, text=True)
    assert authed.stdout.split() == ["appendonly", "yes"]


def test_health_fails_when_the_cache_is_down(stack):
    # Last on purpose: it stops Redis.
    stack["redis"].stop()
    status, _, body = get(stack, "/health")
    assert status == 503
    assert json.loads(body) == {"database": "up", "cache": "down"}

