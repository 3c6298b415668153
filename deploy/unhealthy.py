"""Failing a bad release at its first unhealthy report instead of at its healthcheck deadline.

The docker provider waits for a new container until it is healthy or `wait_timeout` has passed,
even when Docker has already reported it unhealthy. While `up` runs, this watches Docker's health
events of the stack's containers on each of its Docker hosts; a container that did not exist
before the update and turns unhealthy before it was ever healthy is reported (its last healthcheck
output and log lines) and removed, which ends the provider's wait at once: the update fails, the
previous container (created before, removed only after success) keeps serving, and `deploy up`
rolls back. A new container that was healthy once has passed the provider's wait and may already
take traffic: a later unhealthy report is only reported, never acted on (removing it would take the
release's only container away from the proxy).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable, Iterable

from .docker import Docker
from .orphans import networks_of

REMOVE, REPORT = "remove", "report"


class NewContainers:
    """What a health event of the stack's containers calls for: a container that did not exist
    before the update and reports unhealthy before it was ever healthy fails its wait (REMOVE);
    one that was healthy once is only reported (REPORT)."""

    def __init__(self, existing: set[str]):
        self.existing = existing
        self.healthy: set[str] = set()

    def verdict(self, event: dict) -> str | None:
        container = event.get("id") or event.get("Actor", {}).get("ID", "")
        if not container or container in self.existing:
            return None
        status = event.get("Action", "")
        if status == "health_status: healthy":
            self.healthy.add(container)
        if status != "health_status: unhealthy":
            return None
        return REPORT if container in self.healthy else REMOVE


class UnhealthyWatch:
    def __init__(self, stack: str, engines: Iterable[Docker], report: Callable[[str], None],
                 networks: frozenset[str] = frozenset()):
        """networks: the ids of the stack's networks (from its state); a container on none of them
        belongs to another copy of the stack on the same engine and is left alone."""
        self.stack, self.report, self.networks = stack, report, networks
        self.engines = sorted(set(engines), key=lambda engine: engine.host)
        self.removed: list[str] = []
        self._processes: list[subprocess.Popen] = []
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> UnhealthyWatch:
        label = f"label=preflight.stack={self.stack}"
        for engine in self.engines:
            listed = engine.run("ps", "-aq", "--no-trunc", "--filter", label, check=False)
            if listed.returncode != 0:
                self.report(f"not watching {engine.host} for unhealthy containers: {listed.stderr.strip()}")
                continue
            existing = set(listed.stdout.split())
            events = subprocess.Popen(
                engine.argv("events", "--filter", "type=container", "--filter", label, "--format", "{{json .}}"),
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self._processes.append(events)
            thread = threading.Thread(target=self._follow, args=(engine, events, existing), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _follow(self, engine: Docker, events: subprocess.Popen, existing: set[str]) -> None:
        assert events.stdout is not None
        new = NewContainers(existing)
        for line in events.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            container = event.get("id") or event.get("Actor", {}).get("ID", "")
            name = event.get("Actor", {}).get("Attributes", {}).get("name", container[:12])
            verdict = new.verdict(event)
            if verdict and not self._ours(engine, container):
                continue
            if verdict == REMOVE:
                self._remove(engine, container, name)
            elif verdict == REPORT:
                self.report(f"container {name} reported unhealthy after it had passed its healthcheck; left running "
                            f"(it may be taking traffic); see `docker inspect {name}`")

    def _ours(self, engine: Docker, container: str) -> bool:
        if not self.networks:
            return True
        found = engine.run("inspect", container, check=False)
        try:
            return bool(networks_of(json.loads(found.stdout)[0]) & self.networks)
        except (json.JSONDecodeError, IndexError, AttributeError):
            return False

    def _remove(self, docker: Docker, container: str, name: str) -> None:
        health = docker.run("inspect", "--format", "{{json .State.Health}}", container, check=False)
        try:
            last_check = (json.loads(health.stdout).get("Log") or [{}])[-1].get("Output", "").strip()
        except (json.JSONDecodeError, AttributeError):
            last_check = ""
        logs = docker.run("logs", "--tail", "5", container, check=False)
        self.report(f"new container {name} is unhealthy (last check: {last_check or 'no output'}); removing it so "
                    f"the update fails now, not at its healthcheck deadline")
        for line in (logs.stdout + logs.stderr).strip().splitlines()[-5:]:
            self.report(f"  {name}: {line}")
        docker.run("rm", "-f", container, check=False)
        self.removed.append(name)

    def __exit__(self, *_exc) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        for thread in self._threads:
            thread.join(timeout=5)
