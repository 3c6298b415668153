"""Interrupted deploys, done for real: `python -m deploy up` killed with SIGKILL at several points of
a release, in two ways, then one plain `deploy up`: every process it started (a cancelled CI job,
an OOM kill of the job; the engine starts each plugin in a process group of its own, so this is the
process tree, not the group), or the command and its CLI alone (a closed terminal: the language
host and the plugins go on with what they started, unrecorded). Also the Docker engine
stopped and started again with the stack idle, and an `up` while it is down.

One copy of the local stack serves every test of this module, in file order.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine.conftest import ProjectCopy, curl_local, free_port
from tests.stack_config import ROOT

APP_IMAGE = "preflight-sample-app:0.1.0"
OTHER_IMAGE = "preflight-sample-app:engine-test-interrupted"
ENGINE_SCRIPT = ROOT / "scripts" / "docker-engine.sh"


@dataclass
class Stack:
    project: ProjectCopy
    https_port: int
    certificate: str
    release: int = 0

    def deploy(self, *args: str, **popen) -> subprocess.Popen:
        return subprocess.Popen(self.project.deploy_argv(*args), cwd=ROOT, text=True,
                                env={**os.environ, "PULUMI_BACKEND_URL": self.project.env["PULUMI_BACKEND_URL"]},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)

    def deploy_up(self) -> subprocess.CompletedProcess:
        process = self.deploy("up", "local")
        stdout, stderr = process.communicate(timeout=600)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def health(self) -> int:
        result = curl_local(self.https_port, self.certificate, "/health", extra=("-w", "\n%{http_code}"))
        return int(result.stdout.rpartition("\n")[2] or 0)

    def visits(self) -> int:
        result = curl_local(self.https_port, self.certificate, "/visits")
        return json.loads(result.stdout)["visits"]

    def next_release(self) -> None:
        """A new api image (alternating between two), as every release brings."""
        self.release += 1
        self.project.config["preflight:services"]["api"]["image"] = OTHER_IMAGE if self.release % 2 else APP_IMAGE
        self.project.write_config()

    def state(self) -> dict:
        return json.loads(self.project.cli("stack", "export", check=True).stdout)["deployment"]


def labelled_containers(*, stopped_too: bool = False) -> list[dict]:
    ids = subprocess.run(["docker", "ps", *(["-a"] if stopped_too else []), "-q", "--no-trunc",
                          "--filter", "label=preflight.stack=local"],
                         capture_output=True, text=True, check=True).stdout.split()
    return json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True).stdout or "[]") \
        if ids else []


def unknown_containers(stack: Stack) -> list[str]:
    """Containers (running, exited or created but never started) on this stack's networks (its own;
    other copies have theirs) that the state does not have."""
    resources = stack.state().get("resources") or []
    ids = {r["outputs"].get("id") for r in resources if r["type"] == "docker:index/container:Container"}
    networks = {r["outputs"].get(key) for r in resources if r["type"] == "docker:index/network:Network"
                for key in ("id", "name")}
    return [c["Name"] for c in labelled_containers(stopped_too=True)
            if ({n["NetworkID"] for n in c["NetworkSettings"]["Networks"].values()}
                | set(c["NetworkSettings"]["Networks"])) & networks and c["Id"] not in ids]


@pytest.fixture(scope="module")
def stack(engine, docker_engine, tmp_path_factory) -> Stack:
    subprocess.run(["docker", "tag", APP_IMAGE, OTHER_IMAGE], check=True)
    subprocess.run(["docker", "build", "-q", "-t", OTHER_IMAGE, "-"], input=f"FROM {APP_IMAGE}\nLABEL interrupted=1\n",
                   text=True, check=True, capture_output=True)
    https_port, http_port = free_port(), free_port()

    def ports(config):
        config["preflight:proxy"].update(https_port=https_port, http_port=http_port)
        config["preflight:services"]["api"]["healthcheck"].update(interval_s=1, timeout_s=3, retries=3, start_period_s=0)

    project = ProjectCopy(tmp_path_factory.mktemp("interrupted"), engine, ports)
    project.stack.up(color="never")
    certificate = project.directory / "local-ca.pem"
    certificate.write_text(project.stack.outputs()["tls_certificate_pem"].value)
    deployed = Stack(project, https_port, str(certificate))
    for _ in range(3):
        assert curl_local(https_port, certificate, "/visits", extra=("-X", "POST")).returncode == 0
    yield deployed
    project.stack.destroy(color="never")


class Killed:
    """`deploy up` started in its own process group, killed with SIGKILL once its progress shows
    `marker` (plus `delay` seconds)."""

    def __init__(self, stack: Stack, marker: str, delay: float = 0.0):
        self.process = stack.deploy("up", "local", start_new_session=True)
        self.marker, self.delay = re.compile(marker), delay
        self.lines: list[str] = []
        self.seen = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if self.marker.search(line):
                self.seen.set()

    def kill(self, whole_tree: bool) -> None:
        assert self.seen.wait(timeout=180), f"never reached {self.marker.pattern}:\n{''.join(self.lines)}"
        time.sleep(self.delay)
        tree = descendants(self.process.pid)
        cli = [pid for pid in tree if process_name(pid) == "pulumi"]
        for pid in [self.process.pid, *(tree if whole_tree else cli)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=30)
        if not whole_tree:
            leftovers_finish([pid for pid in tree if pid not in cli])


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for line in subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def leftovers_finish(pids: list[int], seconds: float = 20.0) -> None:
    """Gives the plugins of a killed CLI time to finish what they started (what happens to a user),
    then stops them: a plugin whose engine is gone waits for it forever (seen: for hours)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(process_name(pid) for pid in pids):
        time.sleep(1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# Where the release is when it is killed (the progress line `deploy up` prints as each step ends).
KILL_POINTS = {
    "before the migration": (r"create-replacement preflight-api-image$", 0.0),
    "during the new container's creation": (r"create-replacement preflight-api-migrate$", 1.0),
    "during the old container's deletion": (r"update\s+preflight-proxy-sites$", 0.0),
}


def recover_and_check(stack: Stack, rows_before: int) -> subprocess.CompletedProcess:
    started = time.monotonic()
    recovered = stack.deploy_up()
    seconds = time.monotonic() - started
    assert recovered.returncode == 0, recovered.stderr
    assert unknown_containers(stack) == [], recovered.stderr
    assert stack.health() == 200
    assert stack.visits() == rows_before
    print(f"recovered in {seconds:.1f}s:\n" + "\n".join(line for line in recovered.stderr.splitlines()
                                                      if "s  " not in line))
    return recovered


@pytest.mark.parametrize("whole_tree", [True, False], ids=["every process", "command and CLI only"])
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_release_killed_midway_is_completed_by_the_next_deploy_up(stack, point, whole_tree):
    rows = stack.visits()
    stack.next_release()
    marker, delay = KILL_POINTS[point]
    Killed(stack, marker, delay).kill(whole_tree)
    recovered = recover_and_check(stack, rows)
    assert "removed the lock of stack local" in recovered.stderr  # the CLI died holding it


@pytest.mark.parametrize("whole_tree", [True, False], ids=["every process", "command and CLI only"])
def test_a_proxy_replacement_killed_midway_is_completed_by_the_next_deploy_up(stack, whole_tree):
    rows = stack.visits()
    proxy = stack.project.config["preflight:proxy"]
    proxy["content_security_policy"] = f"default-src 'self'; report-uri /csp-{time.monotonic_ns()}"
    stack.project.write_config()
    # The proxy is replaced delete-first (its host ports): killed with the old one gone.
    Killed(stack, r"delete-replaced preflight-proxy$").kill(whole_tree)
    recover_and_check(stack, rows)


def test_drift_lists_a_container_the_state_does_not_have_and_the_next_up_removes_it(stack):
    # What a plugin that outlived its CLI leaves: a container with the stack's labels on its network.
    edge = next(r["outputs"]["name"] for r in stack.state()["resources"]
                if r["type"] == "docker:index/network:Network" and "-edge-" in r["outputs"]["name"])
    subprocess.run(["docker", "run", "-d", "--name", "preflight-api-leftover", "--network", edge,
                    "--label", "preflight.stack=local", "--label", "preflight.role=service", APP_IMAGE,
                    "sleep", "600"], check=True, capture_output=True)
    drift = stack.deploy("drift", "local")
    stdout, stderr = drift.communicate(timeout=300)
    assert drift.returncode == 7, stderr
    assert "container preflight-api-leftover" in stdout and "not in the state" in stdout
    stack.next_release()
    recovered = stack.deploy_up()
    assert recovered.returncode == 0, recovered.stderr
    assert "removed container preflight-api-leftover" in recovered.stderr
    assert unknown_containers(stack) == []


def test_a_lock_held_by_a_live_update_is_left_alone_and_named(stack):
    stack.next_release()
    running = Killed(stack, r"create-replacement preflight-api-image$")
    assert running.seen.wait(timeout=180)
    second = stack.deploy_up()
    assert second.returncode != 0
    assert "is locked by pid" in second.stderr and "pulumi cancel --stack local --yes" in second.stderr
    running.process.wait(timeout=300)
    assert running.process.returncode == 0, "".join(running.lines)


def engine_restartable() -> bool:
    return subprocess.run(["bash", str(ENGINE_SCRIPT), "owns"], capture_output=True).returncode == 0


def test_an_up_while_the_docker_engine_is_down_fails_at_once_and_the_engine_brings_everything_back(stack):
    if not engine_restartable():
        pytest.fail("this test stops and starts the Docker engine: it needs one started by scripts/docker-engine.sh "
                    "(`make test` does that where no engine runs)")
    rows = stack.visits()
    before = {c["Name"] for c in labelled_containers()}
    subprocess.run(["bash", str(ENGINE_SCRIPT), "stop"], check=True, capture_output=True)
    try:
        stack.next_release()
        started = time.monotonic()
        down = stack.deploy_up()
        seconds = time.monotonic() - started
        assert down.returncode != 0
        assert "unix:///var/run/docker.sock" in down.stderr and "does not answer" in down.stderr, down.stderr
        assert seconds < 30, f"took {seconds:.1f}s to fail"
        print(f"up with the engine down failed after {seconds:.1f}s")
    finally:
        started = time.monotonic()
        subprocess.run(["bash", str(ENGINE_SCRIPT), "start"], check=True, capture_output=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        containers = labelled_containers()
        healthy = {c["Name"] for c in containers if (c["State"].get("Health") or {}).get("Status") == "healthy"}
        if before <= healthy and stack.health() == 200:
            break
        time.sleep(2)
    print(f"engine started; every container healthy again after {time.monotonic() - started:.1f}s, without an up")
    assert before <= {c["Name"] for c in labelled_containers()}
    assert stack.health() == 200 and stack.visits() == rows
    recovered = stack.deploy_up()
    assert recovered.returncode == 0, recovered.stderr
    assert unknown_containers(stack) == [] and stack.health() == 200 and stack.visits() == rows
