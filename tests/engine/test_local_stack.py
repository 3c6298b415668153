"""The local stack deployed for real: the Go-built CLI, the plugins built from served modules and the
local Docker engine, checked from outside (curl through the proxy, docker inspect, the state).

One `up` serves every test in this module; the tests run in file order: what the first `up`
built, then a release, then a failed release, then `destroy`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from bench.load import Load, LoadResult
from deploy import backups
from tests.engine.conftest import ProjectCopy, Traffic, curl_local, free_port
from tests.stack_config import ROOT

APP_IMAGE = "preflight-sample-app:0.1.0"
RELEASE_IMAGE = "preflight-sample-app:engine-test-release"
# A release that starts but answers 500 to everything (so its healthcheck fails too).
FAILING_IMAGE = "preflight-sample-app:engine-test-failing"
# A good release that listens at once but answers 503 on /health for its first 20 s.
SLOW_READY_IMAGE = "preflight-sample-app:engine-test-slow-ready"
LOAD_RATE = 90.0  # requests/s of GET /health through the proxy, over keep-alive connections
SECRET_FILES = ("jwt_secret", "database_url", "redis_url")


def container_names(project: ProjectCopy) -> dict[str, str]:
    """Resource name -> the Docker container's name, from the state."""
    return {r["urn"].split("::")[-1]: r["outputs"]["name"] for r in project.resources()
            if r["type"] == "docker:index/container:Container"}


def inspect(name: str) -> dict[str, Any]:
    return json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True).stdout)[0]


def build_image(tag: str, base: str, *lines: str) -> None:
    subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input="\n".join([f"FROM {base}", *lines]) + "\n",
                   text=True, check=True, capture_output=True)


def served_upstream(project: ProjectCopy) -> str:
    """The api container the proxy sends requests to: its site blocks, read inside the proxy."""
    proxy = container_names(project)["preflight-proxy"]
    sites = subprocess.run(["docker", "exec", proxy, "cat", "/etc/preflight/sites.caddy"], capture_output=True,
                           text=True, check=True).stdout
    [upstream] = re.findall(r"reverse_proxy (\S+):8000 ", sites)
    return upstream


