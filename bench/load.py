"""A bounded load generator on loopback: GET a URL at a fixed rate until stopped (or a cap),
recording each request's status and latency."""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

MAX_SECONDS = 300  # the generator stops by itself, whatever happens to the caller


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


class Load(threading.Thread):
    """`rate` requests per second to `url` through curl (resolving the host to loopback)."""

    def __init__(self, url: str, port: int, cacert: str, rate: float = 50.0):
        super().__init__(daemon=True)
        self.url, self.port, self.cacert, self.rate = url, port, cacert, rate
        self.result = LoadResult()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def one(self) -> None:
        host = self.url.split("/")[2].split(":")[0]
        started = time.perf_counter()
        done = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                               "--resolve", f"{host}:{self.port}:127.0.0.1", "--cacert", self.cacert, self.url],
                              capture_output=True, text=True)
        with self.lock:
            self.result.codes.append(int(done.stdout or 0))
            self.result.latencies_ms.append((time.perf_counter() - started) * 1000)

    def run(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        with ThreadPoolExecutor(max_workers=16) as pool:
            next_at = time.monotonic()
            while not self.stopping.is_set() and time.monotonic() < deadline:
                pool.submit(self.one)
                next_at += 1 / self.rate
                time.sleep(max(0.0, next_at - time.monotonic()))

    def stop(self) -> LoadResult:
        self.stopping.set()
        self.join(timeout=30)
        return self.result
