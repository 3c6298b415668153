"""A TLS client for origin tests that sees where a refusal happens: in the handshake, before any
HTTP byte. Python's ssl, not curl: curl sends its request at once, so a server that refuses the
handshake and closes may reach it as a reset instead of the alert."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

REFUSED = "refused in the handshake"


def write_pair(directory: Path, name: str, cert_pem: str, key_pem: str) -> tuple[str, str]:
    """A client's certificate and key as the files a TLS client loads: (name.pem, name.key) in `directory`."""
    files = (directory / f"{name}.pem", directory / f"{name}.key")
    for path, pem in zip(files, (cert_pem, key_pem), strict=True):
        path.write_text(pem)
    return str(files[0]), str(files[1])


def get_health(address: str, port: int, cafile: str, client: tuple[str, str] | None, *, sni: str | None, host: str,
               tls12: bool = False) -> str:
    """GET /health over TLS: the HTTP status line, or REFUSED and the alert when the server ended
    the handshake (TLS 1.2: the handshake itself fails; TLS 1.3: the alert is the first thing read).
    client: (certificate, key) files to present; None: none."""
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False  # SNI is the caller's choice; the chain is still verified
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if client is not None:
        context.load_cert_chain(*client)
    with socket.create_connection((address, port), timeout=10) as raw:
        try:
            conn = context.wrap_socket(raw, server_hostname=sni)
        except ssl.SSLError as error:
            return f"{REFUSED}: {error.reason} (client side: during the handshake)"
        with conn:
            try:
                # TLS 1.3: the client's last handshake flight (with its certificate) needs no answer, so
                # the server's refusal of it is the first thing the client reads. Read before sending:
                # a request the server never reads would turn its close into a reset that loses the alert.
                conn.settimeout(1)
                try:
                    conn.recv(1)
                except TimeoutError:
                    pass  # accepted: the server waits for the request
                conn.settimeout(10)
                conn.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                received = conn.recv(4096)
            except ssl.SSLError as error:
                return f"{REFUSED}: {error.reason} (client side: first read, no HTTP byte)"
    return received.decode(errors="replace").split("\r\n", 1)[0]
