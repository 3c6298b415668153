"""Containers, volumes and networks of a stack that its state does not know: what an interrupted
update leaves behind (a create the killed engine never recorded; a plugin that went on after its
CLI was killed).

Every container Preflight makes carries the label `preflight.stack=<stack>`, but so do the
containers of any other copy of the same stack on the same engine (a test's copy, a benchmark's).
What makes a container this stack's is its networks: every container of the stack is attached to
the stack's own networks, whose ids are in the state. So an orphan container is one with the
stack's label, attached to one of the state's networks, whose id the state does not have. A
volume or network with the label that the state does not have is an orphan only if no container
outside this stack uses it.

Orphan containers are removed after a successful update (the state's containers then serve every
route); volumes are never removed, only reported with the commands to keep or delete them;
unused networks are removed with the containers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .docker import Docker

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"


@dataclass(frozen=True)
class Known:
    """What the state holds, by Docker id (containers, networks) or name (volumes)."""

    containers: frozenset[str]
    networks: frozenset[str]  # ids and names: a container that was created but never started knows only the names
    volumes: frozenset[str]

    @classmethod
    def of(cls, deployment: Mapping[str, Any]) -> Known:
        resources = deployment.get("resources") or []

        def outputs(kind: str, key: str) -> frozenset[str]:
            return frozenset(str((r.get("outputs") or {}).get(key)) for r in resources
                             if r.get("type") == kind and (r.get("outputs") or {}).get(key))
        return cls(outputs(CONTAINER, "id"), outputs(NETWORK, "id") | outputs(NETWORK, "name"), outputs(VOLUME, "name"))


def networks_of(container: dict[str, Any]) -> set[str]:
    """The ids and names of the networks a container is on (ids are empty until it first starts)."""
    attached = (container.get("NetworkSettings") or {}).get("Networks") or {}
    return {name for name in attached} | {n.get("NetworkID") for n in attached.values() if n.get("NetworkID")}


@dataclass(frozen=True)
class Orphan:
    engine: Docker
    kind: str  # container, volume, network
    id: str
    name: str

    def where(self) -> str:
        return "" if self.engine.host.startswith("unix://") else f" on {self.engine.host}"


@dataclass
class Orphans:
    found: list[Orphan] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Orphan]:
        return [o for o in self.found if o.kind == kind]

    def lines(self) -> list[str]:
        lines = [f"container {o.name}{o.where()} carries the stack's labels and sits on its networks, but is not in "
                 f"the state (left by an interrupted update)" for o in self.of_kind("container")]
        lines += [f"volume {o.name}{o.where()} carries the stack's labels but is not in the state; it is kept: "
                  f"`docker volume rm {o.name}` deletes it, or `pulumi import docker:index/volume:Volume <name> "
                  f"{o.name}` adopts it" for o in self.of_kind("volume")]
        lines += [f"network {o.name}{o.where()} carries the stack's labels, is not in the state and has no container"
                  for o in self.of_kind("network")]
        return lines


def _inspect(engine: Docker, kind: str, ids: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    result = engine.run(kind, "inspect", *ids, check=False)
    try:
        return json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        return []


def _listed(engine: Docker, *args: str) -> list[str]:
    result = engine.run(*args, check=False)
    return result.stdout.split() if result.returncode == 0 else []


def _when(stamp: str) -> datetime:
    """Docker's timestamps (RFC 3339, nanoseconds, Z or an offset), comparable."""
    try:
        return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def find(stack: str, deployment: Mapping[str, Any], engines: Iterable[Docker]) -> Orphans:
    known = Known.of(deployment)
    label = f"label=preflight.stack={stack}"
    orphans = Orphans()
    for engine in sorted(set(engines), key=lambda e: e.host):
        containers = _inspect(engine, "container", _listed(engine, "ps", "-aq", "--no-trunc", "--filter", label))
        # A container on one of this stack's networks belongs to this stack; on none of them, to another copy.
        ours: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for container in containers:
            (ours if networks_of(container) & known.networks else others).append(container)
        for container in ours:
            if container["Id"] not in known.containers:
                orphans.found.append(Orphan(engine, "container", container["Id"], container["Name"].lstrip("/")))
        networks = _inspect(engine, "network", _listed(engine, "network", "ls", "-q", "--no-trunc", "--filter", label))
        # Volumes and networks have no containers to tell whose they are: only those made after this
        # stack's own networks (its first resources) can be left by one of its updates, not by a copy
        # of the stack that was there before (or has been destroyed, keeping its volumes).
        born = min((_when(n.get("Created", "")) for n in networks if n["Id"] in known.networks), default=None)
        used_by_others = {m.get("Name") for c in others for m in c.get("Mounts") or [] if m.get("Type") == "volume"}
        volumes = _inspect(engine, "volume", [v for v in _listed(engine, "volume", "ls", "-q", "--filter", label)
                                              if v not in known.volumes and v not in used_by_others])
        for volume in volumes:
            if born and _when(volume.get("CreatedAt", "")) >= born:
                orphans.found.append(Orphan(engine, "volume", volume["Name"], volume["Name"]))
        for network in networks:
            if network["Id"] not in known.networks and not network.get("Containers") and born and \
                    _when(network.get("Created", "")) >= born:
                orphans.found.append(Orphan(engine, "network", network["Id"], network["Name"]))
    return orphans


def remove(orphans: Orphans) -> list[str]:
    """Removes orphan containers, then orphan networks; volumes stay. Returns what was done."""
    done = []
    for orphan in orphans.of_kind("container") + orphans.of_kind("network"):
        command = ("rm", "-f") if orphan.kind == "container" else ("network", "rm")
        result = orphan.engine.run(*command, orphan.id, check=False)
        done.append(f"removed {orphan.kind} {orphan.name}{orphan.where()}" if result.returncode == 0 else
                    f"could not remove {orphan.kind} {orphan.name}{orphan.where()}: {result.stderr.strip()}")
    return done
