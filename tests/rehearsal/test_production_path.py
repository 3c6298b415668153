"""The production path run for real: a production-shaped stack brought up from nothing on three
rehearsal servers through the cloud-init wait and Docker over SSH with pinned host keys, then
checked from outside the program."""

from __future__ import annotations

import json
import os
import subprocess
import time

from bench.load import Load
from components.generated import certificate_authority, client_certificate
from components.remote_exec import pinned_options, ssh_argv
from deploy.policy_pack import PACK, config_file
from tests.rehearsal.conftest import HOSTNAME
from tests.rehearsal.servers import GATEWAY, PRIVATE, PUBLIC, SERVERS, docker, on
from tests.tls_client import REFUSED, get_health, write_pair

DATA, APP1, APP2 = SERVERS


def test_the_first_up_stopped_at_the_unprepared_servers_and_said_how_to_prepare_them(rehearsed):
    assert "python -m deploy user-data production" in rehearsed.first_up_error
    assert "nothing was deployed to it" in rehearsed.first_up_error


def test_https_health_through_every_application_servers_proxy(rehearsed):
    for server in (APP1, APP2):
        code, body = rehearsed.https(server)
        assert code == 200, body
        assert json.loads(body) == {"database": "up", "cache": "up"}  # Postgres and Redis over the private network


def test_every_application_servers_proxy_refuses_tls_without_the_zones_client_certificate(rehearsed, tmp_path):
    """What the origin does to anyone who is not Cloudflare acting for this zone: no certificate, or one
    of another CA (another zone's), is refused in the handshake on every application server; the
    stack's own certificate, read from the state (a secret output), gets 200."""
    assert rehearsed.project.stack.outputs()["origin_pull_client"].secret
    ca_pem, ca_key = certificate_authority("another zone's origin pulls", days=30)
    cert_pem, key_pem, _ = client_certificate(ca_pem, ca_key, "another zone", days=30)
    other = write_pair(tmp_path, "other", cert_pem, key_pem)
    for server in (APP1, APP2):
        results = {name: get_health(server.address, 443, str(rehearsed.certificate), client, sni=HOSTNAME, host=HOSTNAME)
                   for name, client in (("none", None), ("another CA's", other), ("the stack's", rehearsed.client_cert))}
        assert results["none"].startswith(REFUSED) and results["another CA's"].startswith(REFUSED), (server.name, results)
        assert results["the stack's"] == "HTTP/1.1 200 OK", (server.name, results)


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
        for port in (22, 80, 443):
            assert not probe(PUBLIC, "10.250.0.50", server.address, port), f"{server.name}:{port} open to anyone"
    # This machine is the admins' network and the edge: it reaches both.
    assert rehearsed.https(APP1)[0] == 200
    assert on(DATA, "sh", "-c", "iptables -S PREFLIGHT-IN").stdout.count(f"-s {GATEWAY}/32") == 2


def health_port_answer(source_network: str, address: str, target: str) -> str:
    """What a plain HTTP GET /health to target:8081 from a throwaway container at `address` gets: the
    status line, or nothing when the connection is not admitted."""
    request = f"GET /health HTTP/1.1\\r\\nHost: {HOSTNAME}\\r\\nConnection: close\\r\\n\\r\\n"
    result = docker("run", "--rm", "--network", source_network, "--ip", address, "preflight-local/debian:bookworm",
                    "timeout", "5", "bash", "-c", f"exec 3<>/dev/tcp/{target}/8081 && printf '{request}' >&3 && head -1 <&3",
                    check=False)
    return result.stdout.strip()


def test_the_health_port_answers_the_load_balancers_network_only(rehearsed):
    """Behind a load balancer (which cannot present the client certificate) each proxy serves its
    health routes on 8081 over plain HTTP, admitted from app_subnet only by the server's filter."""
    for server in (APP1, APP2):
        assert health_port_answer(PRIVATE, "10.10.2.50", server.private_address) == "HTTP/1.1 200 OK", server.name
        assert health_port_answer(PRIVATE, "10.10.3.50", server.private_address) == "", server.name  # outside app_subnet
        assert not probe(PUBLIC, "10.250.0.50", server.address, 8081), f"{server.name}:8081 open to the public side"


def ssh_as(rehearsed, user: str, *options: str) -> subprocess.CompletedProcess:
    public_key = rehearsed.project.stack.outputs()["operations"].value["ssh_options"][-1].split(" ", 2)[-1]
    return subprocess.run(ssh_argv(f"{user}@{DATA.address}", ["true"], [*pinned_options(public_key), *options]),
                          capture_output=True, text=True, env={**os.environ, **rehearsed.env}, timeout=60)


