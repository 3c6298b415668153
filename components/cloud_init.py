"""The cloud-init user data of a Hetzner server: a hardened Debian host that runs Docker.

The text depends only on settings (never on ids known after apply), because Hetzner replaces a
server whose user data changes: a preview shows `replace` only when the settings did change.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import yaml

from .cloud_settings import HetznerHost
from .ssh_settings import SshHost

DATA_PORTS = (5432, 6379)  # components/database.py and cache.py

DATA_MOUNT = "/srv/data"

# The hardening is read before anything else sshd reads: sshd keeps the first value of a keyword
# and reads the sshd_config.d drop-ins (in name order) where the main file includes them, so a
# drop-in of ours would lose to any earlier-named one an image or a package writes. Its own file,
# included from the main config's first line, wins over all of them.
SSHD_HARDENING = "/etc/ssh/preflight-hardening.conf"
SSHD_INCLUDE_FIRST = (f"grep -qx 'Include {SSHD_HARDENING}' /etc/ssh/sshd_config || "
                      f"sed -i '1i Include {SSHD_HARDENING}' /etc/ssh/sshd_config")
SSHD_CONFIG = """\
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers {user}
# What ssh-audit (3.x) calls safe, and no finite-field Diffie-Hellman: with none offered there is
# nothing for a DHEat flood (CVE-2002-20001) to make the server compute. curve25519 stays (ssh-audit
# warns: not post-quantum) for clients older than OpenSSH 8.5 and Go's x/crypto/ssh, which lack sntrup761.
KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com
HostKeyAlgorithms ssh-ed25519,ssh-ed25519-cert-v01@openssh.com
# Unauthenticated connections: at most 10 before refusing 30 % of new ones, none past 60; 30 s to log in.
MaxStartups 10:30:60
LoginGraceTime 30
MaxAuthTries 3
MaxSessions 2
ClientAliveInterval 300
ClientAliveCountMax 2
TCPKeepAlive no
LogLevel VERBOSE
Compression no
X11Forwarding no
AllowAgentForwarding no
AllowStreamLocalForwarding no
# `ssh -L` tunnels (to the monitoring's web interfaces) stay usable; nothing is forwarded the other way.
AllowTcpForwarding local
GatewayPorts no
PermitTunnel no
PermitUserEnvironment no
"""
FAIL2BAN_JAIL = """\
[DEFAULT]
backend = systemd
bantime = 1h
findtime = 10m
maxretry = 5

