"""Authenticated origin pulls against real Caddy: the site blocks a cloud stack's proxy runs, with the
CA and client certificates the program generates (components/generated.py), and a small upstream
behind them on loopback. The client (tests/tls_client.py) sees where a refusal happens: in the
handshake, before any HTTP byte."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.generated import certificate_authority, client_certificate, self_signed_certificate
from components.proxy import ProxyRoute, SiteTls, render_caddyfile
from components.settings import ProxySettings
from tests import daemons
from tests.tls_client import REFUSED, get_health, write_pair

HOSTNAME = "api.preflight.localhost"


class Origin:
    def __init__(self, workdir: Path, https_port: int, health_port: int, server_cert: Path):
        self.workdir, self.https_port, self.health_port, self.server_cert = workdir, https_port, health_port, server_cert

    def client(self, name: str, authority: tuple[str, str]) -> tuple[str, str]:
        """A client certificate signed by `authority` (cert, key PEM), written to files."""
        cert_pem, key_pem, _ = client_certificate(*authority, common_name=name, days=30)
        return write_pair(self.workdir, name, cert_pem, key_pem)

    def request(self, client: tuple[str, str] | None, *, sni: str | None = HOSTNAME, host: str = HOSTNAME,
                tls12: bool = False) -> str:
        return get_health("127.0.0.1", self.https_port, str(self.server_cert), client, sni=sni, host=host, tls12=tls12)


class Upstream(BaseHTTPRequestHandler):
    """The service behind the proxy: 200 on every path."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = f"served {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    missing = daemons.missing_packages()
    if missing:
        pytest.fail("integration tests need these Debian packages, which `make test` installs: " + ", ".join(missing))
    workdir = tmp_path_factory.mktemp("origin")
    started: list[daemons.Daemon] = []
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    app_port = upstream.server_address[1]
    try:
        cert_pem, key_pem = self_signed_certificate([HOSTNAME])
        (workdir / "server.pem").write_text(cert_pem)
        (workdir / "server.key").write_text(key_pem)
        stack_ca = certificate_authority("preflight origin pulls (the stack)", days=3650)
        (workdir / "ca.pem").write_text(stack_ca[0])
        http_port, https_port, health_port = daemons.free_port(), daemons.free_port(), daemons.free_port()
        caddyfile = render_caddyfile(
            ProxySettings(http_port=http_port, https_port=https_port, health_port=health_port),
            [ProxyRoute(HOSTNAME, "/", f"127.0.0.1:{app_port}", "/health")],
            tls=SiteTls(str(workdir / "server.pem"), str(workdir / "server.key"), client_ca_file=str(workdir / "ca.pem")),
            listen_ports=(http_port, https_port), health_port=health_port)
        started.append(daemons.start_caddy(workdir, caddyfile, https_port))
        yield Origin(workdir, https_port, health_port, workdir / "server.pem"), stack_ca
    finally:
        for daemon in reversed(started):
            daemon.stop()
        upstream.shutdown()


@pytest.mark.parametrize("tls12", [False, True], ids=["tls1.3", "tls1.2"])
def test_a_client_without_a_certificate_is_refused_in_the_handshake(origin, tls12):
    server, _ = origin
    result = server.request(None, tls12=tls12)
    assert result.startswith(REFUSED), result
    assert ("during the handshake" in result) == tls12, result
    assert "ALERT" in result and "CERTIFICATE" in result, result


@pytest.mark.parametrize("tls12", [False, True], ids=["tls1.3", "tls1.2"])
def test_a_certificate_of_another_ca_is_refused_in_the_handshake(origin, tls12):
    """What another Cloudflare zone (or Cloudflare's shared global certificate) would present."""
    server, _ = origin
    other = server.client("other-zone", certificate_authority("another zone's origin pulls", days=3650))
    result = server.request(other, tls12=tls12)
    assert result.startswith(REFUSED), result
    assert "ALERT" in result and ("CERTIFICATE" in result or "UNKNOWN_CA" in result), result


def test_the_stacks_client_certificate_gets_200(origin):
    server, stack_ca = origin
    assert server.request(server.client("cloudflare", stack_ca)) == "HTTP/1.1 200 OK"
    assert server.request(server.client("cloudflare-tls12", stack_ca), tls12=True) == "HTTP/1.1 200 OK"


def test_old_and_renewed_client_certificates_both_pass_while_they_overlap(origin):
    """Rotation: the proxy trusts the CA, not one certificate, so the renewed certificate Cloudflare
    presents after the upload and the old one it presented before are both accepted."""
    server, stack_ca = origin
    old, renewed = server.client("before-renewal", stack_ca), server.client("after-renewal", stack_ca)
    assert [server.request(old), server.request(renewed)] == ["HTTP/1.1 200 OK"] * 2


@pytest.mark.parametrize("sni", [None, "other.example", "203.0.113.7"], ids=["no-sni", "unknown-name", "an-address"])
def test_any_name_asked_for_without_a_certificate_is_refused_in_the_handshake(origin, sni):
    """Not only the site's own name: a client asking for no name or another one meets the same demand
    (the catch-all site; without it Caddy 2.6 still ends such a handshake, with internal_error for
    want of a certificate, which a later Caddy that picks a default certificate need not do)."""
    server, _ = origin
    result = server.request(None, sni=sni)
    assert result.startswith(REFUSED), result


def test_the_health_port_answers_the_health_route_alone_over_plain_http(origin):
    """What a load balancer's health check uses (it cannot present a client certificate)."""
    server, _ = origin

    def get(path: str) -> str:
        with socket.create_connection(("127.0.0.1", server.health_port), timeout=10) as conn:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOSTNAME}\r\nConnection: close\r\n\r\n".encode())
            return conn.recv(4096).decode(errors="replace").split("\r\n", 1)[0]

    assert get("/health") == "HTTP/1.1 200 OK"
    assert get("/") == "HTTP/1.1 404 Not Found"
    assert get("/health/../admin") != "HTTP/1.1 200 OK"
