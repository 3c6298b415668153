"""The cloud-init user data of a Hetzner server: a hardened Debian host that runs Docker.

The text depends only on settings (never on ids known after apply), because Hetzner replaces a
server whose user data changes: a preview shows `replace` only when the settings did change.
"""

from __future__ import annotations

import json

import yaml

from .cloud_settings import HetznerHost

DATA_PORTS = (5432, 6379)  # components/database.py and cache.py

DATA_MOUNT = "/srv/data"

SSHD_CONFIG = """\
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
AllowUsers {user}
"""
FAIL2BAN_JAIL = """\
[sshd]
enabled = true
backend = systemd
maxretry = 5
bantime = 1h
"""
AUTO_UPGRADES = """\
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
"""
# Docker's own defaults for every container it starts (Preflight's containers set theirs too).
# Its data root is on the Hetzner volume: images, containers and named volumes (Postgres data)
# survive a server replacement with the volume.
DOCKER_DAEMON = {"data-root": f"{DATA_MOUNT}/docker", "log-driver": "json-file",
                 "log-opts": {"max-size": "10m", "max-file": "3"}, "live-restore": True}
DOCKER_WAITS_FOR_VOLUME = f"""\
[Unit]
RequiresMountsFor={DATA_MOUNT}
"""
# The data volume is attached after the server is created: wait for it, then mount it for good.
MOUNT_VOLUME = f"""\
#!/bin/sh
set -eu
for _ in $(seq 1 300); do
  device=$(ls /dev/disk/by-id/scsi-0HC_Volume_* 2>/dev/null | head -n 1 || true)
  [ -n "$device" ] && break
  sleep 2
done
[ -n "$device" ] || {{ echo "no Hetzner volume attached" >&2; exit 1; }}
blkid "$device" >/dev/null || mkfs.ext4 -q "$device"
mkdir -p {DATA_MOUNT}
grep -q " {DATA_MOUNT} " /etc/fstab || echo "$device {DATA_MOUNT} ext4 discard,nofail,defaults 0 2" >>/etc/fstab
mount {DATA_MOUNT} 2>/dev/null || mountpoint -q {DATA_MOUNT}
"""


# Postgres and Redis are published on the data server's private address (so application servers
# can reach them); Docker's published ports bypass the INPUT chain, so the filter sits in DOCKER-USER.
DATA_PORTS_FILTER = """\
#!/bin/sh
set -eu
for port in {ports}; do
  rule="-p tcp -m conntrack --ctorigdst {address} --ctorigdstport $port ! -s {sources} -j DROP"
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


def _file(path: str, content: str, permissions: str = "0644") -> dict:
    return {"path": path, "content": content, "permissions": permissions, "owner": "root:root"}


def render_user_data(host: HetznerHost, *, data: bool = True) -> str:
    """#cloud-config for a server. data: the server with the volume, Postgres and Redis (the only
    server when app_servers is 1); otherwise an application server, whose disk holds nothing to keep.
    Both depend on settings that do not change with app_servers, so growing replaces no server."""
    data_files = [
        _file("/etc/docker/daemon.json", json.dumps(DOCKER_DAEMON, indent=2) + "\n"),
        _file("/etc/systemd/system/docker.service.d/10-preflight-volume.conf", DOCKER_WAITS_FOR_VOLUME),
        _file("/usr/local/sbin/preflight-mount-volume", MOUNT_VOLUME, "0755"),
        _file("/usr/local/sbin/preflight-data-ports", DATA_PORTS_FILTER.format(
            ports=" ".join(map(str, DATA_PORTS)), address=host.private_ip, sources=host.app_subnet), "0755"),
        _file("/etc/systemd/system/preflight-data-ports.service", DATA_PORTS_UNIT),
        _file("/etc/sysctl.d/90-preflight-bind.conf", NONLOCAL_BIND),
    ]
    app_daemon = {k: v for k, v in DOCKER_DAEMON.items() if k != "data-root"}
    data_commands = [["sysctl", "--system"], ["/usr/local/sbin/preflight-mount-volume"], ["systemctl", "daemon-reload"],
                     ["systemctl", "restart", "docker"], ["systemctl", "enable", "--now", "preflight-data-ports"]]
    config = {
        "groups": ["docker"],  # before the package creates it, so the deploy user can join
        "users": [{
            "name": host.deploy_user,
            "groups": ["docker"],
            "shell": "/bin/bash",
            "lock_passwd": True,
            "ssh_authorized_keys": [host.ssh_keys[name] for name in sorted(host.ssh_keys)],
        }],
        "disable_root": True,
        "ssh_pwauth": False,
        "package_update": True,
        "package_upgrade": True,
        "packages": ["docker.io", "fail2ban", "unattended-upgrades"],
        "write_files": [
            _file("/etc/ssh/sshd_config.d/90-preflight.conf", SSHD_CONFIG.format(user=host.deploy_user)),
            _file("/etc/fail2ban/jail.d/sshd.local", FAIL2BAN_JAIL),
            _file("/etc/apt/apt.conf.d/20auto-upgrades", AUTO_UPGRADES),
            *(data_files if data else [_file("/etc/docker/daemon.json", json.dumps(app_daemon, indent=2) + "\n")]),
        ],
        "runcmd": [
            *(data_commands if data else [["systemctl", "restart", "docker"]]),
            ["systemctl", "enable", "--now", "docker", "fail2ban", "unattended-upgrades"],
            ["systemctl", "restart", "ssh"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=1000)