[sshd]
enabled = true
mode = normal
port = {port}
"""
AUTO_UPGRADES = """\
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
"""
# The system's hardening (issue 35). Kernel parameters in two files: the network's belong to the
# server's own network namespace (a container's too), the others to the kernel. Docker needs
# forwarding (net.ipv4.ip_forward and conf.all.forwarding stay 1) and loads modules as it goes
# (kernel.modules_disabled stays 0).
SYSCTL_NETWORK = "/etc/sysctl.d/60-preflight-network.conf"
SYSCTL_NETWORK_CONF = """\
net.ipv4.conf.all.rp_filter = 1
net.ipv4.conf.default.rp_filter = 1
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv4.conf.all.secure_redirects = 0
net.ipv4.conf.default.secure_redirects = 0
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.send_redirects = 0
net.ipv4.conf.all.accept_source_route = 0
net.ipv4.conf.default.accept_source_route = 0
net.ipv4.conf.all.log_martians = 1
net.ipv4.conf.default.log_martians = 1
net.ipv4.conf.all.bootp_relay = 0
net.ipv4.conf.all.proxy_arp = 0
net.ipv4.icmp_echo_ignore_broadcasts = 1
net.ipv4.icmp_ignore_bogus_error_responses = 1
net.ipv4.tcp_syncookies = 1
net.ipv6.conf.all.accept_redirects = 0
net.ipv6.conf.default.accept_redirects = 0
net.ipv6.conf.all.accept_source_route = 0
net.ipv6.conf.default.accept_source_route = 0
"""
# A container shares its host's kernel: these are not its to set (a rehearsal server would change
# the machine running it), so the file is put in force only where the server has a kernel of its own.
SYSCTL_KERNEL = "/etc/preflight/sysctl-kernel.conf"
SYSCTL_KERNEL_CONF = """\
kernel.kptr_restrict = 2
kernel.dmesg_restrict = 1
kernel.perf_event_paranoid = 3
kernel.unprivileged_bpf_disabled = 1
kernel.yama.ptrace_scope = 1
kernel.randomize_va_space = 2
kernel.sysrq = 0
kernel.core_uses_pid = 1
fs.suid_dumpable = 0
fs.protected_fifos = 2
fs.protected_regular = 2
fs.protected_hardlinks = 1
fs.protected_symlinks = 1
dev.tty.ldisc_autoload = 0
net.core.bpf_jit_harden = 2
"""
SYSCTL_KERNEL_IN_FORCE = (f"systemd-detect-virt --container --quiet || "
                          f"ln -sf {SYSCTL_KERNEL} /etc/sysctl.d/61-preflight-kernel.conf")
NO_CORE_DUMPS = {
    "/etc/security/limits.d/60-preflight-core.conf": "* hard core 0\n* soft core 0\n",
    "/etc/systemd/coredump.conf.d/60-preflight.conf": "[Coredump]\nStorage=none\nProcessSizeMax=0\n",
    "/etc/systemd/system.conf.d/60-preflight-core.conf": "[Manager]\nDefaultLimitCORE=0\n",
}
# Login shells: new files readable by the group at most, no core dumps, idle interactive shells
# closed after 15 minutes (`ssh -N -L` tunnels have no shell and stay). login.defs: the umask
# pam_umask and useradd read, and the rounds of SHA-512 password hashes (the accounts have no
# password; for any given later).
LOGIN_PROFILE = "/etc/profile.d/60-preflight-login.sh"
LOGIN_PROFILE_SH = """\
umask 027
ulimit -c 0
if [ "${TMOUT:-}" != 900 ]; then
  TMOUT=900
  readonly TMOUT
  export TMOUT
fi
"""
LOGIN_DEFS = (r"sed -i 's/^UMASK[[:space:]].*/UMASK\t\t027/' /etc/login.defs && "
              r"{ grep -q '^SHA_CRYPT_MIN_ROUNDS' /etc/login.defs || "
              r"printf 'SHA_CRYPT_MIN_ROUNDS 5000\nSHA_CRYPT_MAX_ROUNDS 50000\n' >>/etc/login.defs; }")
# Protocols and storage nothing here uses. Not iso9660 or vfat (config drives, EFI), not overlay (Docker).
MODULES_OFF = "/etc/modprobe.d/60-preflight-off.conf"
MODULES_OFF_CONF = "".join(f"install {m} /bin/true\nblacklist {m}\n" for m in (
    "dccp", "sctp", "rds", "tipc", "usb-storage", "firewire-core", "firewire-ohci", "cramfs", "freevxfs", "jffs2",
    "hfs", "hfsplus"))
# A small audit rule set: changes to accounts, privileges, sshd, Docker's configuration, units, kernel
# parameters and modules. No syscall rule on a busy path (each costs on every matching syscall).
AUDIT_RULES = "/etc/audit/rules.d/60-preflight.rules"
AUDIT_RULES_CONF = """\
-w /etc/passwd -p wa -k identity
-w /etc/group -p wa -k identity
-w /etc/shadow -p wa -k identity
-w /etc/gshadow -p wa -k identity
-w /etc/sudoers -p wa -k privilege
-w /etc/sudoers.d/ -p wa -k privilege
-w /etc/ssh/ -p wa -k sshd
-w /etc/docker/ -p wa -k docker
-w /etc/systemd/system/ -p wa -k units
-w /etc/sysctl.d/ -p wa -k sysctl
-w /etc/modprobe.d/ -p wa -k modules
-w /etc/audit/ -p wa -k audit
-a always,exit -F arch=b64 -S init_module,finit_module,delete_module -k modules
"""
# The kernel's audit answers its initial PID namespace only: in a container auditd cannot start.
AUDITD_NOT_IN_CONTAINERS = "[Unit]\nConditionVirtualization=!container\n"
# File integrity: AIDE, without the mailer it recommends (which would bring an MTA); its first
# database is built in the background (cloud-init's end is not delayed), then Debian's daily timer
# compares. What changes by design is left out: Docker's data, the data volume, logs, caches.
AIDE_EXCLUDES = "/etc/aide/aide.conf.d/99_preflight"
AIDE_EXCLUDES_CONF = "".join(f"!{path}\n" for path in (
    DATA_MOUNT, "/var/lib/docker", "/var/lib/containerd", "/var/log", "/var/cache", "/var/lib/apt",
    "/var/lib/fail2ban", "/var/lib/aide", "/var/tmp", "/tmp"))
AIDE_INIT_UNIT = """\
[Unit]
Description=Build AIDE's first database (then dailyaidecheck.timer compares)
ConditionPathExists=!/var/lib/aide/aide.db

