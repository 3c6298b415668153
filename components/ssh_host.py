"""Servers the user already has (`host.kind: ssh`), at any provider: Docker over SSH as the deploy
user, trusting each server's pinned host key.

The program generates each server's host key and renders its user data (the same hardening as on
Hetzner, plus a host firewall); the user creates or rebuilds the server with that user data
(`python -m deploy user-data STACK SERVER` prints it). Before anything is deployed to a server,
`ServerPrepared` checks that it is the server that user data made: it presents the pinned host
key (which exists nowhere else), cloud-init has finished, and the user data it ran is the one the
settings render now. A server that fails the check is refused with what to do; nothing is touched.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from typing import Any

import pulumi
import pulumi_docker as docker
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from .cloud_init import PREPARED_MARKER, HostKey, prepared_hash, render_boot, ssh_boot
from .generated import GeneratedHostKey
from .host import Host, data_access_network, data_publishing_network
from .remote_exec import key_mismatch, pinned_options, ssh_argv
from .ssh_settings import SshHost

READY_DEADLINE_S = 900  # a server that was just (re)built may still be running cloud-init
UNREACHABLE_DEADLINE_S = 60  # a server you have answers SSH; one that does not is refused, not awaited
USER_DATA_ROLE = "user-data"  # how `deploy user-data` finds the rendered text in the state


class ServerNotPrepared(Exception):
    pass


class _ServerPreparedProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        target, how = f"{props['user']}@{props['address']}", (
            f"prepare it with its user data (`python -m deploy user-data {props['stack']} {props['server']}` prints it "
            f"for the provider's user-data field), then run up again; nothing was deployed to it")
        deadline, last = time.monotonic() + UNREACHABLE_DEADLINE_S, ""
        while time.monotonic() < deadline:
            result = subprocess.run(
                ssh_argv(target, ["sh", "-c", f"cat {PREPARED_MARKER} && cloud-init status --wait --long"],
                         pinned_options(props["host_key"]), props["port"]), capture_output=True, text=True,
                timeout=READY_DEADLINE_S)
            output = (result.stderr + result.stdout).strip()
            if key_mismatch(output):
                raise ServerNotPrepared(f"server {props['server']} ({target}) presents another SSH host key than the one "
                                        f"Preflight generated for it: it was not prepared with its user data; {how}")
            if "status: error" in result.stdout:
                raise ServerNotPrepared(f"cloud-init failed on server {props['server']} ({target}): "
                                        f"{' '.join(result.stdout.split('detail:')[-1].split())[:300]}; read "
                                        f"/var/log/cloud-init-output.log there; nothing was deployed to it")
            if result.returncode == 0:
                if result.stdout.split()[0] != props["user_data_hash"]:
                    raise ServerNotPrepared(f"server {props['server']} ({target}) was prepared with other user data than "
                                            f"its settings render now (they changed since); rebuild it with the new "
                                            f"user data: {how}")
                return CreateResult(id_=uuid.uuid4().hex, outs=props)
            if "Permission denied" in output or "No such file" in output:
                raise ServerNotPrepared(f"server {props['server']} ({target}) answers with its pinned key but "
                                        f"{'refuses the deploy user' if 'Permission' in output else 'has no Preflight marker'}"
                                        f": {output.splitlines()[-1]}; {how}")
            last = output.splitlines()[-1] if output else f"exit code {result.returncode}"
            time.sleep(5)
        raise ServerNotPrepared(f"server {props['server']} ({target}) did not answer SSH within {UNREACHABLE_DEADLINE_S}s "
                                f"(last: {last}); check its address, port {int(props['port'])} and admin_cidrs, or, for a "
                                f"new server, {how}")

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in ("address", "port", "user", "host_key", "user_data_hash") if olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)


class ServerPrepared(pulumi.dynamic.Resource):
    address: pulumi.Output[str]

    def __init__(self, name: str, *, server: str, stack: str, address: str, port: int, user: str,
                 host_key: pulumi.Input[str], user_data_hash: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(_ServerPreparedProvider(), name, {
            "server": server, "stack": stack, "address": address, "port": port, "user": user, "host_key": host_key,
            "user_data_hash": user_data_hash}, opts)


class _UserDataProvider(ResourceProvider):
    """Keeps the rendered user data in the state (even when a later step fails, as the first `up`
    of unprepared servers does), where `deploy user-data` reads it."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=uuid.uuid4().hex, outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("user_data") != news.get("user_data") or olds.get("server") != news.get("server"))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)


class UserData(pulumi.dynamic.Resource):
    def __init__(self, name: str, *, server: str, user_data: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(_UserDataProvider(), name, {"role": USER_DATA_ROLE, "server": server, "user_data": user_data},
                         pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["user_data"])))


class SshServerHost(Host):
    """Server `index` of the list (0: the data server, which publishes Postgres and Redis on its
    private address; k: application server k). health_port: the proxy's health port, which its
    firewall admits from the private network (an application server behind your load balancer)."""

    def __init__(self, name: str, settings: SshHost, index: int, stack: str, health_port: int | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("preflight:host:SshServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        server = settings.servers[index]
        self.server_name, self.address = settings.server_name(index), server.address
        self.host_key = GeneratedHostKey(f"{name}-host-key", server=name, opts=child)
        rendered = self.host_key.rendered(lambda key: render_boot(ssh_boot(settings, index, HostKey(*key),
                                                                                      health_port)))
        self.user_data = UserData(f"{name}-user-data", server=self.server_name, user_data=rendered, opts=child)
        ready = ServerPrepared(f"{name}-prepared", server=self.server_name, stack=stack, address=server.address,
                               port=settings.port, user=settings.user, host_key=self.host_key.public_key,
                               user_data_hash=rendered.apply(prepared_hash),
                               opts=pulumi.ResourceOptions(parent=self, depends_on=[self.user_data]))
        port = "" if settings.port == 22 else f":{settings.port}"
        self.docker_host = ready.address.apply(
            lambda address: f"ssh://{settings.user}@{f'[{address}]' if ':' in address else address}{port}")
        self.ssh_options = self.host_key.public_key.apply(pinned_options)
        self.provider = docker.Provider(f"{name}-docker", host=self.docker_host, ssh_opts=self.ssh_options,
                                        opts=child)
        self._networks(name, stack)
        if index == 0:
            self.private_address = server.private_address
            self.private_network = data_publishing_network(name, self, stack)
        else:
            self.data_network = data_access_network(name, self, stack)
        self.register_outputs({"server": self.server_name, "address": server.address})
