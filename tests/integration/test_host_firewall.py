"""The host firewall of servers you have (`host.kind: ssh`), run by real iptables in a network
namespace of its own, so the machine's rules are not touched."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components.cloud_init import render_boot, ssh_boot
from components.ssh_settings import SshHost
from tests import daemons

HOST = SshHost(kind="ssh", servers=[{"address": "198.51.100.10", "private_address": "10.10.1.10"}],
               ssh_keys={"ops": "ssh-ed25519 " + "A" * 68}, admin_cidrs=["203.0.113.0/24", "2001:db8:1::/48"],
               port=2222, edge_ranges={"ipv4": ["173.245.48.0/20"], "ipv6": ["2400:cb00::/32"]})


def script(path: str) -> str:
    files = {f["path"]: f["content"] for f in yaml.safe_load(render_boot(ssh_boot(HOST, 0, None)))["write_files"]}
    return files[path]


def test_inbound_admits_ssh_from_the_admins_and_web_from_the_edge_and_nothing_else(tmp_path):
    missing = [p for p in daemons.missing_packages() if p in ("iptables", "util-linux")]
    if missing:
        pytest.fail("this test needs these Debian packages, which `make test` installs: " + ", ".join(missing))
    for name in ("preflight-host-firewall", "preflight-edge-filter"):
        (tmp_path / name).write_text(script(f"/usr/local/sbin/{name}"))
    # Run twice: the units run again at every boot and whenever Docker restarts.
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", f"iptables -N DOCKER-USER && for i in 1 2; do sh {tmp_path}/preflight-host-firewall"
         f" && sh {tmp_path}/preflight-edge-filter; done && iptables -S && ip6tables -S PREFLIGHT-IN"],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rules = result.stdout.splitlines()
    assert rules.count("-A INPUT -j PREFLIGHT-IN") == 1
    assert "-A PREFLIGHT-IN -s 203.0.113.0/24 -p tcp -m tcp --dport 2222 -j ACCEPT" in rules
    assert "-A PREFLIGHT-IN -s 173.245.48.0/20 -p tcp -m multiport --dports 80,443 -j ACCEPT" in rules
    assert "-A PREFLIGHT-IN -s 2001:db8:1::/48 -p tcp -m tcp --dport 2222 -j ACCEPT" in rules
    assert rules.count("-A PREFLIGHT-IN -j DROP") == 2  # IPv4 and IPv6: nothing else comes in
    web = [r for r in rules if r.startswith("-A PREFLIGHT-WEB")]
    assert web == ["-A PREFLIGHT-WEB -i docker0 -j RETURN", "-A PREFLIGHT-WEB -i br-+ -j RETURN",
                   "-A PREFLIGHT-WEB -s 173.245.48.0/20 -j RETURN", "-A PREFLIGHT-WEB -j DROP"]
    assert sorted(r for r in rules if r.startswith("-A DOCKER-USER")) == sorted(
        f"-A DOCKER-USER -p tcp -m conntrack --ctstate NEW --ctorigdstport {port} -j PREFLIGHT-WEB" for port in (80, 443))


def test_behind_your_load_balancer_the_health_port_is_admitted_from_the_private_network_only(tmp_path):
    """The proxy's health port (plain HTTP, health routes only) on an application server: the load
    balancer's checks come over the private network; from anywhere else the port is dropped."""
    missing = [p for p in daemons.missing_packages() if p in ("iptables", "util-linux")]
    if missing:
        pytest.fail("this test needs these Debian packages, which `make test` installs: " + ", ".join(missing))
    host = HOST.model_copy(update={"servers": [*HOST.servers, HOST.servers[0].model_copy(
        update={"address": "198.51.100.11", "private_address": "10.10.2.11"})], "app_subnet": "10.10.2.0/24"})
    files = {f["path"]: f["content"] for f in yaml.safe_load(render_boot(ssh_boot(host, 1, None, 8081)))["write_files"]}
    (tmp_path / "filter").write_text(files["/usr/local/sbin/preflight-edge-filter"])
    result = subprocess.run(["unshare", "--net", "sh", "-c", f"iptables -N DOCKER-USER && sh {tmp_path}/filter && "
                             f"sh {tmp_path}/filter && iptables -S"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rules = result.stdout.splitlines()
    assert [r for r in rules if r.startswith("-A PREFLIGHT-HEALTH")] == [
        "-A PREFLIGHT-HEALTH -s 10.10.2.0/24 -j RETURN", "-A PREFLIGHT-HEALTH -j DROP"]
    assert rules.count("-A DOCKER-USER -p tcp -m conntrack --ctstate NEW --ctorigdstport 8081 -j PREFLIGHT-HEALTH") == 1


def test_new_ssh_connections_are_throttled_ahead_of_the_admins_accept(tmp_path):
    """The DHEat throttle (issue 35) sits first in INPUT, above the host firewall's accept of the admins,
    whichever of the two units ran last, and once however often they run."""
    missing = [p for p in daemons.missing_packages() if p in ("iptables", "util-linux")]
    if missing:
        pytest.fail("this test needs these Debian packages, which `make test` installs: " + ", ".join(missing))
    for name in ("preflight-host-firewall", "preflight-ssh-throttle"):
        (tmp_path / name).write_text(script(f"/usr/local/sbin/{name}"))
    firewall, throttle = f"sh {tmp_path}/preflight-host-firewall", f"sh {tmp_path}/preflight-ssh-throttle"
    result = subprocess.run(["unshare", "--net", "sh", "-c", f"{firewall} && {throttle} && {throttle} && {firewall} && "
                             "iptables -S INPUT && ip6tables -S INPUT && iptables -S PREFLIGHT-SSH"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rules = result.stdout.splitlines()
    jump = "-A INPUT -p tcp -m tcp --dport 2222 -m conntrack --ctstate NEW -j PREFLIGHT-SSH"
    assert rules.count(jump) == 2  # IPv4 and IPv6, once each
    assert rules[1:3] == [jump, "-A INPUT -j PREFLIGHT-IN"]  # after `-P INPUT ACCEPT`: the throttle first
    assert ("-A PREFLIGHT-SSH -m hashlimit --hashlimit-above 10/sec --hashlimit-burst 10 --hashlimit-mode srcip "
            "--hashlimit-name preflight-ssh -j DROP") in rules
