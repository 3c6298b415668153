"""The health gate after `up`: every public health URL answers 200, polled every second until a
deadline (as Kamal's gate: 1 s polling, 30 s by default)."""

from __future__ import annotations

import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

POLL_S = 1.0


def resolve(host: str) -> str:
    try:
        return str(socket.getaddrinfo(host, None)[0][4][0])
    except socket.gaierror:
        if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
            return "127.0.0.1"
        raise


def status_of(url: str, ca_pem: str | None, timeout_s: float = 5.0) -> int:
    """The HTTP status of GET url (0 when it cannot connect)."""
    parts = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    try:
        with socket.create_connection((resolve(parts.hostname or ""), parts.port or 443), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            tls.sendall(f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
            status_line = tls.recv(64).split(b"\r\n", 1)[0].decode(errors="replace")
        return int(status_line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0


@dataclass
class GateResult:
    passed: bool
    seconds: float
    last_status: dict[str, int]


def wait_healthy(urls: list[str], ca_pem: str | None, deadline_s: float,
                 progress: Callable[[str], None] = lambda _: None) -> GateResult:
    started = time.monotonic()
    last: dict[str, int] = {}
    pending = list(urls)
    while pending and time.monotonic() - started < deadline_s:
        for url in list(pending):
            last[url] = status_of(url, ca_pem)
            if last[url] == 200:
                pending.remove(url)
                progress(f"healthy after {time.monotonic() - started:.1f}s: {url}")
        if pending:
            time.sleep(POLL_S)
    return GateResult(not pending, time.monotonic() - started, last)
