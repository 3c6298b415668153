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
    "hetzner data server": "c6eefe6d42569c16cc67bd9be265301ca642e64c39e3c786cb02121f3a4d17c4",
    "hetzner application server": "f2367e4a2fb31aec88b329e93332932b631182afde25f980e3807749f88df676",
    "ssh data server": "66b77cf7177c1b292f97dca658e1169ea839c86c5aea60ba19400a626fa8c593",
    "ssh application server": "7bf11e31d75de9f529d5974f1fea05298673cc3b85424dd96aebfcd63bb62cfb",
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