def test_ssh_is_hardened_and_the_data_root_is_on_the_volume(rehearsed):
    effective = on(DATA, "sshd", "-T").stdout.lower().splitlines()
    assert "permitrootlogin no" in effective and "passwordauthentication no" in effective
    assert ssh_as(rehearsed, "deploy").returncode == 0  # the admins' key, through the pinned host key
    root = ssh_as(rehearsed, "root")
    assert root.returncode == 255 and "Permission denied" in root.stderr
    password = ssh_as(rehearsed, "deploy", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password")
    assert password.returncode == 255 and "Permission denied (publickey)" in password.stderr
    for server in SERVERS:
        active = on(server, "systemctl", "is-active", "fail2ban", "unattended-upgrades", "docker", check=False)
        assert active.stdout.split() == ["active", "active", "active"], f"{server.name}: {active.stdout}"
    assert on(DATA, "docker", "info", "-f", "{{.DockerRootDir}}").stdout.strip() == "/srv/data/docker"
    assert on(DATA, "findmnt", "-n", "-o", "SOURCE", "/srv/data").stdout.strip() == rehearsed.servers.loop


def rehearsal_pack_config(directory) -> str:
    """Production's enforcement, with the one waiver the rehearsal needs, as a team would write it: its
    edge is this machine's gateway standing in for Cloudflare, so the web ports admit a range that is
    not Cloudflare's (PF-HOST-003 judges servers you have too)."""
    config = json.loads(config_file("production").read_text())
    reason = "the rehearsal's edge is its gateway, standing in for Cloudflare's ranges"
    config["PF-HOST-003"] = {"waivers": [
        {"resource": f"preflight-host-{server}user-data", "reason": reason} for server in ("", "app1-", "app2-")]}
    path = directory / "rehearsal-policy.json"
    path.write_text(json.dumps(config))
    return str(path)


def test_the_policy_pack_at_production_enforcement_finds_nothing(rehearsed, tmp_path):
    result = rehearsed.project.cli("preview", "--policy-pack", str(PACK), "--policy-pack-config",
                                   rehearsal_pack_config(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "[mandatory]" not in output, output


def test_a_second_preview_has_no_changes(rehearsed):
    preview = rehearsed.project.stack.preview(expect_no_changes=True, color="never")
    assert set(preview.change_summary) == {"same"}


RELEASE_IMAGE = "preflight-sample-app:rehearsal-release"


def test_a_release_rolls_server_by_server_under_traffic_with_no_failed_request(rehearsed):
    docker("build", "-q", "-t", RELEASE_IMAGE, "-", input="FROM preflight-sample-app:0.1.0\nLABEL release=rehearsal\n")
    for server in (APP1, APP2):
        rehearsed.servers.load_images(server, [RELEASE_IMAGE])
    for service in rehearsed.project.config["preflight:services"].values():
        service["image"] = RELEASE_IMAGE
    rehearsed.project.write_config()
    loads = {server.name: Load(f"https://{HOSTNAME}/health", 443, str(rehearsed.certificate), rate=30,
                               address=server.address, client_cert=rehearsed.client_cert) for server in (APP1, APP2)}
    started = time.time()
    for load in loads.values():
        load.start()
    rehearsed.project.stack.up(color="never")
    results = {name: load.stop() for name, load in loads.items()}
    for name, result in results.items():
        assert len(result.codes) > 100 and set(result.codes) == {200}, \
            f"through {name}: {result.failed} of {len(result.codes)} failed"

    def first(server, action: str) -> float:
        events = on(server, "docker", "events", "--since", f"{started:.0f}", "--until", f"{time.time():.0f}",
                    "--filter", "type=container", "--filter", "label=preflight.component=preflight-api-" + server.name,
                    "--format", "{{json .}}").stdout.splitlines()
        times = [json.loads(e)["timeNano"] / 1e9 for e in events if json.loads(e)["Action"] == action]
        assert times, f"no {action} of the api on {server.name}"
        return min(times)

    # Server 2's new container is created only once server 1's new one is healthy (and switched to).
    assert first(APP1, "health_status: healthy") < first(APP2, "create")


def visits(rehearsed, method: str = "GET") -> tuple[int, str]:
    return rehearsed.https(APP1, "/visits", method=method)


def healthy_everywhere(server, timeout: float = 240) -> list[str]:
    """Waits until every Preflight container on the server reports healthy; their names and states."""
    deadline = time.monotonic() + timeout
    while True:
        states = on(server, "docker", "ps", "-a", "--filter", "label=preflight.stack=production", "--format",
                    "{{.Names}} {{.Status}}", check=False).stdout.splitlines()
        if states and all("(healthy)" in s or "Exited (0)" in s for s in states) or time.monotonic() > deadline:
            return states
        time.sleep(3)


def test_the_data_server_reboots_and_everything_comes_back_without_an_up(rehearsed):
    for _ in range(3):
        assert visits(rehearsed, "POST")[0] == 201
    before = json.loads(visits(rehearsed)[1])["visits"]
    docker("restart", "-t", "60", DATA.container, timeout=180)  # systemd shuts down cleanly, then boots again
    states = healthy_everywhere(DATA)
    assert states and all("(healthy)" in s or "Exited (0)" in s for s in states), states
    assert on(DATA, "findmnt", "-n", "-o", "SOURCE", "/srv/data").stdout.strip() == rehearsed.servers.loop
    rules = on(DATA, "sh", "-c", "iptables -S DOCKER-USER; iptables -S PREFLIGHT-IN").stdout
    assert "--ctorigdstport 5432 --ctdir ORIGINAL -j DROP" in rules and "-A PREFLIGHT-IN -j DROP" in rules
    deadline = time.monotonic() + 60
    while rehearsed.https(APP1)[0] != 200 and time.monotonic() < deadline:
        time.sleep(2)  # the application servers reconnect to Postgres and Redis
    assert rehearsed.https(APP1)[0] == 200
    assert json.loads(visits(rehearsed)[1])["visits"] == before


def test_backup_and_restore_drill_work_over_ssh(rehearsed):
    backup = rehearsed.deploy("backup", "production")
    assert backup.returncode == 0, backup.stderr
    drill = rehearsed.deploy("restore-drill", "production")
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "visits" in drill.stdout


def test_destroy_leaves_no_preflight_container_on_the_servers(rehearsed):
    # Production protects its data: tearing it down is a deliberate act.
    rehearsed.project.cli("state", "unprotect", "--all", "--yes", check=True)
    rehearsed.project.stack.destroy(color="never")
    for server in SERVERS:
        left = on(server, "docker", "ps", "-aq", "--filter", "label=preflight.stack=production").stdout.split()
        assert left == [], f"{server.name}: {left}"