@dataclass
class Deployed:
    project: ProjectCopy
    https_port: int
    http_port: int
    up_output: str
    certificate: Path = field(init=False)

    def __post_init__(self):
        self.certificate = self.project.directory / "local-ca.pem"
        self.certificate.write_text(self.project.stack.outputs()["tls_certificate_pem"].value)

    def curl(self, path: str, *, scheme: str = "https", extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        port = self.https_port if scheme == "https" else self.http_port
        return curl_local(port, self.certificate, path, scheme=scheme, extra=extra)

    def health(self) -> tuple[int, str]:
        result = self.curl("/health", extra=("-w", "\n%{http_code}"))
        body, _, code = result.stdout.rpartition("\n")
        return int(code or 0), body

    def deploy(self, *args: str) -> subprocess.CompletedProcess:
        """`python -m deploy` on this copy, as CI runs it."""
        return subprocess.run(self.project.deploy_argv(*args), cwd=ROOT, capture_output=True, text=True,
                              env={**os.environ, "PULUMI_BACKEND_URL": self.project.env["PULUMI_BACKEND_URL"]})

    def load(self) -> Load:
        """Steady keep-alive load of GET /health through the proxy, as users would send it."""
        return Load(f"https://api.preflight.localhost:{self.https_port}/health", self.https_port, str(self.certificate),
                    rate=LOAD_RATE)

    def up(self) -> auto.UpResult:
        lines: list[str] = []
        result = self.project.stack.up(on_output=lines.append, show_secrets=False, color="never")
        self.up_output += "\n".join(lines)
        return result


@pytest.fixture(scope="module")
def deployed(engine, docker_engine, tmp_path_factory) -> Deployed:
    https_port, http_port = free_port(), free_port()

    def ports(config):
        config["preflight:proxy"].update(https_port=https_port, http_port=http_port)
        config["preflight:backup"] = {"checks": {"tables": ["visits"], "min_rows": {"visits": 3}}}
        config["preflight:cache"]["holds_data"] = True  # so the backup also carries Redis' files

    project = ProjectCopy(tmp_path_factory.mktemp("local-stack"), engine, ports)
    lines: list[str] = []
    project.stack.up(on_output=lines.append, show_secrets=False, color="never")
    yield Deployed(project, https_port, http_port, "\n".join(lines))
    project.stack.destroy(color="never")  # a no-op when test_destroy_leaves_nothing ran


def test_https_through_the_proxy_reaches_the_app_with_database_and_cache_up(deployed):
    code, body = deployed.health()
    assert code == 200, body
    assert json.loads(body) == {"database": "up", "cache": "up"}
    headers = deployed.curl("/health", extra=("-D", "-", "-o", "/dev/null")).stdout.lower()
    assert "strict-transport-security: max-age=31536000; includesubdomains" in headers
    assert "x-content-type-options: nosniff" in headers


def test_plain_http_is_redirected_to_https(deployed):
    result = deployed.curl("/health", scheme="http", extra=("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"))
    assert result.stdout == f"308 https://api.preflight.localhost:{deployed.https_port}/health"


@pytest.mark.parametrize("resource", ["preflight-postgres", "preflight-redis"])
def test_data_services_publish_no_port_and_sit_only_on_the_internal_network(deployed, resource):
    container = inspect(container_names(deployed.project)[resource])
    assert not container["HostConfig"]["PortBindings"]
    assert not any(container["NetworkSettings"]["Ports"].values())
    [network] = container["NetworkSettings"]["Networks"]
    assert json.loads(subprocess.run(["docker", "network", "inspect", network], capture_output=True, text=True,
                                     check=True).stdout)[0]["Internal"] is True


def test_no_secret_value_in_container_env_state_or_output(deployed):
    names = container_names(deployed.project)
    api = names["preflight-api"]
    secrets = [subprocess.run(["docker", "exec", api, "cat", f"/run/secrets/{f}"], capture_output=True, text=True,
                              check=True).stdout.strip() for f in SECRET_FILES]
    # The passwords inside the URLs are the Postgres and Redis secrets themselves.
    secrets += [url.split(":")[2].split("@")[0] for url in secrets[1:]]
    secrets.append(subprocess.run(["docker", "exec", names["preflight-backup"], "cat", "/run/secrets/backup_password"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    assert all(len(s) >= 32 for s in secrets)

    envs = "\n".join("\n".join(inspect(name)["Config"]["Env"] or []) for name in names.values())
    # As a user exports it (the Automation API's export_stack decrypts, for re-import).
    plaintext = deployed.project.cli("stack", "export", check=True).stdout
    preview = deployed.project.cli("preview", "--diff").stdout
    # The pack sees secret values decrypted: its messages must never repeat them.
    checked = deployed.project.preview_with_pack("production")
    pack_output = checked.stdout + checked.stderr
    for secret in secrets:
        assert secret not in pack_output
        assert secret not in envs
        assert secret not in plaintext  # secrets are only ever `ciphertext` in the state
        assert secret not in deployed.up_output
        assert secret not in preview
    assert '"ciphertext"' in plaintext


def no_violations(result) -> bool:
    output = result.stdout + result.stderr
    return result.returncode == 0 and "✅ preflight" in output and "[mandatory]" not in output and \
        "[advisory]" not in output


def test_the_policy_pack_finds_nothing_before_the_first_up(engine, tmp_path):
    # Before the first up most values are unknown (networks, image ids, generated secrets).
    result = ProjectCopy(tmp_path, engine).preview_with_pack("production")
    assert no_violations(result), result.stdout + result.stderr


def test_the_policy_pack_finds_nothing_after_up(deployed):
    result = deployed.project.preview_with_pack("production")
    assert no_violations(result), result.stdout + result.stderr


def test_a_second_preview_has_no_changes(deployed):
    preview = deployed.project.stack.preview(expect_no_changes=True, color="never")
    assert set(preview.change_summary) == {"same"}


def replaced_by_preview(project: ProjectCopy) -> set[str]:
    """Names of the resources a preview would replace."""
    events: list[auto.EngineEvent] = []
    project.stack.preview(on_event=events.append, color="never")
    return {e.resource_pre_event.metadata.urn.split("::")[-1] for e in events
            if e.resource_pre_event and e.resource_pre_event.metadata.op in (auto.OpType.REPLACE,
                                                                             auto.OpType.CREATE_REPLACEMENT)}


def test_a_new_app_image_replaces_only_the_app_containers_while_requests_keep_succeeding(deployed):
    # A new image of the same app (its own id), as a release would bring.
    subprocess.run(["docker", "build", "-q", "-t", RELEASE_IMAGE, "-"], input=f"FROM {APP_IMAGE}\nLABEL release=2\n",
                   text=True, check=True, capture_output=True)
    before = container_names(deployed.project)
    deployed.project.config["preflight:services"]["api"]["image"] = RELEASE_IMAGE
    deployed.project.write_config()

    replaced = replaced_by_preview(deployed.project)
    assert {name for name in replaced if name in before} == {"preflight-api", "preflight-api-migrate"}

    traffic = Traffic(lambda: deployed.health()[0])
    traffic.start()
    deployed.up()
    codes = traffic.stop()
    after = container_names(deployed.project)
    assert len(codes) > 20 and set(codes) == {200}, f"{len([c for c in codes if c != 200])} of {len(codes)} failed"
    assert after["preflight-api"] != before["preflight-api"]
    assert inspect(after["preflight-api"])["Image"] == inspect(RELEASE_IMAGE)["Id"]
    assert {k: v for k, v in after.items() if not k.startswith("preflight-api")} == \
           {k: v for k, v in before.items() if not k.startswith("preflight-api")}


def test_a_failing_migration_keeps_the_previous_release_serving(deployed):
    api_before = container_names(deployed.project)["preflight-api"]
    service = deployed.project.config["preflight:services"]["api"]
    good_migration = service["migrate_command"]
    service["migrate_command"] = ["python3", "-c", "import sys; print('migration 7: column exists'); sys.exit(3)"]
    deployed.project.write_config()

    with pytest.raises(auto.CommandError) as failed:
        deployed.up()
    message = str(failed.value)
    migrate = container_names(deployed.project)["preflight-api-migrate"]
    assert "migrations of service 'api' exited with code 3" in message
    assert f"docker logs {migrate}" in message
    assert "Traceback" not in message
    assert "migration 7: column exists" in subprocess.run(["docker", "logs", migrate], capture_output=True,
                                                          text=True).stdout
    assert container_names(deployed.project)["preflight-api"] == api_before
    assert deployed.health()[0] == 200

    service["migrate_command"] = good_migration
    deployed.project.write_config()
    deployed.up()
    assert deployed.health()[0] == 200


def no_failures(result: LoadResult) -> str:
    """The assertion's message: how many failed, and what the proxy logged about each (its error log)."""
    failed = [c for c in result.codes if c != 200]
    proxies = subprocess.run(["docker", "ps", "--format", "{{.Names}}", "--filter", "label=preflight.role=proxy"],
                             capture_output=True, text=True).stdout.split()
    logged = []
    for proxy in proxies:
        logs = subprocess.run(["docker", "logs", "--since", "10m", proxy], capture_output=True, text=True)
        for line in (logs.stdout + logs.stderr).splitlines():
            if '"http.log.error"' in line:
                entry = json.loads(line)
                logged.append(f"{proxy}: {entry.get('status')} after {entry.get('duration', 0):.1f}s: {entry.get('msg')}")
    return (f"{len(failed)} of {len(result.codes)} requests failed ({sorted(set(failed))}; 0 = connection error); "
            f"the proxy logged: {logged[-10:] or 'nothing'}")


def test_a_release_that_never_turns_healthy_gets_no_request_even_from_a_plain_pulumi_up(deployed):
    service = deployed.project.config["preflight:services"]["api"]
    service["healthcheck"].update(interval_s=1, timeout_s=1, retries=2, start_period_s=0)
    deployed.project.write_config()
    deployed.up()  # faster healthchecks for the releases below (a release of its own)
    serving = served_upstream(deployed.project)
    build_image(FAILING_IMAGE, RELEASE_IMAGE, "ENV SAMPLE_APP_FAULT=error")
    service["image"] = FAILING_IMAGE
    deployed.project.write_config()

    load = deployed.load()
    load.start()
    with pytest.raises(auto.CommandError):
        deployed.up()  # the docker provider waits out the new container's healthcheck deadline, then fails
    result = load.stop()
    assert len(result.codes) > 300 and set(result.codes) == {200}, no_failures(result)
    assert served_upstream(deployed.project) == serving  # the proxy was never switched

    service["image"] = RELEASE_IMAGE
    deployed.project.write_config()
    deployed.up()
    assert deployed.health()[0] == 200


@pytest.fixture(scope="module")
def slow_ready_release(deployed):
    """A good release whose app answers 503 on /health for 20 s, released under steady load while
    5 s requests keep running on whichever container serves them."""
    build_image(SLOW_READY_IMAGE, RELEASE_IMAGE, "ENV SAMPLE_APP_READY_AFTER_S=20")
    before = served_upstream(deployed.project)
    api = deployed.project.config["preflight:services"]["api"]
    api["image"] = SLOW_READY_IMAGE
    api["healthcheck"]["start_period_s"] = 30  # what such an app declares: its warm-up is no failure
    deployed.project.write_config()
    slow_codes: list[int] = []
    stop = threading.Event()

    def slow_requests():
        for _ in range(40):  # bounded: at most ~200 s
            if stop.is_set():
                return
            slow_codes.append(int(deployed.curl("/slow?s=5", extra=("-o", "/dev/null", "-w", "%{http_code}")).stdout
                                  or 0))

    slow = threading.Thread(target=slow_requests)
    load = deployed.load()
    load.start()
    slow.start()
    started = time.monotonic()
    deployed.up()
    seconds = time.monotonic() - started
    time.sleep(6)  # the last 5 s request that began on the old container has ended
    stop.set()
    slow.join(timeout=30)
    result = load.stop()
    return {"load": result, "slow": slow_codes, "seconds": seconds, "before": before,
            "after": served_upstream(deployed.project)}


def test_a_slow_to_ready_release_costs_no_request(slow_ready_release):
    result = slow_ready_release["load"]
    assert slow_ready_release["seconds"] > 20  # up waited for the warm-up
    assert len(result.codes) > 1000 and set(result.codes) == {200}, no_failures(result)
    assert slow_ready_release["after"] != slow_ready_release["before"]


def test_requests_in_flight_on_the_old_release_finish_when_it_is_replaced(slow_ready_release, deployed):
    # Back-to-back 5 s requests through a 20 s+ release: some were on the old container at the switch.
    assert len(slow_ready_release["slow"]) >= 4 and set(slow_ready_release["slow"]) == {200}, slow_ready_release["slow"]
    assert subprocess.run(["docker", "inspect", slow_ready_release["before"]], capture_output=True).returncode != 0
    api = deployed.project.config["preflight:services"]["api"]
    api["image"] = RELEASE_IMAGE
    api["healthcheck"]["start_period_s"] = 0
    deployed.project.write_config()
    deployed.up()


def visits(deployed: Deployed, method: str = "GET") -> tuple[int, str]:
    result = deployed.curl("/visits", extra=("-X", method, "-w", "\n%{http_code}"))
    body, _, code = result.stdout.rpartition("\n")
    return int(code or 0), body


def test_a_backup_is_drilled_into_a_scratch_database_and_restored_live(deployed):
    ops = deployed.project.stack.outputs()["operations"].value
    docker = backups.Docker.of(ops)
    for _ in range(3):
        assert visits(deployed, "POST")[0] == 201
    assert json.loads(visits(deployed)[1]) == {"visits": 3}
    snapshot = backups.backup_now(docker, ops["backup_container"])
    files = docker.run("exec", ops["backup_container"], "restic", "ls", snapshot.id).stdout
    assert "/var/lib/preflight-backup/work/postgres.dump" in files and "/redis/" in files

    subprocess.run(["docker", "exec", ops["database_container"], "psql", "-U", "app", "-d", "app", "-c",
                    "DROP TABLE visits"], check=True, capture_output=True)
    assert visits(deployed)[0] == 500

    report = backups.restore_drill(docker, ops, progress=lambda _: None)
    assert report.failures == [] and report.snapshot.id == snapshot.id
    assert "visits" in report.checks["tables"] and report.checks["rows in visits"] == 3
    assert report.rto_s > 0 and report.snapshot.age_s >= 0
    assert visits(deployed)[0] == 500  # the drill never touches the live database
    assert not subprocess.run(["docker", "ps", "-aq", "--filter", "label=preflight.role=restore-drill"],
                              capture_output=True, text=True).stdout.strip()

    safety = backups.restore_live(docker, ops, snapshot.id, progress=lambda _: None)
    assert safety.id != snapshot.id
    assert json.loads(visits(deployed)[1]) == {"visits": 3}
    assert deployed.health()[0] == 200


def test_a_wrong_repository_password_gives_one_clear_error_and_changes_nothing(deployed):
    ops = deployed.project.stack.outputs()["operations"].value
    job = inspect(ops["backup_container"])
    [repository] = [m["Name"] for m in job["Mounts"] if m["Destination"] == "/repo"]
    listing = ["find", "/repo/restic", "-type", "f"]

    def run_with_wrong_password(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "run", "--rm", "-v", f"{repository}:/repo", "-e",
                               "RESTIC_REPOSITORY=/repo/restic", "-e", "RESTIC_PASSWORD_FILE=/tmp/pw", "--entrypoint",
                               "sh", job["Config"]["Image"], "-c",
                               f"echo not-the-password > /tmp/pw && {' '.join(command)}"],
                              capture_output=True, text=True)

    before = run_with_wrong_password(*listing).stdout
    result = run_with_wrong_password("preflight-backup", "snapshots")
    assert result.returncode == backups.EXIT_WRONG_PASSWORD
    assert result.stderr.strip() == ("[backup] the repository password does not open /repo/restic; nothing was "
                                     "changed. Set the password it was created with (RESTIC_PASSWORD_FILE).")
    assert run_with_wrong_password(*listing).stdout == before




def test_deploy_preview_reports_changes_and_flags_stateful_replacements(deployed):
    database = deployed.project.config["preflight:database"]
    database["max_connections"] = 150  # the database container's command changes: it is replaced
    deployed.project.write_config()
    reports = deployed.project.directory / "reports"
    result = deployed.deploy("preview", "local", "--report-dir", str(reports))
    database["max_connections"] = 100
    deployed.project.write_config()
    assert result.returncode == 0, result.stderr
    report = json.loads((reports / "preview.json").read_text())
    assert report["dangerous"] == ["preflight-postgres"]
    [step] = [s for s in report["steps"] if s["name"] == "preflight-postgres"]
    assert step["op"] == "replace" and "command" in step["replace_reasons"]
    markdown = (reports / "preview.md").read_text()
    assert markdown.index("Stateful resources replaced or deleted") < markdown.index("### Changes")
    assert report["violations"] == []


def test_the_first_deploy_up_of_a_failing_release_rolls_back_to_the_running_one_without_a_failed_request(deployed):
    # No release is recorded yet: the stack was brought up by plain `pulumi up`s, as `make up` does.
    assert deployed.deploy("releases", "local").stdout.strip() == ""
    api = deployed.project.config["preflight:services"]["api"]
    api["image"] = FAILING_IMAGE
    deployed.project.write_config()
    load = deployed.load()
    load.start()
    result = deployed.deploy("up", "local")
    codes = load.stop()
    assert result.returncode == 6, result.stderr
    # The failing release never took traffic: the previous one served throughout.
    assert len(codes.codes) > 300 and set(codes.codes) == {200}, no_failures(codes)
    assert f"recorded the running release as release 1 (api={RELEASE_IMAGE})" in result.stderr
    assert "rolling back to release 1" in result.stderr and "serving again after" in result.stderr
    # Failed at Docker's first unhealthy report, naming the container and its check, not at the deadline.
    assert "new container preflight-api" in result.stderr and "is unhealthy (last check:" in result.stderr
    assert "up failed:" in result.stderr and not re.search(r"(stderr|stdout):\s*$", result.stderr, re.M)
    assert deployed.health()[0] == 200
    serving = inspect(container_names(deployed.project)["preflight-api"])
    assert serving["Image"] == inspect(RELEASE_IMAGE)["Id"]
    listed = deployed.deploy("releases", "local").stdout.splitlines()
    assert f"api={RELEASE_IMAGE}" in listed[-1] and FAILING_IMAGE not in "".join(listed)  # never recorded
    api["image"] = RELEASE_IMAGE
    deployed.project.write_config()


def test_deploy_rollback_returns_to_an_earlier_release(deployed):
    deployed.project.config["preflight:services"]["api"]["image"] = APP_IMAGE
    deployed.project.write_config()
    assert deployed.deploy("up", "local").returncode == 0
    listed = deployed.deploy("releases", "local").stdout.splitlines()
    assert f"api={APP_IMAGE}" in listed[-1]
    [earlier] = [line for line in listed if f"api={RELEASE_IMAGE}" in line][-1:]
    result = deployed.deploy("rollback", "local", earlier.split()[0])
    assert result.returncode == 0, result.stderr
    assert inspect(container_names(deployed.project)["preflight-api"])["Image"] == inspect(RELEASE_IMAGE)["Id"]
    assert deployed.health()[0] == 200
    assert deployed.deploy("up", "local").returncode == 0  # back to what the stack file says


def test_deploy_drift_finds_what_changed_outside_the_program(deployed):
    assert deployed.deploy("drift", "local").returncode == 0
    redis = container_names(deployed.project)["preflight-redis"]
    subprocess.run(["docker", "rm", "-f", redis], check=True, capture_output=True)
    result = deployed.deploy("drift", "local")
    assert result.returncode == 7 and "preflight-redis" in result.stdout
    assert deployed.deploy("up", "local").returncode == 0
    assert deployed.health()[0] == 200


def test_deploy_refuses_to_destroy_production_without_confirmation(deployed):
    result = deployed.deploy("destroy", "production")
    assert result.returncode == 2 and "pass --confirm production" in result.stderr


def test_destroy_leaves_nothing(deployed):
    resources = deployed.project.resources()
    containers = [r["outputs"]["name"] for r in resources if r["type"] == "docker:index/container:Container"]
    networks = [r["outputs"]["name"] for r in resources if r["type"] == "docker:index/network:Network"]
    volumes = [r["outputs"]["name"] for r in resources if r["type"] == "docker:index/volume:Volume"]
    # the stack's 6 and the monitoring's 7; its Prometheus, Alertmanager and jobs' figures volumes beside the data's 3
    assert len(containers) == 6 + 7 and len(networks) == 2 and len(volumes) == 3 + 3

    deployed.project.stack.destroy(color="never")
    for kind, names in (("container", containers), ("network", networks), ("volume", volumes)):
        for name in names:
            assert subprocess.run(["docker", kind, "inspect", name], capture_output=True).returncode != 0, name
    assert deployed.project.resources() == []
