"""The servers' SSH hardening wins over whatever else sshd reads, asked of Debian's own sshd
(`sshd -T`, the effective configuration): the user data's hardening file, included first, beside a
drop-in that says the opposite and sorts before everything else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.cloud_init import SSHD_HARDENING, SSHD_INCLUDE_FIRST
from tests.unit.test_user_data_pinned import rendered

CONFLICTING = "PasswordAuthentication yes\nPermitRootLogin yes\nKbdInteractiveAuthentication yes\n"
DISTRO_MAIN = Path("/etc/ssh/sshd_config")  # Debian's: `Include /etc/ssh/sshd_config.d/*.conf` first


def effective(main: Path, host_key: Path) -> dict[str, str]:
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd -T insists on its privilege-separation directory
    result = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(main), "-h", str(host_key)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)


@pytest.fixture
def sshd_dir(tmp_path) -> Path:
    if not (Path("/usr/sbin/sshd").exists() and DISTRO_MAIN.exists()):
        pytest.fail("needs Debian's openssh-server, which `make test` installs (scripts/test-deps.sh)")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host_key")], check=True)
    (tmp_path / "sshd_config.d").mkdir()
    (tmp_path / "sshd_config.d" / "00-image.conf").write_text(CONFLICTING)  # sorts before any name of ours
    main = DISTRO_MAIN.read_text().replace("/etc/ssh/sshd_config.d/", f"{tmp_path}/sshd_config.d/")
    (tmp_path / "sshd_config").write_text(main)
    return tmp_path


def test_the_hardening_included_first_wins_over_an_earlier_drop_in(sshd_dir):
    document = yaml.safe_load(rendered("hetzner data server"))
    [hardening] = [f["content"] for f in document["write_files"] if f["path"] == SSHD_HARDENING]
    assert ["sh", "-c", SSHD_INCLUDE_FIRST] in document["runcmd"]
    here = sshd_dir / "preflight-hardening.conf"
    here.write_text(hardening.replace("/etc/ssh/ssh_host_ed25519_key", str(sshd_dir / "host_key")))
    # What the user data's command does to the main config, on a copy.
    main = sshd_dir / "sshd_config"
    command = SSHD_INCLUDE_FIRST.replace(SSHD_HARDENING, str(here)).replace("/etc/ssh/sshd_config", str(main))
    subprocess.run(["sh", "-c", command], check=True)
    subprocess.run(["sh", "-c", command], check=True)  # run twice (a re-run of cloud-init): included once
    assert main.read_text().count(f"Include {here}") == 1
    settings = effective(main, sshd_dir / "host_key")
    assert (settings["passwordauthentication"], settings["permitrootlogin"], settings["kbdinteractiveauthentication"]) \
        == ("no", "no", "no")
    assert settings["allowusers"] == "deploy"


def test_a_drop_in_of_ours_would_have_lost_to_it(sshd_dir):
    # What the user data did before: its hardening as /etc/ssh/sshd_config.d/90-preflight.conf.
    document = yaml.safe_load(rendered("hetzner data server"))
    [hardening] = [f["content"] for f in document["write_files"] if f["path"] == SSHD_HARDENING]
    (sshd_dir / "sshd_config.d" / "90-preflight.conf").write_text(
        hardening.replace("/etc/ssh/ssh_host_ed25519_key", str(sshd_dir / "host_key")))
    settings = effective(sshd_dir / "sshd_config", sshd_dir / "host_key")
    assert (settings["passwordauthentication"], settings["permitrootlogin"]) == ("yes", "yes")
    shutil.rmtree(sshd_dir / "sshd_config.d")
