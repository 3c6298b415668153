"""Rehearsal servers: real Debian bookworm systems (systemd as PID 1, Debian's cloud-init reading a
NoCloud seed, sshd) as containers on the local Docker engine, on a public and a private network of
their own, made and removed by the tests.

What differs from a Hetzner VM (README, "Rehearsed for real"): a container, not a VM (the host's
kernel; no CAP_SYS_RESOURCE on these machines, so not `--privileged` but every other capability);
Debian's packages come through apt-cacher-ng on this machine (the networks have no route out);
the data volume is a loop device, named under /dev/disk/by-id by a unit of the image (udev's job on
a VM); an application server's /var/lib/docker is a Docker volume (overlayfs cannot hold another);
images are loaded into each server's Docker engine instead of pulled from a registry.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

IMAGE = "preflight-local/rehearsal-server:bookworm"
PUBLIC, PRIVATE = "preflight-rehearsal-public", "preflight-rehearsal-private"
PUBLIC_SUBNET, GATEWAY = "10.250.0.0/24", "10.250.0.1"  # the gateway is this machine: admin and edge
PRIVATE_SUBNET = "10.10.0.0/16"
APT_PROXY_PORT = 3149  # the rehearsal image's apt proxy (scripts/images/rehearsal/01-rehearsal-proxy)
VOLUME_ID = "scsi-0HC_Volume_1001"
CACHE = Path(os.environ.get("PREFLIGHT_CACHE", Path.home() / ".cache" / "preflight")) / "rehearsal"
RUN_OPTIONS = ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
               "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined",
               "--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
               "--add-host", f"apt-proxy:{GATEWAY}", "--label", "preflight.rehearsal=true"]


@dataclass(frozen=True)
class Server:
    name: str  # data, app1, app2
    address: str
    private_address: str

    @property
    def container(self) -> str:
        return f"preflight-rehearsal-{self.name}"


SERVERS = [Server("data", "10.250.0.10", "10.10.1.10"), Server("app1", "10.250.0.11", "10.10.2.11"),
           Server("app2", "10.250.0.12", "10.10.2.12")]


def docker(*args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, **kwargs)


def on(server: Server, *command: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """A command inside the rehearsal server (as its root, from the outside: the console)."""
    return docker("exec", server.container, *command, check=check, timeout=timeout)


class AptProxy:
    """apt-cacher-ng on this machine, the rehearsal servers' only way to Debian's packages; its cache
    is kept between runs."""

    def __init__(self) -> None:
        for name in ("cache", "log", "conf"):
            (CACHE / "apt" / name).mkdir(parents=True, exist_ok=True)
        (CACHE / "apt" / "conf" / "acng.conf").write_text(
            f"CacheDir: {CACHE / 'apt' / 'cache'}\nLogDir: {CACHE / 'apt' / 'log'}\n"
            f"Port: {APT_PROXY_PORT}\nBindAddress: {GATEWAY}\n")
        self.log = (CACHE / "apt" / "run.log").open("w")
        self.process = subprocess.Popen(["/usr/sbin/apt-cacher-ng", "-c", str(CACHE / "apt" / "conf"), "ForeGround=1"],
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)
        self.log.close()


class Rehearsal:
    """The networks, the data volume and the three servers; `remove()` leaves nothing behind."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.remove()  # what an interrupted earlier run may have left
        docker("network", "create", "--subnet", PUBLIC_SUBNET, "--gateway", GATEWAY, "--label", "preflight.rehearsal=true",
               PUBLIC)
        docker("network", "create", "--internal", "--subnet", PRIVATE_SUBNET, "--label", "preflight.rehearsal=true",
               PRIVATE)
        self.apt = AptProxy()
        image = workdir / "volume.img"
        # Sparse: the data server's Docker data root, every image it runs loaded into it (3 GB no longer held
        # them once the monitoring's joined: 'no space left on device' while loading).
        subprocess.run(["truncate", "-s", "8G", str(image)], check=True)
        self.loop = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True,
                                   check=True).stdout.strip()

    def start(self, server: Server, user_data: str) -> None:
        """Create the server with `user_data` as its NoCloud seed and boot it."""
        seed = self.workdir / "seed" / server.name
        seed.mkdir(parents=True, exist_ok=True)
        (seed / "user-data").write_text(user_data)
        (seed / "meta-data").write_text(f"instance-id: rehearsal-{server.name}-1\nlocal-hostname: {server.name}\n")
        extra = ["--device", self.loop] if server.name == "data" else \
            ["-v", f"preflight-rehearsal-{server.name}-docker:/var/lib/docker"]
        docker("create", "--name", server.container, "--hostname", server.name, *RUN_OPTIONS, *extra, "--network", PUBLIC,
               "--ip", server.address, IMAGE)
        docker("network", "connect", "--ip", server.private_address, PRIVATE, server.container)
        docker("cp", f"{seed}/.", f"{server.container}:/var/lib/cloud/seed/nocloud/")
        if server.name == "data":
            disks = self.workdir / "disks"
            disks.write_text(f"{VOLUME_ID} {self.loop}\n")
            docker("cp", str(disks), f"{server.container}:/etc/rehearsal/disks")
        docker("start", server.container)

    def wait_ready(self, server: Server, timeout: float = 900) -> str:
        """Until cloud-init has finished; its final status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = on(server, "cloud-init", "status", "--wait", "--long", check=False, timeout=timeout)
            if "status: done" in result.stdout or "status: error" in result.stdout:
                return result.stdout
            time.sleep(2)  # the container is still booting (no cloud-init yet)
        raise TimeoutError(f"{server.name}: cloud-init did not finish within {timeout:.0f}s")

    def load_images(self, server: Server, images: list[str]) -> None:
        """What a registry pull would bring: the images, into the server's own Docker engine."""
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "exec", "-i", server.container, "docker", "load"], stdin=save.stdout,
                              capture_output=True, text=True)
        save.wait()
        if load.returncode != 0 or save.returncode != 0:
            raise RuntimeError(f"loading images into {server.name} failed: {load.stderr.strip()}")

    def remove(self) -> None:
        for server in SERVERS:
            docker("rm", "-f", "-v", server.container, check=False)
            docker("volume", "rm", f"preflight-rehearsal-{server.name}-docker", check=False)
        for network in (PUBLIC, PRIVATE):
            docker("network", "rm", network, check=False)
        if getattr(self, "apt", None):
            self.apt.stop()
        if getattr(self, "loop", None):
            subprocess.run(["losetup", "-d", self.loop], check=False)
