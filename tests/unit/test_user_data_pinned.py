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
    "hetzner data server": "0bdac3f51e8f495d649b7251944d57a89afbded79be9a78fa381afda912bee1a",
    "hetzner application server": "81a8fc42cb6a4f644894f488dc410ed02a3d801b559dd6e63e374566b5f1b3ac",
    "ssh data server": "7fc4b88ae1ba193ed2946c43e5c1363c122d01a801bbf9194cd62f1c000dbf72",
    "ssh application server": "0e97bc9e7db45a3a5cd961e879345496705c2c5053c3d7ef681de0e84a5d62b0",
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
