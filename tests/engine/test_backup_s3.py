"""The backup job's S3 path (what production and staging use) against a real S3-compatible server:
moto's server on loopback, the backup image and a scratch Postgres on the host's network."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import boto3
import pytest

from components.settings import BackupSettings
from deploy.backups import tar_of
from tests.engine.conftest import free_port
from tests.stack_config import ROOT

BUCKET = "preflight-backups"
POSTGRES_IMAGE = "preflight-local/postgres:15"


def secret_files(container: str, files: dict[str, str]) -> None:
    subprocess.run(["docker", "cp", "-", f"{container}:/tmp"], input=tar_of(files), check=True, capture_output=True)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("w")
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def database(docker_engine):
    port, name = free_port(), f"preflight-s3-test-db-{free_port()}"
    subprocess.run(["docker", "create", "--name", name, "--network", "host", "-e", "POSTGRES_USER=app", "-e",
                    "POSTGRES_DB=app", "-e", "POSTGRES_PASSWORD_FILE=/tmp/pw", POSTGRES_IMAGE, "postgres", "-p",
                    str(port), "-c", "listen_addresses=127.0.0.1"], check=True, capture_output=True)
    secret_files(name, {"pw": "app-password-for-the-s3-test"})
    subprocess.run(["docker", "start", name], check=True, capture_output=True)
    for _ in range(120):
        if subprocess.run(["docker", "exec", name, "pg_isready", "-h", "127.0.0.1", "-p", str(port)],
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.5)
    yield name, port
    subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True)


def psql(database, sql: str) -> str:
    name, port = database
    # Over the local socket (trusted), as an operator on the database host would.
    return subprocess.run(["docker", "exec", name, "psql", "-p", str(port), "-U", "app", "-d",
                           "app", "-tAc", sql], check=True, capture_output=True, text=True).stdout.strip()


def backup_job(s3: str, database, *command: str) -> subprocess.CompletedProcess:
    """One run of the stack's backup image, configured as a cloud stack configures it."""
    _, port = database
    script = ("echo backup-repository-password > /tmp/pw && "
              f"echo postgresql://app:app-password-for-the-s3-test@127.0.0.1:{port}/app > /tmp/url && "
              + " && ".join(command))
    return subprocess.run(["docker", "run", "--rm", "--network", "host",
                           "-e", f"RESTIC_REPOSITORY=s3:{s3}/{BUCKET}/production",
                           "-e", "RESTIC_PASSWORD_FILE=/tmp/pw", "-e", "DATABASE_URL_FILE=/tmp/url",
                           "-e", "AWS_ACCESS_KEY_ID=testing", "-e", "AWS_SECRET_ACCESS_KEY=testing",
                           "--entrypoint", "sh", BackupSettings().image, "-c", script],
                          capture_output=True, text=True)


def test_backups_go_to_s3_and_restore_from_it(s3, database):
    psql(database, "CREATE TABLE orders (id serial PRIMARY KEY, total int); "
                   "INSERT INTO orders (total) SELECT g FROM generate_series(1, 500) g")
    result = backup_job(s3, database, "preflight-backup once", "preflight-backup snapshots")
    assert result.returncode == 0, result.stderr
    [snapshot] = json.loads(result.stdout.strip().splitlines()[-1])
    assert snapshot["tags"] == ["preflight"]
    stored = boto3.client("s3", endpoint_url=s3, aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name="us-east-1").list_objects_v2(Bucket=BUCKET, Prefix="production/")
    keys = [o["Key"] for o in stored.get("Contents", [])]
    assert "production/config" in keys and any(k.startswith("production/snapshots/") for k in keys)

    psql(database, "DROP TABLE orders")
    result = backup_job(s3, database, "preflight-backup restore latest /tmp/url")
    assert result.returncode == 0, result.stderr
    assert psql(database, "SELECT count(*), sum(total) FROM orders") == "500|125250"
