"""A production-shaped stack on rehearsal servers: production's settings with `host.kind: ssh`
pointing at three real Debian systems booted from the user data the program renders for them
(tests/rehearsal/servers.py). One `up` from nothing is shared by every test in the package; the
Cloudflare edge is left out, as in every engine test here (no cloudflare plugin on these machines),
but not the origin's side of it: the proxies demand the client certificate Cloudflare would present,
which the tests present in its place.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from tests.engine.conftest import ProjectCopy, cloud_copy, docker_engine, engine, free_port  # noqa: F401 (fixtures)
from tests.rehearsal.servers import GATEWAY, SERVERS, VOLUME_ID, Rehearsal, Server
from tests.stack_config import ROOT
from tests.tls_client import write_pair

IMAGES = {"database": "preflight-local/postgres:15", "cache": "preflight-local/redis:7", "proxy": "preflight-local/caddy:2",
          "backup": "preflight-local/backup:1", "app": "preflight-sample-app:0.1.0",
          "monitoring": "preflight-local/monitoring:1"}
HOSTNAME = "api.example.com"


def rehearse(client_key: str, s3_url: str):
    def change(config: dict[str, Any]) -> None:
        config["preflight:host"] = {
            "kind": "ssh", "user": "deploy", "ssh_keys": {"rehearsal": client_key},
            "servers": [{"address": s.address, "private_address": s.private_address} for s in SERVERS],
            "admin_cidrs": [f"{GATEWAY}/32"], "edge_ranges": {"ipv4": [f"{GATEWAY}/32"], "ipv6": ["fd00:fe::/64"]},
            "app_subnet": "10.10.2.0/24", "data_device": f"/dev/disk/by-id/{VOLUME_ID}",
            # Behind a load balancer of yours: each proxy's health port, admitted from app_subnet only.
            # (The address is only where the edge's records would point; the edge is left out here.)
            "load_balancer_address": "203.0.113.80"}
        config["preflight:database"]["image"] = IMAGES["database"]
        config["preflight:cache"]["image"] = IMAGES["cache"]
        config["preflight:proxy"]["image"] = IMAGES["proxy"]
        config["preflight:backup"]["image"] = IMAGES["backup"]
        config["preflight:monitoring"]["image"] = IMAGES["monitoring"]
        config["preflight:backup"]["repository"]["url"] = f"s3:{s3_url}/rehearsal-backups/production"
        for service in config["preflight:services"].values():
            service["image"] = IMAGES["app"]
            # The sample app has no worker of its own: the worker serves too, and so needs what serving needs.
            service["command"] = ["python3", "/app/app.py", "serve"]
            service["secret_env"]["JWT_SECRET"] = "jwt_secret"
            service["healthcheck"].update(interval_s=2, timeout_s=2, retries=3, start_period_s=5)
    return change


@dataclass
class Rehearsed:
    project: ProjectCopy
    servers: Rehearsal
    env: dict[str, str]
    certificate: Path
    first_up_error: str
    figures: dict[str, float] = field(default_factory=dict)
    # The client certificate and key files Cloudflare would present (the origin refuses TLS without them).
    client_cert: tuple[str, str] = ("", "")

    def deploy(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.project.deploy_argv(*args), cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, **self.env}, timeout=1800)

    def https(self, server: Server, path: str = "/health", *, method: str = "GET") -> tuple[int, str]:
        """A request to a server's proxy as the edge sends it: status and body, or 0 and curl's error."""
        result = subprocess.run(["curl", "-sS", "--max-time", "10", "-X", method, "--cacert", str(self.certificate),
                                 "--cert", self.client_cert[0], "--key", self.client_cert[1], "--resolve",
                                 f"{HOSTNAME}:443:{server.address}", "-w", "\n%{http_code}", f"https://{HOSTNAME}{path}"],
                                capture_output=True, text=True)
        body, _, code = result.stdout.rpartition("\n")
        return int(code or 0), body or result.stderr


def start_moto(workdir: Path) -> tuple[subprocess.Popen, str]:
    """S3 for the backups (production keeps them off the server), on this machine's rehearsal address."""
    port = free_port()
    url = f"http://{GATEWAY}:{port}"
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "moto_server"), "-H", GATEWAY, "-p", str(port)],
                              stdout=(workdir / "moto.log").open("w"), stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    import boto3  # noqa: PLC0415 (only the rehearsal needs it)

    boto3.client("s3", endpoint_url=url, aws_access_key_id="a", aws_secret_access_key="b",
                 region_name="us-east-1").create_bucket(Bucket="rehearsal-backups")
    return server, url


def ssh_agent(workdir: Path) -> tuple[subprocess.Popen, str, str]:
    """An agent holding the admins' key, as on an admin's workstation; no file in ~/.ssh is touched."""
    key = workdir / "admin_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rehearsal-admin", "-f", str(key)], check=True)
    socket = workdir / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket)], stdout=subprocess.DEVNULL)
    for _ in range(50):
        if socket.exists():
            break
        time.sleep(0.1)
    subprocess.run(["ssh-add", "-q", str(key)], env={**os.environ, "SSH_AUTH_SOCK": str(socket)}, check=True)
    return agent, str(socket), (workdir / "admin_key.pub").read_text().strip()


@pytest.fixture(scope="package")
def rehearsed(engine, docker_engine, tmp_path_factory):  # noqa: F811 (fixtures imported above)
    workdir = tmp_path_factory.mktemp("rehearsal")
    servers = Rehearsal(workdir)
    moto, s3_url = start_moto(workdir)
    agent, socket, client_key = ssh_agent(workdir)
    try:
        env = {**engine, "SSH_AUTH_SOCK": socket}
        (workdir / "project").mkdir()
        project = cloud_copy(workdir / "project", env, "production", rehearse(client_key, s3_url))
        deploy_env = {**project.env, "SSH_AUTH_SOCK": socket}
        # The servers do not exist yet: the first up generates their host keys and user data, then stops.
        with pytest.raises(auto.CommandError) as first:
            project.stack.up(color="never")
        rehearsed = Rehearsed(project, servers, deploy_env, workdir / "ca.pem", str(first.value))
        started = time.monotonic()
        for server in SERVERS:
            user_data = rehearsed.deploy("user-data", "production", server.name)
            assert user_data.returncode == 0, user_data.stderr
            servers.start(server, user_data.stdout)
        for server in SERVERS:
            status = servers.wait_ready(server)
            assert "status: done" in status, f"{server.name}: {status}"
        rehearsed.figures["boot to cloud-init done, 3 servers"] = time.monotonic() - started
        for server in SERVERS:  # the monitoring runs on the data server only
            servers.load_images(server, sorted({image for role, image in IMAGES.items()
                                                if role != "monitoring" or server is SERVERS[0]}))
        started = time.monotonic()
        project.stack.up(color="never")
        rehearsed.figures["up from prepared servers"] = time.monotonic() - started
        outputs = project.stack.outputs()
        rehearsed.certificate.write_text(outputs["tls_certificate_pem"].value)
        client = outputs["origin_pull_client"].value
        rehearsed.client_cert = write_pair(workdir, "origin-pull", client["cert_pem"], client["key_pem"])
        yield rehearsed
        for name, seconds in rehearsed.figures.items():
            print(f"[rehearsal] {name}: {seconds:.1f} s")
    finally:
        agent.terminate()
        moto.terminate()
        if not os.environ.get("PREFLIGHT_KEEP_REHEARSAL"):  # set it to look at the servers after a failure
            servers.remove()
