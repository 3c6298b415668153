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
    "hetzner data server": "b46bbd1a256ed21fb49a5c81cf0755352098064d9c3d3019599cb6f9475e6ff6",
    "hetzner application server": "d48196d75dc3eff078862c879288dc1e937e0ebc29c61ea2c2f4396091db088a",
    "ssh data server": "1fcc89ed953bc2823e7760d185d4fd3326e0f3dd40d8a4ed4f460ae6bb20bd2f",
    "ssh application server": "77ad669d2b34d885d418464107688cec11c7670ca9dc0635fb913dc844b65c8d",
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
