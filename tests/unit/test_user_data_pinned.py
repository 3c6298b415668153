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
    "hetzner data server": "bbaeb32858d5b21ee32f7a85efec9190e4d110c17726d969dcd3a09c144ffba3",
    "hetzner application server": "83225c9e933f86fa0ac3ef8a9dfcb3aab7ed13a76b081afa26e6f744f69deefa",
    "ssh data server": "5d6a13b994abb4480e3718ac86b365b6a0931be4e6051f8e65428abc90b3f667",
    "ssh application server": "58f0b5aad3de14d7c0685bc6c0ddccdb076a0e97221e04330a79ab8e38fee821",
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
