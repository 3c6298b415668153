"""What the user data hardens (issue 35), read from the rendered text of every kind of server: the
SSH algorithms ssh-audit calls safe, the connection throttle ahead of every accept, the kernel's
parameters kept out of force in containers, and what must stay for Preflight's own use."""

from __future__ import annotations

import pytest
import yaml

from components.cloud_init import SSHD_HARDENING, SYSCTL_KERNEL, SYSCTL_NETWORK
from tests.unit.test_user_data_pinned import PINNED, rendered

KINDS = sorted(PINNED)
# ssh-audit 3.x [fail]s, and the finite-field Diffie-Hellman it warns about.
REFUSED = ("ecdh-sha2-nistp", "diffie-hellman", "hmac-sha1", "umac-64", "ssh-rsa", "-cbc", "3des")


def document(kind: str) -> dict:
    return yaml.safe_load(rendered(kind))


def written(kind: str, path: str) -> str:
    [content] = [f["content"] for f in document(kind)["write_files"] if f["path"] == path]
    return content


def sshd(kind: str) -> dict[str, str]:
    lines = [line.split(" ", 1) for line in written(kind, SSHD_HARDENING).splitlines() if line and line[0] != "#"]
    return {key.lower(): value for key, value in lines}


@pytest.mark.parametrize("kind", KINDS)
def test_only_algorithms_ssh_audit_calls_safe(kind):
    settings = sshd(kind)
    for keyword in ("kexalgorithms", "ciphers", "macs", "hostkeyalgorithms"):
        offered = settings[keyword].split(",")
        assert not [a for a in offered if any(r in a for r in REFUSED)], (keyword, offered)
    assert all(mac.endswith("-etm@openssh.com") for mac in settings["macs"].split(","))


@pytest.mark.parametrize("kind", KINDS)
def test_forwarding_stays_for_local_tunnels_only_and_the_rest_of_lynis_ssh_list(kind):
    settings = sshd(kind)
    assert settings["allowtcpforwarding"] == "local"  # `ssh -L` to the monitoring; no -R, no sockets
    assert (settings["allowagentforwarding"], settings["allowstreamlocalforwarding"], settings["x11forwarding"]) == \
        ("no", "no", "no")
    assert (settings["maxauthtries"], settings["maxsessions"], settings["clientalivecountmax"]) == ("3", "2", "2")
    assert settings["loglevel"] == "VERBOSE" and settings["compression"] == "no"


@pytest.mark.parametrize("kind", KINDS)
def test_new_ssh_connections_are_throttled_first_in_input(kind):
    throttle = written(kind, "/usr/local/sbin/preflight-ssh-throttle")
    assert "--hashlimit-above 10/second --hashlimit-burst 10" in throttle
    assert "$t -I INPUT 1 $jump" in throttle  # ahead of the host firewall's accept of the admins
    assert ["systemctl", "enable", "--now", "docker", "fail2ban", "unattended-upgrades", "auditd",
            "preflight-ssh-throttle"] in document(kind)["runcmd"]


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_parameters_are_written_but_in_force_only_outside_a_container(kind):
    doc = document(kind)
    assert "kernel.kptr_restrict = 2" in written(kind, SYSCTL_KERNEL)
    assert not SYSCTL_KERNEL.startswith("/etc/sysctl.d/")
    assert any("systemd-detect-virt --container --quiet || ln -sf" in " ".join(c) for c in doc["runcmd"])
    network = written(kind, SYSCTL_NETWORK)
    assert "net.ipv4.conf.all.rp_filter = 1" in network and "forwarding" not in network  # Docker forwards


@pytest.mark.parametrize("kind", KINDS)
def test_fail2ban_in_jail_local_and_the_security_repository_ensured(kind):
    doc = document(kind)
    assert "[sshd]\nenabled = true" in written(kind, "/etc/fail2ban/jail.local")
    assert not [f for f in doc["write_files"] if f["path"].startswith("/etc/fail2ban/jail.d/")]
    assert "-security" in doc["bootcmd"][0][2]
    assert {"auditd", "debsums"} <= set(doc["packages"])
