"""The servers judged by tools nobody here wrote (issue 35), on the rehearsal servers booted from the
user data with the stack deployed: ssh-audit (PyPI's 3.x) against every server's sshd from the
admins' address, Lynis (Debian's) inside the data server and an application server, and nmap from
an address outside the admin and edge ranges and from the admins' (and the edge's) address. Each
prints its figures.

This module sorts before test_production_path.py, so it runs while the stack is deployed (before
that module's destroy). ssh-audit's and nmap's probes close before authenticating: fail2ban's
`normal` mode does not count them, so the admins' address is not banned for the tests after."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from components.remote_exec import pinned_options, ssh_argv
from tests.rehearsal.servers import GATEWAY, PUBLIC, SERVERS, Server, docker, on
from tests.stack_config import ROOT

DATA, APP1, APP2 = SERVERS
OUTSIDER = "10.250.0.50"  # on the servers' public network, in neither admin_cidrs nor edge_ranges (GATEWAY/32)
LYNIS_MINIMUM = 80
# Findings about the kernel, which the rehearsal servers share with this machine (README, "Hardening,
# judged by outside tools"): counted apart. KRNL-*: kernel tests (KRNL-6000: its parameters, the
# kernel's file being out of force in a container); ACCT-9628: auditd, which the kernel's audit refuses
# outside its initial PID namespace; MACF-*: AppArmor, the kernel's security module.
KERNEL_FINDINGS = ("KRNL-", "ACCT-9628", "MACF-")


def figure(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """A figure on the terminal, whatever pytest captures (the rehearsal's figures are its report)."""
    with capsys.disabled():
        print(line)


def ssh_audit_binary() -> str:
    found = ROOT / ".venv" / "bin" / "ssh-audit"
    if found.exists():
        return str(found)
    pytest.fail("needs ssh-audit 3.x from PyPI in the project venv (requirements-dev.txt; `make setup`)")


def test_ssh_audit_finds_no_failing_algorithm_and_no_dheat_risk_on_any_server(rehearsed, capsys):
    """From the admins' address (the only one admitted on 22): no [fail] on any key exchange, host key,
    cipher or MAC; the DHEat rate test (ssh-audit's limit: under 20 new connections a second) passes."""
    binary = ssh_audit_binary()
    report = {}
    for server in SERVERS:
        result = subprocess.run([binary, "-j", "-n", "-p", "22", server.address], capture_output=True, text=True,
                                timeout=300)
        assert result.stdout.strip().startswith("{"), f"{server.name}: {result.stdout}{result.stderr}"
        audit = json.loads(result.stdout)
        failing = {f"{kind} {entry['algorithm']}": entry["notes"]["fail"] for kind in ("kex", "key", "enc", "mac")
                   for entry in audit.get(kind, []) if entry.get("notes", {}).get("fail")}
        warning = sorted(f"{kind} {entry['algorithm']}" for kind in ("kex", "key", "enc", "mac")
                         for entry in audit.get(kind, []) if entry.get("notes", {}).get("warn"))
        dheat = [note for note in audit.get("additional_notes", []) if "DHEat" in note]
        report[server.name] = (failing, warning, dheat)
        figure(capsys, f"[ssh-audit] {server.name}: exit {result.returncode}, {len(failing)} fail, "
                       f"{len(warning)} warn ({', '.join(warning) or 'none'}), DHEat: {'flagged' if dheat else 'throttled'}")
    for name, (failing, warning, dheat) in report.items():
        assert not failing, f"{name}: {failing}"
        assert not dheat, f"{name}: {dheat}"
        # The only warnings kept, for clients without sntrup761 (README): the two curve25519 names.
        assert set(warning) <= {"kex curve25519-sha256", "kex curve25519-sha256@libssh.org"}, f"{name}: {warning}"


def points_lost(log: str) -> dict[str, int]:
    """Hardening points each test did not get, from Lynis' log ("assigned partial number of hardening
    points (1 of 3)" after "Performing test ID X")."""
    lost: dict[str, int] = {}
    test = "?"
    for line in log.splitlines():
        if found := re.search(r"Performing test ID (\S+)", line):
            test = found.group(1)
        elif found := re.search(r"assigned partial number of hardening points \((\d+) of (\d+)\)", line):
            lost[test] = lost.get(test, 0) + int(found.group(2)) - int(found.group(1))
    return lost


def totals(log: str) -> tuple[int, int]:
    """Lynis' points, earned and possible, from its last "Currently having N points (out of M)"."""
    [*_, (earned, possible)] = re.findall(r"Currently having (\d+) points \(out of (\d+)\)", log)
    return int(earned), int(possible)


def lynis(server: Server) -> tuple[int, list[str], list[str], bool]:
    """Lynis 3.0.8 (Debian's, through the rehearsal's apt proxy) inside the server: its hardening
    index, and the test ids of its warnings and suggestions."""
    # AIDE's first database is built in the background after cloud-init (README): Lynis looks for it.
    deadline = time.monotonic() + 900
    while on(server, "systemctl", "show", "-p", "ActiveState", "--value", "preflight-aide-init",
             check=False).stdout.strip() == "activating" and time.monotonic() < deadline:
        time.sleep(10)
    aide = on(server, "test", "-s", "/var/lib/aide/aide.db", check=False).returncode == 0
    install = on(server, "sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q lynis", check=False,
                 timeout=600)
    assert install.returncode == 0, f"{server.name}: {install.stdout[-2000:]}{install.stderr[-2000:]}"
    audit = on(server, "lynis", "audit", "system", "--quick", "--no-colors", check=False, timeout=1200)
    assert audit.returncode == 0, f"{server.name}: {audit.stdout[-2000:]}{audit.stderr[-2000:]}"
    report = on(server, "cat", "/var/log/lynis-report.dat").stdout.splitlines()
    values = dict(line.split("=", 1) for line in report if "=" in line and not line.startswith("#"))
    warnings = [line.split("=", 1)[1].split("|")[0] for line in report if line.startswith("warning[]=")]
    suggestions = [line.split("=", 1)[1].split("|")[0] for line in report if line.startswith("suggestion[]=")]
    return int(values["hardening_index"]), warnings, suggestions, aide


@pytest.mark.parametrize("server", [DATA, APP1], ids=lambda s: s.name)
def test_lynis_hardening_index(rehearsed, server, capsys):
    index, warnings, suggestions, aide = lynis(server)
    kernel = sorted({t for t in warnings + suggestions if t.startswith(KERNEL_FINDINGS)})
    others = sorted({t for t in warnings + suggestions if not t.startswith(KERNEL_FINDINGS)})
    log = on(server, "cat", "/var/log/lynis.log").stdout
    earned, possible = totals(log)
    kernel_lost = sum(n for t, n in points_lost(log).items() if t.startswith(KERNEL_FINDINGS))
    figure(capsys, f"[lynis] {server.name}: hardening index {index} ({earned} of {possible} points); "
                   f"{len(warnings)} warnings, {len(suggestions)} suggestions; the kernel's (this machine's, "
                   f"counted apart): {', '.join(kernel) or 'none'}, {kernel_lost} points (without them: "
                   f"{100 * earned // (possible - kernel_lost)}); the others: {', '.join(others) or 'none'}; "
                   f"AIDE's database {'built' if aide else 'missing'}")
    assert index >= LYNIS_MINIMUM, f"{server.name}: Lynis hardening index {index} < {LYNIS_MINIMUM}"


def test_kernel_parameters_written_and_the_networks_in_force(rehearsed):
    """The kernel's file is written on every server and left out of force (a container: this machine's
    kernel); the network's parameters are the server's own namespace, and in force."""
    for server in SERVERS:
        assert on(server, "test", "-s", "/etc/preflight/sysctl-kernel.conf", check=False).returncode == 0, server.name
        assert on(server, "test", "-e", "/etc/sysctl.d/61-preflight-kernel.conf", check=False).returncode != 0, \
            f"{server.name}: the kernel's parameters put in force in a container (they are this machine's)"
        values = on(server, "sysctl", "-n", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.all.accept_redirects",
                    "net.ipv4.conf.all.send_redirects", "net.ipv4.tcp_syncookies", "net.ipv4.ip_forward").stdout.split()
        assert values == ["1", "0", "0", "1", "1"], f"{server.name}: {values}"  # Docker keeps forwarding


@contextlib.contextmanager
def outsider() -> Iterator[int]:
    """A throwaway container at OUTSIDER on the public network; yields its PID, so this machine's nmap
    runs in its network namespace (the image has no nmap)."""
    name = "preflight-rehearsal-outsider"
    docker("rm", "-f", name, check=False)
    docker("run", "-d", "--rm", "--name", name, "--label", "preflight.rehearsal=true", "--network", PUBLIC, "--ip",
           OUTSIDER, "preflight-local/debian:bookworm", "sleep", "900")
    try:
        yield int(docker("inspect", "-f", "{{.State.Pid}}", name).stdout.strip())
    finally:
        docker("rm", "-f", name, check=False)


def nmap(targets: list[str], netns_of: int | None = None) -> dict[str, dict[str, int | list[int]]]:
    """Every TCP port of each target: the open ones, and how many were filtered or closed."""
    if shutil.which("nmap") is None:
        pytest.fail("needs Debian's nmap, which `make test` installs (scripts/test-deps.sh)")
    scan = "-sS" if os.geteuid() == 0 else "-sT"
    command = ["nmap", scan, "-Pn", "-n", "-p-", "-T4", "--min-rate", "3000", "--max-retries", "1", "-oX", "-",
               *targets]
    if netns_of is not None:
        command = ["nsenter", "-t", str(netns_of), "-n", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr
    found: dict[str, dict[str, int | list[int]]] = {}
    for host in ET.fromstring(result.stdout).iter("host"):
        # The IPv4 address (on the same network nmap reports the MAC address too).
        [address] = [a.get("addr") for a in host.iter("address") if a.get("addrtype") == "ipv4"]
        ports = host.find("ports")
        opened = sorted(int(p.get("portid")) for p in (ports.iter("port") if ports is not None else [])  # type: ignore[arg-type]
                        if p.find("state").get("state") == "open")  # type: ignore[union-attr]
        summary = {e.get("state"): int(e.get("count")) for e in (ports.iter("extraports") if ports is not None else [])}  # type: ignore[arg-type]
        found[address] = {"open": opened, "filtered": summary.get("filtered", 0), "closed": summary.get("closed", 0)}
    assert set(found) == set(targets), result.stdout[-2000:]
    return found


def test_nmap_from_outside_the_admin_and_edge_ranges_finds_no_open_port(rehearsed, capsys):
    with outsider() as pid:
        found = nmap([s.address for s in SERVERS], netns_of=pid)
    for server in SERVERS:
        result = found[server.address]
        figure(capsys, f"[nmap] from {OUTSIDER} to {server.name}: open {result['open'] or 'none'}, "
                       f"{result['filtered']} filtered, {result['closed']} closed")
    for server in SERVERS:
        assert found[server.address]["open"] == [], f"{server.name}: {found[server.address]}"


def test_nmap_from_the_admins_and_the_edges_address_finds_only_what_the_firewall_admits(rehearsed, capsys):
    """This machine is both admin_cidrs and edge_ranges here (GATEWAY/32): 22 on every server, 80 and
    443 on the application servers only."""
    found = nmap([s.address for s in SERVERS])
    for server in SERVERS:
        result = found[server.address]
        figure(capsys, f"[nmap] from {GATEWAY} to {server.name}: open {result['open']}, "
                       f"{result['filtered']} filtered, {result['closed']} closed")
    assert found[DATA.address]["open"] == [22], found[DATA.address]
    for server in (APP1, APP2):
        assert found[server.address]["open"] == [22, 80, 443], f"{server.name}: {found[server.address]}"


def test_the_user_data_written_where_lynis_looks(rehearsed):
    """What the judges read, checked on the servers as written: fail2ban's jail from jail.local, the
    security repository among the sources, umask 027 and no core dumps in the deploy user's login
    shell (over SSH: sshd's PAM session applies limits.d), AIDE's daily timer."""
    for server in SERVERS:
        jail = on(server, "fail2ban-client", "status", "sshd", check=False)
        assert jail.returncode == 0, f"{server.name}: {jail.stdout}{jail.stderr}"
        sources = on(server, "sh", "-c", "cat /etc/apt/sources.list.d/* /etc/apt/sources.list 2>/dev/null",
                     check=False).stdout
        assert "-security" in sources, f"{server.name}: {sources}"
        timer = on(server, "systemctl", "is-enabled", "dailyaidecheck.timer", check=False).stdout.strip()
        assert timer == "enabled", f"{server.name}: dailyaidecheck.timer {timer}"
    public_key = rehearsed.project.stack.outputs()["operations"].value["ssh_options"][-1].split(" ", 2)[-1]
    login = subprocess.run(ssh_argv(f"deploy@{DATA.address}", ["bash", "-lc", "umask; ulimit -Hc"],
                                    pinned_options(public_key)),
                           capture_output=True, text=True, env={**os.environ, **rehearsed.env}, timeout=60)
    assert login.stdout.split() == ["0027", "0"], login.stdout + login.stderr
