"""The production path run for real: a production-shaped stack brought up from nothing on three
rehearsal servers through the cloud-init wait and Docker over SSH with pinned host keys, then
checked from outside the program."""

from __future__ import annotations

import json

from tests.rehearsal.conftest import HOSTNAME
from tests.rehearsal.servers import GATEWAY, PRIVATE, PUBLIC, SERVERS, docker, on

DATA, APP1, APP2 = SERVERS


def test_the_first_up_stopped_at_the_unprepared_servers_and_said_how_to_prepare_them(rehearsed):
    assert "python -m deploy user-data production" in rehearsed.first_up_error
    assert "nothing was deployed to it" in rehearsed.first_up_error


def test_https_health_through_every_application_servers_proxy(rehearsed):
    for server in (APP1, APP2):
        code, body = rehearsed.https(server)
        assert code == 200, body
        assert json.loads(body) == {"database": "up", "cache": "up"}  # Postgres and Redis over the private network


def probe(source_network: str, address: str, target: str, port: int) -> bool:
    """Whether a TCP connection from a throwaway container at `address` reaches target:port."""
    result = docker("run", "--rm", "--network", source_network, "--ip", address, "preflight-local/debian:bookworm",
                    "timeout", "5", "bash", "-c", f"echo > /dev/tcp/{target}/{port}", check=False)
    return result.returncode == 0


def test_postgres_and_redis_answer_the_application_servers_only(rehearsed):
    for port in (5432, 6379):
        assert on(APP1, "timeout", "5", "bash", "-c", f"echo > /dev/tcp/{DATA.private_address}/{port}",
                  check=False).returncode == 0
        assert not probe(PRIVATE, "10.10.3.50", DATA.private_address, port)  # outside the app subnet


def test_the_host_firewall_admits_ssh_from_the_admins_and_web_from_the_edge_only(rehearsed):
    for server in (DATA, APP1):
        for port in (22, 443):
            assert not probe(PUBLIC, "10.250.0.50", server.address, port), f"{server.name}:{port} open to anyone"
    # This machine is the admins' network and the edge: it reaches both.
    assert rehearsed.https(APP1)[0] == 200
    assert on(DATA, "sh", "-c", "iptables -S PREFLIGHT-IN").stdout.count(f"-s {GATEWAY}/32") == 2


def test_ssh_is_hardened_and_the_data_root_is_on_the_volume(rehearsed):
    effective = on(DATA, "sshd", "-T").stdout.lower().splitlines()
    assert "permitrootlogin no" in effective and "passwordauthentication no" in effective
    for server in SERVERS:
        active = on(server, "systemctl", "is-active", "fail2ban", "unattended-upgrades", "docker", check=False)
        assert active.stdout.split() == ["active", "active", "active"], f"{server.name}: {active.stdout}"
    assert on(DATA, "docker", "info", "-f", "{{.DockerRootDir}}").stdout.strip() == "/srv/data/docker"
    assert on(DATA, "findmnt", "-n", "-o", "SOURCE", "/srv/data").stdout.strip() == rehearsed.servers.loop


def test_a_second_preview_has_no_changes(rehearsed):
    preview = rehearsed.project.stack.preview(expect_no_changes=True, color="never")
    assert set(preview.change_summary) == {"same"}
