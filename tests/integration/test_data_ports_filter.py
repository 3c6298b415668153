"""The data server's filter for Postgres and Redis (cloud-init), run by real iptables in a network
namespace of its own, so the machine's rules are not touched."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from components.cloud_init import render_user_data
from components.cloud_settings import HetznerHost
from tests import daemons

HOST = HetznerHost(kind="hetzner", server_name="preflight-production-1", network_name="preflight-production",
                   ssh_keys={"ops": "ssh-ed25519 " + "A" * 68}, admin_cidrs=["203.0.113.0/24"])


def data_ports_script() -> str:
    files = {f["path"]: f["content"] for f in yaml.safe_load(render_user_data(HOST))["write_files"]}
    return files["/usr/local/sbin/preflight-data-ports"]


def test_the_filter_drops_data_ports_except_from_the_app_subnet_and_is_idempotent(tmp_path):
    missing = [p for p in daemons.missing_packages() if p in ("iptables", "util-linux")]
    if missing:
        pytest.fail("this test needs these Debian packages, which `make test` installs: " + ", ".join(missing))
    script = tmp_path / "preflight-data-ports"
    script.write_text(data_ports_script())
    # Docker creates DOCKER-USER; the script runs after Docker (and again whenever Docker restarts).
    result = subprocess.run(["unshare", "--net", "sh", "-c", f"iptables -N DOCKER-USER && sh {script} && sh {script} && "
                             "iptables -S DOCKER-USER"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rules = [line for line in result.stdout.splitlines() if line.startswith("-A DOCKER-USER")]
    assert sorted(rules) == sorted(
        f"-A DOCKER-USER ! -s 10.10.2.0/24 -p tcp -m conntrack --ctorigdst 10.10.1.10 --ctorigdstport {port} "
        "--ctdir ORIGINAL -j DROP"
        for port in (5432, 6379))