[Service]
Type=oneshot
Nice=19
IOSchedulingClass=idle
# The database's directory belongs to _aide (aideinit runs aide as that user): made so first,
# should the package's own tmpfiles run not have (it does not in a chroot).
ExecStartPre=/bin/systemd-tmpfiles --create aide-common.conf
ExecStart=/usr/sbin/aideinit --yes --force
"""
AIDE_INSTALL = ("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends aide aide-common && "
                "sed -i 's/^Checksums = H$/Checksums = sha512/' /etc/aide/aide.conf")
# Unattended upgrades need the security repository: cloud images have it, a server you have may not.
# (bootcmd: before cloud-init's package update and upgrade.)
# One-line format: Lynis 3.0.8 (PKGS-7388) does not read deb822 `.sources` files.
SECURITY_SOURCE = """\
. /etc/os-release
grep -rqs -e '-security' /etc/apt/sources.list /etc/apt/sources.list.d/ || \
echo "deb http://deb.debian.org/debian-security $VERSION_CODENAME-security main" \
>/etc/apt/sources.list.d/debian-security.list
"""
LEGAL_BANNER = ("Authorised access to this system only. All activity is monitored, logged and recorded;\n"
                "unauthorised use is prohibited and may be reported to law enforcement.\n")

# Docker's own defaults for every container it starts (Preflight's containers set theirs too).
# Its data root is on the Hetzner volume: images, containers and named volumes (Postgres data)
# survive a server replacement with the volume.
DOCKER_DAEMON = {"data-root": f"{DATA_MOUNT}/docker", "log-driver": "json-file",
                 "log-opts": {"max-size": "10m", "max-file": "3"}, "live-restore": True,
                 "default-ulimits": {"core": {"Name": "core", "Hard": 0, "Soft": 0}}}
DOCKER_WAITS_FOR_VOLUME = f"""\
[Unit]
RequiresMountsFor={DATA_MOUNT}
"""
HETZNER_VOLUME = "/dev/disk/by-id/scsi-0HC_Volume_*"
# The data volume is attached after the server is created: wait for it, then mount it for good.
MOUNT_VOLUME = """\
#!/bin/sh
set -eu
for _ in $(seq 1 300); do
  device=$(ls {device} 2>/dev/null | head -n 1 || true)
  [ -n "$device" ] && break
  sleep 2
done
[ -n "$device" ] || {{ echo "no data volume at {device}" >&2; exit 1; }}
blkid "$device" >/dev/null || mkfs.ext4 -q "$device"
mkdir -p {mount}
grep -q " {mount} " /etc/fstab || echo "$device {mount} ext4 discard,nofail,defaults 0 2" >>/etc/fstab
mount {mount} 2>/dev/null || mountpoint -q {mount}
"""


# Postgres and Redis are published on the data server's private address (so application servers
# can reach them); Docker's published ports bypass the INPUT chain, so the filter sits in DOCKER-USER.
# It judges the client's packets only (--ctdir ORIGINAL): the answers come from the container's
# address and would otherwise be dropped too (found by the rehearsal: no application server reached
# Postgres).
DATA_PORTS_FILTER = """\
#!/bin/sh
set -eu
for port in {ports}; do
  rule="-p tcp -m conntrack --ctdir ORIGINAL --ctorigdst {address} --ctorigdstport $port ! -s {sources} -j DROP"
  iptables -C DOCKER-USER $rule 2>/dev/null || iptables -I DOCKER-USER $rule
