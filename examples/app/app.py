"""Preflight's sample service: a tiny HTTP API that reports whether Postgres and Redis answer.

  app.py serve    listen on $PORT (default 8000): GET /health, GET /, POST /visits (records one),
                  GET /visits (how many were recorded)
  app.py migrate  apply the schema (idempotent); runs before a new release takes traffic
  app.py check    exit 0 when /health answers 200 (the container healthcheck)

Secrets arrive as files: DATABASE_URL_FILE, REDIS_URL_FILE, JWT_SECRET_FILE.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
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


def health() -> tuple[int, dict]:
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


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/health":
            self.respond(*health())
        elif self.path == "/visits":
            self.respond(*visits(record=False))
        elif self.path == "/":
            self.respond(200, {"service": "preflight-sample-app", "environment": os.environ.get("PREFLIGHT_ENVIRONMENT")})
        else:
            self.respond(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path == "/visits":
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


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    if command == "serve":
        read_secret("JWT_SECRET")  # refuse to start without it
        server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler)
        # `docker stop` sends SIGTERM, which PID 1 would ignore: stop accepting and exit at once
        # instead of being killed after the grace period.
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
