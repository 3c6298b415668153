"""Servers you have (`host.kind: ssh`) are judged as Hetzner servers are (issue 33, item 1): who may
reach 22, 80 and 443 (the host firewall in their user data, read as the shell runs it), how wide an
admin network may be, the deploy user, password and root logins."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests.mocks import build_stack
from tests.stack_config import CLOUD_SECRETS
from tests.unit.test_ssh_host import ssh_production

from .harness import UNKNOWN, Pack, Res, load_config

FIREWALL = "/usr/local/sbin/preflight-host-firewall"
EDGE_FILTER = "/usr/local/sbin/preflight-edge-filter"
HARDENING = "/etc/ssh/preflight-hardening.conf"


@pytest.fixture(scope="module")
def resources() -> list[Res]:
    built = build_stack("production", ssh_production(), secret_keys=frozenset(CLOUD_SECRETS))
    found = []
    for r in built.mocks.resources:
        props = dict(r.inputs)
        if r.type == "docker:index/network:Network":
            props.setdefault("name", r.name)
        found.append(Res(r.type, r.name, props, protect=r.protect))
    return found


@pytest.fixture(scope="module")
def pack():
    return Pack("production", load_config("production"))


def user_data_of(resources, server="preflight-host-app1-user-data"):
    [res] = [r for r in resources if r.name == server]
    return res


def edited(resources, change, server="preflight-host-app1-user-data"):
    """The stack with one server's user data changed: change(document) edits the cloud-config."""
    copies = copy.deepcopy(resources)
    res = user_data_of(copies, server)
    document = yaml.safe_load(res.props["user_data"])
    change(document)
    res.props["user_data"] = "#cloud-config\n" + yaml.safe_dump(document)
    return copies


def script(path, edit):
    def change(document):
        [entry] = [f for f in document["write_files"] if f["path"] == path]
        edit_result = edit(entry["content"])
        assert edit_result != entry["content"], "the edit must change the script"
        entry["content"] = edit_result
    return change


def both(*changes):
    return lambda document: [change(document) for change in changes]


def replace(old, new):
    return lambda text: text.replace(old, new)


def test_the_servers_you_have_break_no_mandatory_rule(pack, resources):
    outcome = pack.analyze(resources)
    assert outcome.mandatory() == [], outcome.violations
    assert not {"PF-HOST-001", "PF-HOST-003", "PF-HOST-005"} & set(outcome.not_applicable), outcome.not_applicable


ADMINS = '"203.0.113.0/24"'
FIREWALL_RULES = {"PF-HOST-001", "PF-HOST-002", "PF-HOST-003"}
CASES = [
    ("PF-HOST-001", script(FIREWALL, replace(f"icmp {ADMINS}", 'icmp "0.0.0.0/0"')), "SSH (22) is open to 0.0.0.0/0"),
    ("PF-HOST-001", script(FIREWALL, replace(f"icmp {ADMINS}", 'icmp "203.0.113.0/24 10.0.0.0/8"')), "10.0.0.0/8"),
    ("PF-HOST-001", script(FIREWALL, replace('-s "$cidr" -j ACCEPT; done\n  for cidr in $edge',
                                             '-j ACCEPT; done\n  for cidr in $edge')), "0.0.0.0/0"),
    ("PF-HOST-002", script(FIREWALL, replace("  $t -A PREFLIGHT-IN -j DROP",
                                             "  $t -A PREFLIGHT-IN -p tcp --dport 5432 -j ACCEPT\n  $t -A PREFLIGHT-IN -j DROP")),
     "Postgres (5432"),
    ("PF-HOST-003", script(FIREWALL, replace("  $t -A PREFLIGHT-IN -j DROP\n", "")), "opens more than 22, 80 and 443"),
    ("PF-HOST-003", script(FIREWALL, replace('"173.245.48.0/20 ', '"0.0.0.0/0 ')), "admits 0.0.0.0/0"),
    ("PF-HOST-003", script(FIREWALL, replace("  $t -A PREFLIGHT-IN -j DROP",
                                             "  $t -A PREFLIGHT-IN -p tcp --dport 8080 -j ACCEPT\n  $t -A PREFLIGHT-IN -j DROP")),
     "tcp/8080 opens more"),
    # Docker's published ports bypass INPUT: without the DOCKER-USER filter, 80 and 443 are everyone's.
    ("PF-HOST-003", lambda d: d.update(write_files=[f for f in d["write_files"] if f["path"] != EDGE_FILTER]),
     "tcp/80 admits 0.0.0.0/0"),
    ("PF-HOST-003", script(EDGE_FILTER, replace('for cidr in 173.245.48.0/20 ', 'for cidr in 198.51.100.0/24 ')),
     "198.51.100.0/24"),
    ("PF-HOST-004", lambda d: d.update(write_files=[f for f in d["write_files"] if f["path"] != FIREWALL]),
     "sets no host firewall"),
    # sshd reads the hardening file first (included at the top of sshd_config): that is where it counts.
    ("PF-HOST-005", script(HARDENING, replace("PasswordAuthentication no", "PasswordAuthentication yes")),
     "password login stays on"),
    ("PF-HOST-005", both(lambda d: d.update(disable_root=False), script(HARDENING, replace("PermitRootLogin no", ""))),
     "root SSH login"),
    ("PF-HOST-005", lambda d: d["users"][0].update(ssh_authorized_keys=[]), "declare the deploy user"),
    ("PF-HOST-005", lambda d: d["users"][0].update(lock_passwd=False), "no password"),
]


@pytest.mark.parametrize("rule, change, words", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_mistake_in_a_servers_user_data_fails_its_rule(pack, resources, rule, change, words):
    outcome = pack.analyze(edited(resources, change))
    # A firewall that drops nothing opens SSH, the data ports and the rest at once.
    assert rule in outcome.rules() and outcome.rules() <= {rule} | (FIREWALL_RULES if rule in FIREWALL_RULES else set()), \
        outcome.violations
    assert any(words in v.message for v in outcome.violations if v.rule == rule), outcome.violations
    assert all(v.level == "mandatory" for v in outcome.violations)


def test_a_narrower_admin_network_and_a_subset_of_the_edge_pass(pack, resources):
    narrower = script(FIREWALL, replace(f"icmp {ADMINS}", 'icmp "203.0.113.7/32 198.51.100.0/24"'))
    outcome = pack.analyze(edited(resources, narrower))
    assert outcome.mandatory() == [], outcome.violations


def test_user_data_unknown_at_preview_is_not_applicable(pack, resources):
    copies = copy.deepcopy(resources)
    user_data_of(copies).props["user_data"] = UNKNOWN
    outcome = pack.analyze(copies)
    assert not {"PF-HOST-001", "PF-HOST-003", "PF-HOST-005"} & outcome.rules(), outcome.violations
    assert "unknown at preview" in outcome.not_applicable["PF-HOST-005"]