done
"""
# Docker may start the containers before the private network's address is configured at boot;
# binding a published port to a not-yet-present address must not fail.
NONLOCAL_BIND = "net.ipv4.ip_nonlocal_bind = 1\nnet.ipv6.ip_nonlocal_bind = 1\n"
DATA_PORTS_UNIT = """\
[Unit]
Description=Admit Postgres and Redis only from the application subnet
After=docker.service
PartOf=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/preflight-data-ports

[Install]
WantedBy=docker.service
"""


# Servers without a provider firewall: inbound SSH from the admins, HTTP(S) from the edge (IPv6
# reaches the proxy through Docker's userland proxy, so INPUT admits 80/443 too), nothing else.
HOST_FIREWALL = """\
#!/bin/sh
set -eu
apply() {{
  t=$1 icmp=$2 admins=$3 edge=$4
  $t -N PREFLIGHT-IN 2>/dev/null || $t -F PREFLIGHT-IN
  $t -A PREFLIGHT-IN -i lo -j ACCEPT
  $t -A PREFLIGHT-IN -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  $t -A PREFLIGHT-IN -p "$icmp" -j ACCEPT
  for cidr in $admins; do $t -A PREFLIGHT-IN -p tcp --dport {port} -s "$cidr" -j ACCEPT; done
  for cidr in $edge; do $t -A PREFLIGHT-IN -p tcp -m multiport --dports 80,443 -s "$cidr" -j ACCEPT; done
  $t -A PREFLIGHT-IN -j DROP
  $t -C INPUT -j PREFLIGHT-IN 2>/dev/null || $t -I INPUT -j PREFLIGHT-IN
}}
apply iptables icmp "{admin4}" "{edge4}"
apply ip6tables ipv6-icmp "{admin6}" "{edge6}"
"""
HOST_FIREWALL_UNIT = """\
[Unit]
Description=Admit SSH from the admins and HTTP(S) from the edge only
Wants=network-pre.target
Before=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/preflight-host-firewall

[Install]
WantedBy=multi-user.target
"""
# Docker's published ports (the proxy's 80/443 over IPv4) bypass INPUT: the same sources, in DOCKER-USER.
# Connections from Docker's own bridges (containers going out) are not the edge's business.
EDGE_FILTER = """\
#!/bin/sh
set -eu
iptables -N PREFLIGHT-WEB 2>/dev/null || iptables -F PREFLIGHT-WEB
iptables -A PREFLIGHT-WEB -i docker0 -j RETURN
iptables -A PREFLIGHT-WEB -i br-+ -j RETURN
for cidr in {edge4}; do iptables -A PREFLIGHT-WEB -s "$cidr" -j RETURN; done
iptables -A PREFLIGHT-WEB -j DROP
for port in 80 443; do
  rule="-p tcp -m conntrack --ctstate NEW --ctorigdstport $port -j PREFLIGHT-WEB"
  iptables -C DOCKER-USER $rule 2>/dev/null || iptables -I DOCKER-USER $rule
