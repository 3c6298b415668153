"""The rendered user data, pinned: a change of it replaces every Hetzner server (delete-first) and
makes every `host.kind: ssh` server fail its preparation check until rebuilt. When a change is
meant, read the README ("Changing the user data"), then record the new hashes here."""

from __future__ import annotations

import hashlib

import pytest

from components.cloud_init import HostKey, render_boot, render_user_data, ssh_boot
from components.settings import parse_settings
from tests.stack_config import CLOUD_SECRETS, stack_config
from tests.unit.test_ssh_host import ssh_production

KEY = HostKey("-----BEGIN OPENSSH PRIVATE KEY-----\nfixed\n-----END OPENSSH PRIVATE KEY-----\n",
              "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixedKeyForThePinnedUserDataTest00000000 pinned")
PINNED = {
    "hetzner data server": "aa057ce8df9070a70f25ff0e51bbab1b2afb1e101b5fd3c8a1b7b16b0333cf08",
    "hetzner application server": "d8f662ae754bb5774a4d85938a2c93a34b6b0313193bf6a43626bed02b6d0a86",
    "ssh data server": "b53b2e6d3c30d2c8132e445a395a1501623da126bb4d2ebc7d4528f672cc0f36",
    "ssh application server": "6d444f72d3092745a93588a1fb8ad0a2f83d68a44296ab13f3ca008ea0a1b4ce",
}


def rendered(kind: str) -> str:
    if kind.startswith("hetzner"):
        settings, _ = parse_settings("production", {**stack_config("production"), **CLOUD_SECRETS}, frozenset(CLOUD_SECRETS))
        return render_user_data(settings.host, data=kind.endswith("data server"), host_key=KEY)
    settings, _ = parse_settings("production", ssh_production(), frozenset(CLOUD_SECRETS))
    return render_boot(ssh_boot(settings.host, 0 if kind.endswith("data server") else 1, KEY))


@pytest.mark.parametrize("kind", sorted(PINNED))
def test_the_user_data_changes_only_on_purpose(kind):
    assert hashlib.sha256(rendered(kind).encode()).hexdigest() == PINNED[kind], (
        f"the {kind}'s user data changed: existing servers would be replaced or refused; if that is meant, "
        f"say so in the README and record the new hash")
