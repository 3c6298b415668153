"""Servers you already have (`host.kind: ssh`): settings, the graph under mocks, their user data."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from components.cloud_init import PREPARED_MARKER, prepared_hash
from components.settings import SettingsError, parse_settings
from tests.mocks import DYNAMIC, build_stack
from tests.stack_config import CLOUD_SECRETS, stack_config

ADMIN_KEY = "ssh-ed25519 " + "A" * 68 + " ops"
SERVERS = [{"address": "198.51.100.10", "private_address": "10.10.1.10"},
           {"address": "198.51.100.11", "private_address": "10.10.2.11"},
           {"address": "2001:db8::12", "private_address": "10.10.2.12"}]


def ssh_production(**host) -> dict:
    raw = copy.deepcopy(stack_config("production"))
    raw["host"] = {"kind": "ssh", "servers": SERVERS, "ssh_keys": {"ops": ADMIN_KEY}, "admin_cidrs": ["203.0.113.0/24"],
                   "app_subnet": "10.10.2.0/24", "data_device": "/dev/disk/by-id/scsi-0HC_Volume_1001", **host}
    return {**raw, **CLOUD_SECRETS}


def problems(raw: dict) -> list[str]:
    with pytest.raises(SettingsError) as refused:
        parse_settings("production", raw, frozenset(CLOUD_SECRETS))
    return refused.value.problems


@pytest.fixture(scope="module")
def built():
    return build_stack("production", ssh_production(), secret_keys=frozenset(CLOUD_SECRETS))


def dynamic(built, key: str) -> list:
    return [r for r in built.mocks.of_type(DYNAMIC) if key in r.inputs]


def test_production_runs_on_servers_you_have():
    settings, _ = parse_settings("production", ssh_production(), frozenset(CLOUD_SECRETS))
    assert settings.host.kind == "ssh" and settings.host.multi_host


def test_several_servers_need_the_application_subnet():
    [problem] = problems(ssh_production(app_subnet=None))
    assert problem.startswith("preflight:host: several servers need app_subnet")


def test_a_load_balancer_in_front_of_one_server_is_refused():
    [problem] = problems(ssh_production(servers=SERVERS[:1], app_subnet=None, load_balancer_address="198.51.100.50"))
    assert "load_balancer_address is for several servers" in problem and "remove it" in problem


def test_an_application_server_outside_the_application_subnet_is_refused():
    [problem] = problems(ssh_production(app_subnet="10.10.3.0/24"))
    assert "must hold every application server's private_address" in problem and "10.10.2.11" in problem


def test_each_server_is_checked_before_anything_is_deployed_to_it(built):
    checks = {r.inputs["server"]: r for r in dynamic(built, "user_data_hash")}
    assert set(checks) == {"data", "app1", "app2"}
    assert checks["app2"].inputs["address"] == "2001:db8::12" and checks["data"].inputs["port"] == 22
    providers = {p.name: p.inputs for p in built.mocks.of_type("pulumi:providers:docker")}
    assert len(providers) == 3
    assert providers["preflight-host-app2-docker"]["host"] == "ssh://deploy@[2001:db8::12]"
    for name, inputs in providers.items():
        assert inputs["host"].startswith("ssh://deploy@")
        [key] = [o for o in json.loads(inputs["sshOpts"]) if o.startswith("KnownHostsCommand=")]
        # the mocks' public key names the key resource of that server
        assert key.endswith(name.removesuffix("-docker") + "-host-key")
    records = {r.inputs["server"]: r for r in dynamic(built, "user_data") if r.inputs.get("role") == "user-data"}
    for server, check in checks.items():
        assert check.inputs["user_data_hash"] == prepared_hash(records[server].inputs["user_data"])
        assert "user_data" in records[server].secret_inputs


def test_the_user_data_adds_a_host_firewall_and_the_preparation_marker(built):
    records = {r.inputs["server"]: yaml.safe_load(r.inputs["user_data"]) for r in dynamic(built, "user_data")}
    data, app = records["data"], records["app1"]
    files = {f["path"]: f["content"] for f in data["write_files"]}
    firewall = files["/usr/local/sbin/preflight-host-firewall"]
    assert 'apply iptables icmp "203.0.113.0/24" "173.245.48.0/20' in firewall
    assert "--dport 22 -s \"$cidr\" -j ACCEPT" in firewall
    assert "ls /dev/disk/by-id/scsi-0HC_Volume_1001" in files["/usr/local/sbin/preflight-mount-volume"]
    assert "! -s 10.10.2.0/24" in files["/usr/local/sbin/preflight-data-ports"]
    assert PREPARED_MARKER in files
    app_files = {f["path"] for f in app["write_files"]}
    assert "/usr/local/sbin/preflight-edge-filter" in app_files and "/usr/local/sbin/preflight-data-ports" not in app_files
    assert data["ssh_keys"]["ed25519_public"] != app["ssh_keys"]["ed25519_public"]  # a key of its own per server


def test_the_data_stays_on_the_first_server_and_the_edge_points_at_every_application_server(built):
    postgres = built.container("preflight-postgres")
    assert postgres.provider.split("::")[-2] == "preflight-host-docker"
    assert {p["ip"] for p in postgres.inputs["ports"]} == {"10.10.1.10"}
    api_hosts = {c.provider.split("::")[-2] for c in built.containers if c.name.startswith("preflight-api-app")
                 and "migrate" not in c.name}
    assert api_hosts == {"preflight-host-app1-docker", "preflight-host-app2-docker"}
    records = [(r.inputs["type"], r.inputs["content"]) for r in built.mocks.of_type("cloudflare:index/dnsRecord:DnsRecord")
               if r.inputs["name"] == "api.example.com"]
    assert sorted(records) == [("A", "198.51.100.11"), ("AAAA", "2001:db8::12")]