done
"""
# Behind a load balancer: the proxy's health port (plain HTTP, health routes only) from the private network only.
HEALTH_FILTER = """\
iptables -N PREFLIGHT-HEALTH 2>/dev/null || iptables -F PREFLIGHT-HEALTH
iptables -A PREFLIGHT-HEALTH -s {sources} -j RETURN
iptables -A PREFLIGHT-HEALTH -j DROP
rule="-p tcp -m conntrack --ctstate NEW --ctorigdstport {port} -j PREFLIGHT-HEALTH"
iptables -C DOCKER-USER $rule 2>/dev/null || iptables -I DOCKER-USER $rule
"""
EDGE_FILTER_UNIT = DATA_PORTS_UNIT.replace("Admit Postgres and Redis only from the application subnet",
                                           "Admit the proxy's ports from the edge only").replace(
    "preflight-data-ports", "preflight-edge-filter")


# New SSH connections per source: 10 at once, then 10 a second (a dropped SYN is sent again by the
# client a second later). ssh-audit's DHEat check asks for under 20 a second: it sees at most
# (10 + 1.5 s x 10) / 1.5 s = 17. OpenSSH 9.2 (bookworm) has no PerSourcePenalties (9.8), and its
# PerSourceMaxStartups bounds concurrency, not the rate ssh-audit measures. First in INPUT (also
# ahead of the host firewall's accept of the admins): admins are throttled too.
SSH_THROTTLE = """\
#!/bin/sh
set -eu
for t in iptables ip6tables; do
  $t -N PREFLIGHT-SSH 2>/dev/null || $t -F PREFLIGHT-SSH
  $t -A PREFLIGHT-SSH -m hashlimit --hashlimit-name preflight-ssh --hashlimit-mode srcip \\
    --hashlimit-above 10/second --hashlimit-burst 10 -j DROP
  jump="-p tcp --dport {port} -m conntrack --ctstate NEW -j PREFLIGHT-SSH"
  while $t -D INPUT $jump 2>/dev/null; do :; done
  $t -I INPUT 1 $jump
done
"""
SSH_THROTTLE_UNIT = """\
[Unit]
Description=Throttle new SSH connections per source (DHEat)
Wants=network-pre.target
Before=network-pre.target
After=preflight-host-firewall.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/preflight-ssh-throttle

[Install]
WantedBy=multi-user.target
"""


def _file(path: str, content: str, permissions: str = "0644") -> dict:
    return {"path": path, "content": content, "permissions": permissions, "owner": "root:root"}


@dataclass(frozen=True)
class HostKey:
    """The server's SSH host key, generated by the program (components/generated.py)."""

    private_key: str
    public_key: str


@dataclass(frozen=True)
class HostFirewall:
    """Servers without a provider firewall (`host.kind: ssh`) filter inbound traffic themselves."""

    admin_cidrs: tuple[str, ...]
    edge_ranges: tuple[str, ...]
    ssh_port: int = 22
    health_port: int | None = None  # behind a load balancer: admitted from health_sources only
    health_sources: str = ""


@dataclass(frozen=True)
class ServerBoot:
    """What a server's user data is rendered from."""

    deploy_user: str
    admin_keys: tuple[str, ...]
    data: bool  # keeps Postgres, Redis and the backups
    private_ip: str  # the data server's private address, where Postgres and Redis are published
    data_sources: str  # the only network admitted to them there
    volume: str | None  # the data volume's device (a glob is fine); None: Docker stays on the root disk
    firewall: HostFirewall | None = None
    host_key: HostKey | None = None
    prepared_marker: bool = False  # record the user data's hash, so a check can tell how a server was prepared


def hetzner_boot(host: HetznerHost, *, data: bool, host_key: HostKey | None) -> ServerBoot:
    return ServerBoot(host.deploy_user, tuple(host.ssh_keys[n] for n in sorted(host.ssh_keys)), data, host.private_ip,
                      host.app_subnet, HETZNER_VOLUME if data else None, host_key=host_key)


def render_user_data(host: HetznerHost, *, data: bool = True, host_key: HostKey | None = None) -> str:
    """#cloud-config for a Hetzner server. data: the server with the volume, Postgres and Redis (the
    only server when app_servers is 1); otherwise an application server, whose disk holds nothing to
    keep. Both depend on settings that do not change with app_servers, so growing replaces no server.
    host_key: the only host key its sshd presents (every connection Preflight makes pins it)."""
    return render_boot(hetzner_boot(host, data=data, host_key=host_key))


