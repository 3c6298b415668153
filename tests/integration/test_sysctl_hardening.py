"""The user data's kernel parameters, asked of a real kernel (this machine's, Debian's): the network's
file is applied by `sysctl -p` in a network namespace of its own (those parameters are per namespace,
so nothing of this machine changes) and reads back as written; every parameter of the kernel's file
exists here (it is not applied: that would change this machine, as it would from a rehearsal server)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.cloud_init import SYSCTL_KERNEL_CONF, SYSCTL_NETWORK_CONF


def parameters(conf: str) -> dict[str, str]:
    return {key.strip(): value.strip() for key, value in (line.split("=", 1) for line in conf.splitlines() if line)}


def test_the_network_parameters_apply_on_a_real_kernel(tmp_path):
    if shutil.which("unshare") is None or shutil.which("sysctl") is None:
        pytest.fail("needs util-linux's unshare and procps' sysctl, which `make test` installs (scripts/test-deps.sh)")
    conf = tmp_path / "60-preflight-network.conf"
    conf.write_text(SYSCTL_NETWORK_CONF)
    wanted = parameters(SYSCTL_NETWORK_CONF)
    result = subprocess.run(["unshare", "--net", "sh", "-c", f"sysctl -q -p {conf} && sysctl -n {' '.join(wanted)}"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == list(wanted.values())


# Debian's kernels (a Hetzner or cloud image's) have them; a kernel built without the feature has no
# such parameter, and systemd-sysctl logs the line and goes on (this machine's kernel lacks both).
NOT_IN_EVERY_KERNEL = {"kernel.yama.ptrace_scope": "the Yama LSM", "kernel.sysrq": "CONFIG_MAGIC_SYSRQ"}


def test_every_kernel_parameter_exists_on_a_real_kernel():
    missing = [key for key in parameters(SYSCTL_KERNEL_CONF) if not Path("/proc/sys", *key.split(".")).exists()]
    assert set(missing) <= set(NOT_IN_EVERY_KERNEL), missing
