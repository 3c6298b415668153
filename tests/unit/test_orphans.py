"""Which labelled containers, volumes and networks are this stack's orphans: the state does not
have them, and nothing of another copy of the stack (same labels, other networks) uses them."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field

from deploy.orphans import CONTAINER, NETWORK, VOLUME, find, remove

STATE = {"resources": [
    {"type": NETWORK, "outputs": {"id": "net-edge", "name": "preflight-host-edge-1"}},
    {"type": NETWORK, "outputs": {"id": "net-internal", "name": "preflight-host-internal-1"}},
    {"type": CONTAINER, "outputs": {"id": "c-api", "name": "preflight-api-1"}},
    {"type": CONTAINER, "outputs": {"id": "c-postgres", "name": "preflight-postgres-1"}},
    {"type": VOLUME, "outputs": {"name": "preflight-postgres-data-1"}},
]}


def container(id_: str, name: str, networks: list[str], volumes: tuple[str, ...] = ()) -> dict:
    return {"Id": id_, "Name": f"/{name}", "NetworkSettings": {"Networks": {n: {"NetworkID": n} for n in networks}},
            "Mounts": [{"Type": "volume", "Name": v} for v in volumes]}


@dataclass
class FakeDocker:
    containers: list[dict]
    volumes: list[dict]  # Name, CreatedAt
    networks: list[dict]
    host: str = "unix:///var/run/docker.sock"
    ssh_options: tuple = ()
    ran: list[tuple] = field(default_factory=list)

    def __hash__(self) -> int:
        return hash(self.host)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        self.ran.append(args)
        out = ""
        if args[0] == "ps":
            out = "\n".join(c["Id"] for c in self.containers)
        elif args[:2] == ("container", "inspect"):
            out = json.dumps([c for c in self.containers if c["Id"] in args[2:]])
        elif args[:2] == ("volume", "ls"):
            out = "\n".join(v["Name"] for v in self.volumes)
        elif args[:2] == ("volume", "inspect"):
            out = json.dumps([v for v in self.volumes if v["Name"] in args[2:]])
        elif args[:2] == ("network", "ls"):
            out = "\n".join(n["Id"] for n in self.networks)
        elif args[:2] == ("network", "inspect"):
            out = json.dumps([n for n in self.networks if n["Id"] in args[2:]])
        return subprocess.CompletedProcess(args, 0, out, "")


BORN = "2026-11-27T10:00:00.123456789Z"  # when the stack's networks were made
LATER, EARLIER = "2026-11-27T11:00:00Z", "2026-11-26T09:00:00Z"


def volume(name: str, created: str = LATER) -> dict:
    return {"Name": name, "CreatedAt": created}


def engine(**extra) -> FakeDocker:
    return FakeDocker(
        containers=[container("c-api", "preflight-api-1", ["net-edge", "net-internal"]),
                    container("c-postgres", "preflight-postgres-1", ["net-internal"], ("preflight-postgres-data-1",)),
                    *extra.get("containers", [])],
        volumes=[volume("preflight-postgres-data-1", BORN), *extra.get("volumes", [])],
        networks=[{"Id": "net-edge", "Name": "edge", "Created": BORN, "Containers": {"c-api": {}}},
                  {"Id": "net-internal", "Name": "internal", "Created": BORN, "Containers": {"c-api": {}}},
                  *extra.get("networks", [])])


def test_a_stack_whose_engine_matches_its_state_has_no_orphan():
    assert find("local", STATE, [engine()]).found == []


def test_a_container_an_interrupted_update_made_on_the_stacks_networks_is_an_orphan_and_is_removed():
    docker = engine(containers=[container("c-api-2", "preflight-api-2", ["net-edge", "net-internal"])])
    orphans = find("local", STATE, [docker])
    assert [(o.kind, o.name) for o in orphans.found] == [("container", "preflight-api-2")]
    assert "not in the state" in orphans.lines()[0]
    assert remove(orphans) == ["removed container preflight-api-2"]
    assert ("rm", "-f", "c-api-2") in docker.ran


def test_a_container_created_but_never_started_is_found_by_its_networks_names():
    # Killed between `docker create` and `docker start`: its networks have no ids yet, only names.
    created = {"Id": "c-api-3", "Name": "/preflight-api-3", "Mounts": [],
               "NetworkSettings": {"Networks": {"preflight-host-edge-1": {"NetworkID": ""}}}}
    orphans = find("local", STATE, [engine(containers=[created])])
    assert [(o.kind, o.name) for o in orphans.found] == [("container", "preflight-api-3")]


def test_another_copy_of_the_stack_on_the_same_engine_is_not_ours():
    # Same labels (a test's or a benchmark's copy of `local`), its own networks and volume.
    other = container("c-other", "preflight-api-9", ["net-other"], ("preflight-postgres-data-9",))
    docker = engine(containers=[other], volumes=[volume("preflight-postgres-data-9")],
                    networks=[{"Id": "net-other", "Name": "other-edge", "Created": LATER, "Containers": {"c-other": {}}}])
    assert find("local", STATE, [docker]).found == []


def test_volumes_and_networks_older_than_the_stack_are_another_copys_leftovers():
    docker = engine(volumes=[volume("preflight-redis-data-3", EARLIER)],
                    networks=[{"Id": "net-old", "Name": "old-edge", "Created": EARLIER, "Containers": {}}])
    assert find("local", STATE, [docker]).found == []


def test_volumes_are_reported_with_what_to_do_and_never_removed():
    docker = engine(volumes=[volume("preflight-redis-data-7")])
    orphans = find("local", STATE, [docker])
    assert [(o.kind, o.name) for o in orphans.found] == [("volume", "preflight-redis-data-7")]
    line = orphans.lines()[0]
    assert "docker volume rm preflight-redis-data-7" in line and "pulumi import docker:index/volume:Volume" in line
    assert remove(orphans) == []
    assert not any(args[0] == "volume" and args[1] == "rm" for args in docker.ran)


def test_an_unused_labelled_network_the_state_lacks_is_removed_but_one_in_use_is_not():
    docker = engine(networks=[{"Id": "net-left", "Name": "preflight-host-edge-left", "Created": LATER, "Containers": {}},
                              {"Id": "net-busy", "Name": "preflight-host-edge-busy", "Created": LATER,
                               "Containers": {"x": {}}}])
    orphans = find("local", STATE, [docker])
    assert [(o.kind, o.name) for o in orphans.found] == [("network", "preflight-host-edge-left")]
    assert remove(orphans) == ["removed network preflight-host-edge-left"]