def _by_family(cidrs: tuple[str, ...], version: int) -> str:
    return " ".join(c for c in cidrs if ipaddress.ip_network(c, strict=False).version == version)


def firewall_files(firewall: HostFirewall) -> list[dict]:
    admin = {v: _by_family(firewall.admin_cidrs, v) for v in (4, 6)}
    edge = {v: _by_family(firewall.edge_ranges, v) for v in (4, 6)}
    return [
        _file("/usr/local/sbin/preflight-host-firewall", HOST_FIREWALL.format(
            port=firewall.ssh_port, admin4=admin[4], admin6=admin[6], edge4=edge[4], edge6=edge[6]), "0755"),
        _file("/etc/systemd/system/preflight-host-firewall.service", HOST_FIREWALL_UNIT),
        _file("/usr/local/sbin/preflight-edge-filter", EDGE_FILTER.format(edge4=edge[4]) + (
            HEALTH_FILTER.format(port=firewall.health_port, sources=firewall.health_sources)
            if firewall.health_port is not None else ""), "0755"),
        _file("/etc/systemd/system/preflight-edge-filter.service", EDGE_FILTER_UNIT),
    ]


def system_files(ssh_port: int) -> list[dict]:
    """The system's hardening, the same on every server (issue 35)."""
    return [
        _file("/usr/local/sbin/preflight-ssh-throttle", SSH_THROTTLE.format(port=ssh_port), "0755"),
        _file("/etc/systemd/system/preflight-ssh-throttle.service", SSH_THROTTLE_UNIT),
        _file(SYSCTL_NETWORK, SYSCTL_NETWORK_CONF),
        _file(SYSCTL_KERNEL, SYSCTL_KERNEL_CONF),
        *(_file(path, content) for path, content in NO_CORE_DUMPS.items()),
        _file(LOGIN_PROFILE, LOGIN_PROFILE_SH),
        _file(MODULES_OFF, MODULES_OFF_CONF),
        _file(AUDIT_RULES, AUDIT_RULES_CONF, "0640"),
        _file("/etc/systemd/system/auditd.service.d/10-preflight-not-in-containers.conf", AUDITD_NOT_IN_CONTAINERS),
        _file(AIDE_EXCLUDES, AIDE_EXCLUDES_CONF),
        _file("/etc/systemd/system/preflight-aide-init.service", AIDE_INIT_UNIT),
        _file("/etc/issue", LEGAL_BANNER),
        _file("/etc/issue.net", LEGAL_BANNER),
    ]


