"""A bounded load generator on loopback: GET a URL at a fixed rate until stopped (or a cap),
recording each request's status and latency. Keep-alive HTTPS connections from a few threads, so
the generator itself stays light on a 2-core machine (one curl per request was not).

It treats a kept-alive connection as browsers, Go's and urllib3's clients do: one the server closed
while it was idle is not reused, and a GET that fails on a reused connection before any byte of
an answer is sent again once on a new one (RFC 9110 9.2.2). Those resends are counted apart; any
other error is a failed request (code 0)."""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import statistics
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

MAX_SECONDS = 300  # the generator stops by itself, whatever happens to the caller
WORKERS = 8


@dataclass
class LoadResult:
    codes: list[int] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    resent: int = 0  # GETs sent again after a reused connection closed before answering

    @property
    def failed(self) -> int:
        return sum(1 for c in self.codes if c != 200)

    @property
    def failures(self) -> str:
        """What the failed requests got: '502 x1, 0 x2' (0: no answer)."""
        counts: dict[int, int] = {}
        for code in self.codes:
            if code != 200:
                counts[code] = counts.get(code, 0) + 1
        return ", ".join(f"{code} x{n}" for code, n in sorted(counts.items()))

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def row(self) -> str:
        return (f"{len(self.codes)} requests, {self.failed} failed, p50 {statistics.median(self.latencies_ms):.0f} ms, "
                f"p99 {self.percentile(0.99):.0f} ms, {self.resent} resent on a new connection")


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to `address` (loopback, or a test host the caller made) with the URL's hostname for SNI
    and certificate checks."""

    def __init__(self, *args, address: str = "127.0.0.1", **kwargs):
        super().__init__(*args, **kwargs)
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


# How a kept-alive connection the server closed shows when a request is sent on it anyway.
STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError,
                    ssl.SSLZeroReturnError)


def closed_while_idle(connection: http.client.HTTPConnection) -> bool:
    """Readable while no request is out: the server closed it (urllib3's is_connection_dropped)."""
    return connection.sock is None or bool(select.select([connection.sock], [], [], 0)[0])


class Load(threading.Thread):
    """`rate` requests per second to `url`, spread over WORKERS keep-alive connections."""

    def __init__(self, url: str, port: int, cacert: str, rate: float = 50.0, address: str = "127.0.0.1",
                 client_cert: tuple[str, str] | None = None):
        """client_cert: (certificate, key) files to present, as Cloudflare does to a cloud stack's origin."""
        super().__init__(daemon=True)
        self.address = address
        self.parts = urllib.parse.urlsplit(url)
        self.port, self.rate = port, rate
        self.context = ssl.create_default_context(cafile=cacert)
        if client_cert is not None:
            self.context.load_cert_chain(*client_cert)
        self.result = LoadResult()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.next_at = time.monotonic()

    def slot(self) -> float:
        """The time of this worker's next request: one global schedule at `rate` per second."""
        with self.lock:
            at, self.next_at = self.next_at, self.next_at + 1 / self.rate
        return at

    def connect(self) -> LoopbackHTTPS:
        return LoopbackHTTPS(self.parts.hostname, self.port, timeout=10, context=self.context, address=self.address)

    def get(self, connection: LoopbackHTTPS) -> int:
        connection.request("GET", self.parts.path)
        response = connection.getresponse()
        response.read()
        return response.status

    def worker(self, deadline: float) -> None:
        connection = None
        while not self.stopping.is_set() and time.monotonic() < deadline:
            time.sleep(max(0.0, self.slot() - time.monotonic()))
            started = time.perf_counter()
            resent = 0
            try:
                if connection is not None and closed_while_idle(connection):
                    connection.close()
                    connection = None
                reused, connection = connection is not None, connection or self.connect()
                try:
                    code = self.get(connection)
                except STALE_CONNECTION:
                    if not reused:
                        raise
                    connection.close()
                    connection, resent = self.connect(), 1
                    code = self.get(connection)
            except (OSError, http.client.HTTPException):
                code, connection = 0, None
            with self.lock:
                self.result.codes.append(code)
                self.result.latencies_ms.append((time.perf_counter() - started) * 1000)
                self.result.resent += resent

    def run(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        workers = [threading.Thread(target=self.worker, args=(deadline,), daemon=True) for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def stop(self) -> LoadResult:
        self.stopping.set()
        self.join(timeout=30)
        return self.result
