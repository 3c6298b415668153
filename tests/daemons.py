"""Real Postgres, Redis, Caddy and the sample app on loopback, configured with exactly what the
components generate. Each `start_*` returns a handle whose `stop()` ends the process."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.stack_config import ROOT

REQUIRED_BINARIES = {"caddy": "caddy", "redis-server": "redis-server", "redis-cli": "redis-tools",
                     "openssl": "openssl", "curl": "curl", "runuser": "util-linux", "unshare": "util-linux",
                     "iptables": "iptables", "sshd": "openssh-server", "ssh-keygen": "openssh-client",
                     "ssh-agent": "openssh-client", "apt-cacher-ng": "apt-cacher-ng",
                     "promtool": "prometheus", "amtool": "prometheus-alertmanager",
                     # the rehearsal's port scans (tests/rehearsal/test_outside_judges.py), nmap in a container's netns
                     "nmap": "nmap", "nsenter": "util-linux"}
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def missing_packages() -> list[str]:
    """Debian packages whose programs these tests run and this machine lacks."""
    missing = [package for binary, package in REQUIRED_BINARIES.items() if shutil.which(binary) is None]
    if not (POSTGRES_BIN / "postgres").exists():
        missing.append("postgresql-15")
    return missing


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f}s")


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen
    log: Path
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for step in self.cleanup:
            step()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def spawn(name: str, cmd: list[str], workdir: Path, env: dict[str, str] | None = None, **kwargs) -> Daemon:
    log = workdir / f"{name}.log"
    handle = log.open("w")
    process = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                               **kwargs)
    handle.close()
    return Daemon(name, process, log)


def start_postgres(workdir: Path, *, user: str, database: str, password: str) -> tuple[Daemon, str]:
    """A throwaway cluster owned by the `postgres` system user; returns it and its URL."""
    # Its own directory: pytest's temporary directories are private to root.
    home = Path(tempfile.mkdtemp(prefix="preflight-pg-"))
    home.chmod(0o755)
    data = home / "pgdata"
    data.mkdir()
    pwfile = home / "pgpass"
    pwfile.write_text(password)
    shutil.chown(data, "postgres")
    shutil.chown(pwfile, "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", user, f"--pwfile={pwfile}",
                    "--auth=scram-sha-256"], check=True, capture_output=True)
    port = free_port()
    daemon = spawn("postgres", [*as_postgres, str(POSTGRES_BIN / "postgres"), "-D", str(data), "-p", str(port),
                                "-k", str(data), "-c", "listen_addresses=127.0.0.1"], workdir)
    daemon.cleanup.append(lambda: shutil.rmtree(home, ignore_errors=True))
    wait_until(lambda: subprocess.run([str(POSTGRES_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                                      capture_output=True).returncode == 0, "postgres")
    subprocess.run([*as_postgres, str(POSTGRES_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user,
                    database], check=True, capture_output=True, env={**os.environ, "PGPASSWORD": password})
    return daemon, f"postgresql://{user}:{password}@127.0.0.1:{port}/{database}"


def start_redis(workdir: Path, conf_text: str, port: int) -> Daemon:
    conf = workdir / "redis.conf"
    conf.write_text(conf_text)
    daemon = spawn("redis", ["redis-server", str(conf)], workdir)
    wait_until(lambda: _redis_answers(port), "redis")
    return daemon


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def write_secret_files(workdir: Path, values: dict[str, str]) -> dict[str, str]:
    """Secret name -> value, as files; returns the *_FILE variables pointing at them."""
    directory = workdir / "secrets"
    directory.mkdir(exist_ok=True)
    env = {}
    for variable, value in values.items():
        path = directory / variable.lower()
        path.write_text(value)
        env[f"{variable}_FILE"] = str(path)
    return env


def run_app(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "examples/app/app.py"), command], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def start_app(workdir: Path, env: dict[str, str], port: int) -> Daemon:
    daemon = spawn("app", [sys.executable, str(ROOT / "examples/app/app.py"), "serve"], workdir,
                   env={**env, "PORT": str(port)})
    wait_until(lambda: _http_status(f"http://127.0.0.1:{port}/") == 200, "sample app")
    return daemon


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def self_signed_certificate(workdir: Path, hostname: str) -> tuple[Path, Path]:
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={hostname}",
                    "-addext", f"subjectAltName=DNS:{hostname}"], check=True, capture_output=True)
    return cert, key


def start_caddy(workdir: Path, caddyfile: str, https_port: int) -> Daemon:
    config = workdir / "Caddyfile"
    config.write_text(caddyfile)
    env = {"XDG_DATA_HOME": str(workdir / "caddy-data"), "XDG_CONFIG_HOME": str(workdir / "caddy-config")}
    daemon = spawn("caddy", ["caddy", "run", "--config", str(config), "--adapter", "caddyfile"], workdir, env=env)
    wait_until(lambda: _port_open(https_port), "caddy")
    return daemon


def _port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def curl(url: str, *, hostname: str, port: int, cacert: Path) -> tuple[int, dict[str, str], str]:
    """GET through the proxy as a client would (SNI and Host = hostname); returns status, headers, body."""
    result = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", "--cacert", str(cacert),
                             "--resolve", f"{hostname}:{port}:127.0.0.1", url],
                            capture_output=True, text=True, check=True)
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines if ":" in line)}
    return int(status_line.split()[1]), headers, body


def random_password() -> str:
    return secrets.token_urlsafe(36)


if __name__ == "__main__":
    # scripts/test-deps.sh installs what this prints, so the list lives in one place.
    print(" ".join(missing_packages()))