def render_boot(boot: ServerBoot) -> str:
    """#cloud-config for a server described by `boot`."""
    volume_files = [
        _file("/etc/systemd/system/docker.service.d/10-preflight-volume.conf", DOCKER_WAITS_FOR_VOLUME),
        _file("/usr/local/sbin/preflight-mount-volume", MOUNT_VOLUME.format(device=boot.volume, mount=DATA_MOUNT),
              "0755"),
    ] if boot.volume else []
    daemon = DOCKER_DAEMON if boot.volume else {k: v for k, v in DOCKER_DAEMON.items() if k != "data-root"}
    data_files = [
        *volume_files,
        _file("/usr/local/sbin/preflight-data-ports", DATA_PORTS_FILTER.format(
            ports=" ".join(map(str, DATA_PORTS)), address=boot.private_ip, sources=boot.data_sources), "0755"),
        _file("/etc/systemd/system/preflight-data-ports.service", DATA_PORTS_UNIT),
        _file("/etc/sysctl.d/90-preflight-bind.conf", NONLOCAL_BIND),
    ]
    data_commands = [*([["/usr/local/sbin/preflight-mount-volume"]] if boot.volume else []),
                     ["systemctl", "daemon-reload"], ["systemctl", "restart", "docker"],
                     ["systemctl", "enable", "--now", "preflight-data-ports"]]
    firewall_commands = [["systemctl", "daemon-reload"],
                         ["systemctl", "enable", "--now", "preflight-host-firewall", "preflight-edge-filter"]]
    sshd = SSHD_CONFIG.format(user=boot.deploy_user)
    ssh_port = boot.firewall.ssh_port if boot.firewall else 22
    if ssh_port != 22:
        sshd += f"Port {ssh_port}\n"
    config: dict[str, Any] = {
        "groups": ["docker"],  # before the package creates it, so the deploy user can join
        "users": [{
            "name": boot.deploy_user,
            "groups": ["docker"],
            "shell": "/bin/bash",
            "lock_passwd": True,
            "ssh_authorized_keys": list(boot.admin_keys),
        }],
        "disable_root": True,
        "ssh_pwauth": False,
        **({"ssh_deletekeys": True, "ssh_genkeytypes": [],
            "ssh_keys": {"ed25519_private": boot.host_key.private_key, "ed25519_public": boot.host_key.public_key}}
           if boot.host_key else {}),
        "package_update": True,
        "package_upgrade": True,
        "bootcmd": [["sh", "-c", SECURITY_SOURCE]],
        "packages": ["docker.io", "fail2ban", "unattended-upgrades", "auditd", "debsums", "apt-show-versions",
                     "libpam-pwquality", "libpam-tmpdir", "acct"],
        "write_files": [
            _file(SSHD_HARDENING, sshd),
            _file("/etc/fail2ban/jail.local", FAIL2BAN_JAIL.format(port=ssh_port)),
            _file("/etc/apt/apt.conf.d/20auto-upgrades", AUTO_UPGRADES),
            _file("/etc/docker/daemon.json", json.dumps(daemon, indent=2) + "\n"),
            *system_files(ssh_port),
            *(data_files if boot.data else []),
            *(firewall_files(boot.firewall) if boot.firewall else []),
        ],
        "runcmd": [
            ["sh", "-c", SYSCTL_KERNEL_IN_FORCE],
            ["sysctl", "--system"],
            *(data_commands if boot.data else [["systemctl", "restart", "docker"]]),
            *(firewall_commands if boot.firewall else []),
            ["sh", "-c", LOGIN_DEFS],
            ["chmod", "0750", f"/home/{boot.deploy_user}"],
            ["sh", "-c", AIDE_INSTALL],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "docker", "fail2ban", "unattended-upgrades", "auditd",
             "preflight-ssh-throttle"],
            ["systemctl", "enable", "--now", "dailyaidecheck.timer"],
            ["systemctl", "start", "--no-block", "preflight-aide-init"],
            ["sh", "-c", SSHD_INCLUDE_FIRST],
            ["systemctl", "restart", "ssh"],
        ],
    }
    if boot.prepared_marker:
        config["write_files"].append(_file(PREPARED_MARKER, user_data_hash(_dump(config)) + "\n"))
    return _dump(config)


PREPARED_MARKER = "/etc/preflight/user-data.sha256"


def _dump(config: dict) -> str:
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=1000)


def user_data_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def prepared_hash(user_data: str) -> str:
    """The hash a server prepared with `user_data` keeps in PREPARED_MARKER."""
    config = yaml.safe_load(user_data)
    [marker] = [f for f in config["write_files"] if f["path"] == PREPARED_MARKER]
    return marker["content"].strip()


def ssh_boot(host: SshHost, index: int, host_key: HostKey | None, health_port: int | None = None) -> ServerBoot:
    """Server `index` of `host.kind: ssh` (0: the data server): a host firewall in place of the
    provider's, and the marker that tells how the server was prepared. health_port: the proxy's,
    on an application server behind your load balancer (admitted from app_subnet only)."""
    return ServerBoot(host.user, tuple(host.ssh_keys[n] for n in sorted(host.ssh_keys)), index == 0, host.private_ip,
                      host.data_sources, host.data_device if index == 0 else None,
                      firewall=HostFirewall(tuple(host.admin_cidrs),
                                            (*host.edge_ranges.ipv4, *host.edge_ranges.ipv6), host.port,
                                            health_port=health_port, health_sources=host.data_sources),
                      host_key=host_key, prepared_marker=True)
