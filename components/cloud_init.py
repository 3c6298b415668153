"""The cloud-init user data of a Hetzner server: a hardened Debian host that runs Docker.

The text depends only on settings (never on ids known after apply), because Hetzner replaces a
server whose user data changes: a preview shows `replace` only when the settings did change.
"""

from __future__ import annotations

import json

import yaml

from .cloud_settings import HetznerHost

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


def _file(path: str, content: str, permissions: str = "0644") -> dict:
    return {"path": path, "content": content, "permissions": permissions, "owner": "root:root"}


def render_user_data(host: HetznerHost) -> str:
    """#cloud-config for the server."""
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
            _file("/etc/docker/daemon.json", json.dumps(DOCKER_DAEMON, indent=2) + "\n"),
            _file("/etc/systemd/system/docker.service.d/10-preflight-volume.conf", DOCKER_WAITS_FOR_VOLUME),
            _file("/usr/local/sbin/preflight-mount-volume", MOUNT_VOLUME, "0755"),
        ],
        "runcmd": [
            ["/usr/local/sbin/preflight-mount-volume"],
            ["systemctl", "daemon-reload"],
            ["systemctl", "restart", "docker"],
            ["systemctl", "enable", "--now", "docker", "fail2ban", "unattended-upgrades"],
            ["systemctl", "restart", "ssh"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=1000)
