"""The local stack's containers as a docker compose project (what the seeds' teams run today),
generated from the same settings and the same generated config: images, healthchecks, limits,
networks, volumes, secrets as files, the same Caddyfile and certificate.

Needs the `docker compose` plugin (`docker compose version`); without it the benchmark says so.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from bench.common import APP, FAILING, RELEASE, ROOT, free_port
from bench.load import Load
from components.cache import redis_conf
from components.generated import random_password, self_signed_certificate
from components.proxy import ProxyRoute, render_caddyfile
from components.settings import parse_settings

PROJECT = "preflight-bench"


def compose_available() -> bool:
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


def healthcheck(check) -> dict:
    return {"test": ["CMD", *check.command], "interval": f"{check.interval_s}s", "timeout": f"{check.timeout_s}s",
            "retries": check.retries, "start_period": f"{check.start_period_s}s"}


def write_project(directory: Path, https: int, http: int, app_image: str) -> None:
    raw = {k.split(":", 1)[1]: v for k, v in yaml.safe_load((ROOT / "Pulumi.local.yaml").read_text())["config"].items()}
    settings, _ = parse_settings("local", raw, set())
    api = settings.services["api"]
    secrets = directory / "secrets"
    secrets.mkdir()
    pg, rd, jwt = random_password(48), random_password(48), random_password(64)
    cert, key = self_signed_certificate(["api.preflight.localhost"])
    files = {"postgres_password": pg, "database_url": f"postgresql://app:{pg}@postgres:5432/app",
             "redis_url": f"redis://:{rd}@redis:6379/0", "jwt_secret": jwt,
             "redis.conf": redis_conf(settings.cache, rd), "cert.pem": cert, "key.pem": key,
             "Caddyfile": render_caddyfile(settings.proxy.model_copy(update={"https_port": https}),
                                           [ProxyRoute("api.preflight.localhost", "/", "api:8000", "/health")])}
    for name, content in files.items():
        (secrets / name).write_text(content)
        (secrets / name).chmod(0o444)
    limits = lambda limit: {"mem_limit": f"{limit.memory_mb}m", "cpus": limit.cpus}  # noqa: E731
    services = {
        "postgres": {"image": settings.database.image, "command": ["postgres", "-c", "max_connections=100"],
                     "environment": {"POSTGRES_USER": "app", "POSTGRES_DB": "app",
                                     "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres_password",
                                     "PGDATA": "/var/lib/postgresql/data/pgdata"},
                     "volumes": ["pgdata:/var/lib/postgresql/data",
                                 "./secrets/postgres_password:/run/secrets/postgres_password:ro"],
                     "networks": ["internal"], "healthcheck": {"test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "app"],
                                                              "interval": "5s", "retries": 12, "start_period": "20s"},
                     **limits(settings.database.limits), "restart": "unless-stopped"},
        "redis": {"image": settings.cache.image, "command": ["redis-server", "/etc/preflight/redis.conf"],
                  "volumes": ["redisdata:/data", "./secrets/redis.conf:/etc/preflight/redis.conf:ro"],
                  "networks": ["internal"], "healthcheck": {"test": ["CMD", "redis-cli", "-a", rd, "ping"],
                                                           "interval": "5s", "retries": 12},
                  **limits(settings.cache.limits), "restart": "unless-stopped"},
        "migrate": {"image": app_image, "command": api.migrate_command, "networks": ["internal"],
                    "environment": {"DATABASE_URL_FILE": "/run/secrets/database_url"},
                    "volumes": ["./secrets/database_url:/run/secrets/database_url:ro"],
                    "depends_on": {"postgres": {"condition": "service_healthy"}}, "restart": "no"},
        "api": {"image": app_image, "command": api.command, "networks": ["internal", "edge"],
                "environment": {"DATABASE_URL_FILE": "/run/secrets/database_url", "PORT": "8000",
                                "REDIS_URL_FILE": "/run/secrets/redis_url", "JWT_SECRET_FILE": "/run/secrets/jwt_secret"},
                "volumes": [f"./secrets/{n}:/run/secrets/{n}:ro" for n in ("database_url", "redis_url", "jwt_secret")],
                "healthcheck": healthcheck(api.healthcheck), **limits(api.limits), "restart": "unless-stopped",
                "depends_on": {"migrate": {"condition": "service_completed_successfully"},
                               "redis": {"condition": "service_healthy"}}},
        "proxy": {"image": settings.proxy.image, "networks": ["edge"],
                  "command": ["caddy", "run", "--config", "/etc/preflight/Caddyfile", "--adapter", "caddyfile"],
                  "ports": [f"127.0.0.1:{http}:80", f"127.0.0.1:{https}:443"],
                  "volumes": ["./secrets/Caddyfile:/etc/preflight/Caddyfile:ro",
                              "./secrets/cert.pem:/etc/preflight/tls/cert.pem:ro",
                              "./secrets/key.pem:/etc/preflight/tls/key.pem:ro"],
                  "healthcheck": healthcheck(settings.proxy.healthcheck), **limits(settings.proxy.limits),
                  "restart": "unless-stopped", "depends_on": {"api": {"condition": "service_healthy"}}},
    }
    document = {"name": PROJECT, "services": services, "volumes": {"pgdata": {}, "redisdata": {}},
                "networks": {"internal": {"internal": True}, "edge": {}}}
    (directory / "compose.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def compose(directory: Path, *args: str, check: bool = True) -> float:
    started = time.perf_counter()
    subprocess.run(["docker", "compose", *args], cwd=directory, check=check, capture_output=True)
    return time.perf_counter() - started


def set_app_image(directory: Path, image: str) -> None:
    document = yaml.safe_load((directory / "compose.yaml").read_text())
    document["services"]["api"]["image"] = document["services"]["migrate"]["image"] = image
    (directory / "compose.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def compose_runs(runs: int, rate: float) -> list[dict[str, object]]:
    results = []
    for _ in range(runs):
        directory = Path(tempfile.mkdtemp(prefix="preflight-compose-"))
        https, http = free_port(), free_port()
        try:
            write_project(directory, https, http, APP)
            figures: dict[str, object] = {"fresh up": compose(directory, "up", "-d", "--wait")}
            url, cert = f"https://api.preflight.localhost:{https}/health", str(directory / "secrets" / "cert.pem")
            set_app_image(directory, RELEASE)
            load = Load(url, https, cert, rate)
            load.start()
            figures["release"] = compose(directory, "up", "-d", "--wait")
            time.sleep(1)
            figures["release load"] = load.stop()
            # A failing image: compose recreates the app with it (no gate), then someone puts the good one back.
            load = Load(url, https, cert, rate)
            load.start()
            started = time.perf_counter()
            set_app_image(directory, FAILING)
            compose(directory, "up", "-d", "--wait", check=False)
            set_app_image(directory, RELEASE)
            compose(directory, "up", "-d", "--wait")
            figures["bad release"] = time.perf_counter() - started
            time.sleep(1)
            figures["bad release load"] = load.stop()
            results.append(figures)
        finally:
            subprocess.run(["docker", "compose", "down", "-v"], cwd=directory, capture_output=True)
            shutil.rmtree(directory, ignore_errors=True)
    return results
