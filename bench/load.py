"""A bounded load generator on loopback: GET a URL at a fixed rate until stopped (or a cap),
recording each request's status and latency. Keep-alive HTTPS connections from a few threads, so
the generator itself stays light on a 2-core machine (one curl per request was not)."""

from __future__ import annotations

import http.client
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

    @property
    def failed(self) -> int:
        return sum(1 for c in self.codes if c != 200)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    def row(self) -> str:
        return (f"{len(self.codes)} requests, {self.failed} failed, p50 {statistics.median(self.latencies_ms):.0f} ms, "
                f"p99 {self.percentile(0.99):.0f} ms")


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the URL's hostname for SNI and certificate checks."""

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


class Load(threading.Thread):
    """`rate` requests per second to `url`, spread over WORKERS keep-alive connections."""

    def __init__(self, url: str, port: int, cacert: str, rate: float = 50.0):
        super().__init__(daemon=True)
        self.parts = urllib.parse.urlsplit(url)
        self.port, self.rate = port, rate
        self.context = ssl.create_default_context(cafile=cacert)
        self.result = LoadResult()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.next_at = time.monotonic()

    def slot(self) -> float:
        """The time of this worker's next request: one global schedule at `rate` per second."""
        with self.lock:
            at, self.next_at = self.next_at, self.next_at + 1 / self.rate
        return at

    def worker(self, deadline: float) -> None:
        connection = None
        while not self.stopping.is_set() and time.monotonic() < deadline:
            time.sleep(max(0.0, self.slot() - time.monotonic()))
            started = time.perf_counter()
            try:
                connection = connection or LoopbackHTTPS(self.parts.hostname, self.port, timeout=10,
                                                         context=self.context)
                connection.request("GET", self.parts.path)
                response = connection.getresponse()
                response.read()
                code = response.status
            except (OSError, http.client.HTTPException):
                code, connection = 0, None
            with self.lock:
                self.result.codes.append(code)
                self.result.latencies_ms.append((time.perf_counter() - started) * 1000)

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
