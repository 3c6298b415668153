"""Preflight's sample service: a tiny HTTP API that reports whether Postgres and Redis answer.

  app.py serve    listen on $PORT (default 8000): GET /health, GET /, POST /visits (records one),
                  GET /visits (how many were recorded), GET /slow?s=N (answers after N s, at most 30),
                  GET /status?code=N (answers N: errors on demand)
  app.py migrate  apply the schema (idempotent); runs before a new release takes traffic
  app.py check    exit 0 when /health answers 200 (the container healthcheck)

Secrets arrive as files: DATABASE_URL_FILE, REDIS_URL_FILE, JWT_SECRET_FILE.

For rehearsing releases that go wrong (tests, benchmarks):
  SAMPLE_APP_FAULT=error       every request answers 500 (a release that starts but never works)
  SAMPLE_APP_READY_AFTER_S=N   /health answers 503 for the first N seconds (a slow warm-up)

On SIGTERM (`docker stop`) it stops accepting connections and finishes the requests in flight.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS visits (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())",
]


def read_secret(variable: str) -> str:
    path = os.environ.get(f"{variable}_FILE")
    if not path:
        raise SystemExit(f"{variable}_FILE is not set")
    with open(path, encoding="utf-8") as handle:
        return handle.read().strip()


def database_up() -> bool:
    import psycopg2

    try:
        with psycopg2.connect(read_secret("DATABASE_URL"), connect_timeout=2) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            return cur.fetchone() == (1,)
    except Exception:  # noqa: BLE001 - any failure means "down" for a health report
        return False


def cache_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(read_secret("REDIS_URL"), socket_timeout=2).ping())
    except Exception:  # noqa: BLE001
        return False


STARTED = time.monotonic()


def health() -> tuple[int, dict]:
    warming = float(os.environ.get("SAMPLE_APP_READY_AFTER_S", "0")) - (time.monotonic() - STARTED)
    if warming > 0:
        return 503, {"warming_up_for_s": round(warming, 1)}
    report = {"database": "up" if database_up() else "down", "cache": "up" if cache_up() else "down"}
    return (200 if all(v == "up" for v in report.values()) else 503), report


def visits(record: bool) -> tuple[int, dict]:
    import psycopg2

    try:
        with psycopg2.connect(read_secret("DATABASE_URL"), connect_timeout=5) as conn, conn.cursor() as cur:
            if record:
                cur.execute("INSERT INTO visits DEFAULT VALUES")
            cur.execute("SELECT count(*) FROM visits")
            return (201 if record else 200), {"visits": cur.fetchone()[0]}
    except psycopg2.Error as error:
        return 500, {"error": error.pgerror or str(error)}


def slow(query: str) -> tuple[int, dict]:
    seconds = min(float(urllib.parse.parse_qs(query).get("s", ["5"])[0]), 30.0)
    time.sleep(seconds)
    return 200, {"slept_s": seconds}


def status(query: str) -> tuple[int, dict]:
    """Answers with the status asked for: errors on demand, the rest of the app healthy (the alert tests)."""
    code = int(urllib.parse.parse_qs(query).get("code", ["200"])[0])
    return (code, {"status": code}) if 200 <= code <= 599 else (400, {"error": "code: 200 to 599"})


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path, _, query = self.path.partition("?")
        if os.environ.get("SAMPLE_APP_FAULT") == "error":
            self.respond(500, {"error": "this release is broken (SAMPLE_APP_FAULT=error)"})
        elif self.path == "/health":
            self.respond(*health())
        elif self.path == "/visits":
            self.respond(*visits(record=False))
        elif self.path == "/":
            self.respond(200, {"service": "preflight-sample-app", "environment": os.environ.get("PREFLIGHT_ENVIRONMENT")})
        elif path == "/slow":
            self.respond(*slow(query))
        elif path == "/status":
            self.respond(*status(query))
        else:
            self.respond(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if os.environ.get("SAMPLE_APP_FAULT") == "error":
            self.respond(500, {"error": "this release is broken (SAMPLE_APP_FAULT=error)"})
        elif self.path == "/visits":
            self.respond(*visits(record=True))
        else:
            self.respond(404, {"error": "not found"})

    def respond(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write(json.dumps({"request": self.requestline, "status": args[1] if len(args) > 1 else None}) + "\n")


def migrate() -> None:
    import psycopg2

    with psycopg2.connect(read_secret("DATABASE_URL"), connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute(MIGRATIONS[0])
        for version, statement in enumerate(MIGRATIONS[1:], start=1):
            cur.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (version,))
            if cur.fetchone() is None:
                cur.execute(statement)
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                print(f"applied migration {version}")
    print("migrations up to date")


def check() -> int:
    port = os.environ.get("PORT", "8000")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
            return 0 if response.status == 200 else 1
    except Exception:  # noqa: BLE001
        return 1


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight: a drained shutdown
    # The listen backlog (socketserver's default is 5). When the proxy switches to a release it opens
    # its connections to the new container all at once; with 5, a busy host drops the SYNs beyond
    # it and the proxy's 3 s dial timeout turns them into 502s. Servers for production use far more
    # (gunicorn and uvicorn 2048, Node 511).
    request_queue_size = 1024


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    if command == "serve":
        read_secret("JWT_SECRET")  # refuse to start without it
        server = Server(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler)
        # `docker stop` sends SIGTERM, which PID 1 would ignore: stop accepting, finish the requests
        # in flight, and exit, instead of being killed after the grace period.
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
        server.serve_forever()
        server.server_close()
    elif command == "migrate":
        migrate()
    elif command == "check":
        return check()
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
