"""Every SSH connection Preflight makes trusts exactly the host key the program generated for the
server: checked against a real OpenSSH server (Debian's openssh-server) on loopback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.generated import ssh_host_key
from components.hetzner import _CloudInitDone
from components.remote_exec import pinned_options, ssh_argv
from tests import daemons

SSHD_CONFIG = """\
ListenAddress 127.0.0.1
Port {port}
HostKey {workdir}/host_key
PidFile {workdir}/sshd.pid
AuthorizedKeysFile {workdir}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
"""


def start_sshd(workdir: Path, private_key: str) -> tuple[daemons.Daemon, int]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "host_key").write_text(private_key)
    (workdir / "host_key").chmod(0o600)
    port = daemons.free_port()
    (workdir / "sshd_config").write_text(SSHD_CONFIG.format(port=port, workdir=workdir))
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    daemon = daemons.spawn("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(workdir / "sshd_config")], workdir)
    daemons.wait_until(lambda: daemons._port_open(port), "sshd")
    return daemon, port


@pytest.fixture
def server(tmp_path):
    missing = daemons.missing_packages()
    if missing:
        pytest.fail("integration tests need these Debian packages, which `make test` installs: " + ", ".join(missing))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "client")], check=True)
    private, public = ssh_host_key()
    (tmp_path / "sshd").mkdir()
    (tmp_path / "sshd" / "authorized_keys").write_text((tmp_path / "client.pub").read_text())
    daemon, port = start_sshd(tmp_path / "sshd", private)
    yield {"port": port, "public_key": public, "client": tmp_path / "client"}
    daemon.stop()


def run_ssh(server, public_key: str) -> subprocess.CompletedProcess:
    options = [*pinned_options(public_key), "-i", str(server["client"]), "-o", "IdentitiesOnly=yes"]
    return subprocess.run(ssh_argv("root@127.0.0.1", ["echo", "reached through the pinned key"], options,
                                   server["port"]), capture_output=True, text=True, timeout=30)


def test_the_generated_key_is_trusted_without_any_known_hosts_file(server):
    result = run_ssh(server, server["public_key"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "reached through the pinned key"


def test_a_server_presenting_another_key_is_refused(server):
    _, another = ssh_host_key()  # what a server would present that was not set up by its user data
    result = run_ssh(server, another)
    assert result.returncode == 255
    assert "Host key verification failed" in result.stderr
    assert "reached" not in result.stdout


def test_the_cloud_init_wait_names_the_server_whose_key_does_not_match(server):
    _, another = ssh_host_key()
    with pytest.raises(RuntimeError, match=r"root@127\.0\.0\.1 presents another SSH host key .* nothing was deployed"):
        _CloudInitDone().create({"server_id": "1", "address": "127.0.0.1", "user": "root", "host_key": another,
                                 "port": server["port"]})
