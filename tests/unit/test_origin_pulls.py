"""Zone-level authenticated origin pulls: the certificates the program generates, their renewal, and
the graph under mocks (the upload, the zone setting, every proxy demanding the client certificate,
the load balancer's health check on the health port). The handshakes themselves run against real
Caddy in tests/integration/test_origin_pulls.py."""

from __future__ import annotations

import copy
import datetime

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from components.generated import (
    _ClientCertificateProvider,
    certificate_authority,
    client_certificate,
    renewal_due,
)
from components.proxy import CLIENT_CA_FILE
from components.settings import SettingsError, parse_settings
from tests.mocks import DYNAMIC, build_stack
from tests.stack_config import CLOUD_SECRETS, stack_config

UPLOAD = "cloudflare:index/authenticatedOriginPullsCertificate:AuthenticatedOriginPullsCertificate"
ENABLED = "cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings"
CONTAINER = "docker:index/container:Container"
CLIENT_AUTH = "\t\tclient_auth {\n\t\t\tmode require_and_verify\n\t\t\ttrusted_ca_cert_file " + CLIENT_CA_FILE


def production(app_servers: int = 1, **edge) -> dict:
    raw = copy.deepcopy(stack_config("production"))
    raw["host"]["app_servers"] = app_servers
    raw["edge"].update(edge)
    return {**raw, **CLOUD_SECRETS}


@pytest.fixture(scope="module")
def one_server():
    return build_stack("production", production(), secret_keys=frozenset(CLOUD_SECRETS))


@pytest.fixture(scope="module")
def three():
    return build_stack("production", production(3), secret_keys=frozenset(CLOUD_SECRETS))


def sites(built) -> dict[str, object]:
    return {r.name: r for r in built.mocks.of_type(DYNAMIC) if r.inputs.get("role") == "proxy-sites"}


def test_the_client_certificate_is_signed_by_the_ca_and_made_for_client_auth():
    ca_pem, ca_key = certificate_authority("preflight origin pulls", days=3650)
    cert_pem, key_pem, not_after = client_certificate(ca_pem, ca_key, "cloudflare", days=365)
    ca, cert = x509.load_pem_x509_certificate(ca_pem.encode()), x509.load_pem_x509_certificate(cert_pem.encode())
    cert.verify_directly_issued_by(ca)  # raises when another key signed it
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.not_valid_after_utc == datetime.datetime.fromisoformat(not_after).replace(microsecond=0)
    lifetime = cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(days=364) < lifetime <= datetime.timedelta(days=365)
    assert "PRIVATE KEY" in key_pem
    other_ca, _ = certificate_authority("another zone", days=3650)
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises InvalidSignature or ValueError
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(other_ca.encode()))


def test_renewal_is_due_only_within_the_window_before_the_end():
    end = datetime.datetime(2027, 6, 30, tzinfo=datetime.UTC)
    assert not renewal_due(end.isoformat(), 30, now=end - datetime.timedelta(days=31))
    assert renewal_due(end.isoformat(), 30, now=end - datetime.timedelta(days=30))
    assert renewal_due(end.isoformat(), 30, now=end + datetime.timedelta(days=1))  # expired: renew too
    assert not renewal_due(None, 30)


def test_an_update_near_the_end_replaces_the_client_certificate_new_one_first():
    provider = _ClientCertificateProvider()
    spec = {"ca_cert_pem": "ca", "common_name": "cf", "days": 365, "renew_before_days": 30}
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=10)).isoformat()
    later = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=200)).isoformat()

    quiet = provider.diff("id", {**spec, "not_after": later}, spec)
    assert not quiet.changes
    due = provider.diff("id", {**spec, "not_after": soon}, spec)
    assert due.changes and due.replaces == ["not_after"] and due.delete_before_replace is False
    new_ca = provider.diff("id", {**spec, "not_after": later}, {**spec, "ca_cert_pem": "another ca"})
    assert new_ca.replaces == ["ca_cert_pem"] and new_ca.delete_before_replace is False


def test_a_renewal_window_as_long_as_the_certificate_is_refused_naming_both_settings():
    with pytest.raises(SettingsError) as refused:
        parse_settings("production", production(origin_pulls={"client_certificate_days": 60, "renew_before_days": 60}),
                       frozenset(CLOUD_SECRETS))
    [problem] = refused.value.problems
    assert "renew_before_days (60) must be shorter than client_certificate_days (60)" in problem
    assert "origin_pulls" in problem


def test_the_zone_gets_the_client_certificate_and_zone_level_pulls_on(one_server):
    [upload] = one_server.mocks.of_type(UPLOAD)
    [enabled] = one_server.mocks.of_type(ENABLED)
    zone = stack_config("production")["edge"]["zone_id"]
    assert upload.inputs["zoneId"] == enabled.inputs["zoneId"] == zone
    assert enabled.inputs["enabled"] is True and enabled.depends_on == (upload.name,)
    assert "privateKey" in upload.secret_inputs
    [client] = [r for r in one_server.mocks.of_type(DYNAMIC) if "renew_before_days" in r.inputs]
    assert client.inputs["days"] == 365 and client.inputs["renew_before_days"] == 30
    assert "ca_key_pem" in client.secret_inputs


def test_the_proxy_demands_the_client_certificate_once_cloudflare_presents_it(one_server):
    proxy = one_server.container("preflight-proxy")
    assert CLIENT_CA_FILE in {u["file"] for u in proxy.inputs["uploads"]}
    [blocks] = sites(one_server).values()
    template = blocks.inputs["template"]
    # The site and the catch-all for any other name a client asks for.
    assert template.count(CLIENT_AUTH) == 2 and "\nhttps:// {" in template
    assert {d for d in blocks.depends_on if "origin-pull" in d} == {
        "preflight-edge-origin-pull-certificate", "preflight-edge-origin-pulls"}
    # One server and no load balancer: no health port.
    assert {p["internal"] for p in proxy.inputs["ports"]} == {80, 443}
    assert ":8081" not in template


def test_every_application_server_demands_it_and_publishes_the_health_port_for_the_load_balancer(three):
    blocks = sites(three)
    assert sorted(blocks) == [f"preflight-proxy-app{i}-sites" for i in (1, 2, 3)]
    for name, resource in blocks.items():
        template = resource.inputs["template"]
        assert template.count(CLIENT_AUTH) == 2, name
        assert "http://api.example.com:8081 {\n\thandle /health {" in template
    for index in (1, 2, 3):
        ports = three.container(f"preflight-proxy-app{index}").inputs["ports"]
        assert {p["internal"] for p in ports} == {80, 443, 8081}


def test_local_asks_no_client_certificate():
    from tests.stack_config import stack_config as config

    local = build_stack("local", config("local"))
    assert not local.mocks.of_type(UPLOAD)
    [blocks] = sites(local).values()
    assert "client_auth" not in blocks.inputs["template"]
    assert CLIENT_CA_FILE not in {u["file"] for u in local.container("preflight-proxy").inputs["uploads"]}


def test_servers_you_have_behind_your_load_balancer_admit_the_health_port_from_the_private_network_only():
    from tests.unit.test_ssh_host import ssh_production

    built = build_stack("production", ssh_production(load_balancer_address="198.51.100.50"),
                        secret_keys=frozenset(CLOUD_SECRETS))
    user_data = {r.inputs["server"]: yaml.safe_load(r.inputs["user_data"]) for r in built.mocks.of_type(DYNAMIC)
                 if r.inputs.get("role") == "user-data"}
    filters = {server: {f["path"]: f["content"] for f in data["write_files"]}["/usr/local/sbin/preflight-edge-filter"]
               for server, data in user_data.items()}
    for server in ("app1", "app2"):
        assert "iptables -A PREFLIGHT-HEALTH -s 10.10.2.0/24 -j RETURN" in filters[server]
        assert "--ctorigdstport 8081 -j PREFLIGHT-HEALTH" in filters[server]
        assert 8081 in {p["internal"] for p in built.container(f"preflight-proxy-app{server[-1]}").inputs["ports"]}
    assert "PREFLIGHT-HEALTH" not in filters["data"]
    # Without a load balancer of yours, nothing changes in the user data.
    plain = build_stack("production", ssh_production(), secret_keys=frozenset(CLOUD_SECRETS))
    assert not any("PREFLIGHT-HEALTH" in (r.inputs.get("user_data") or "") for r in plain.mocks.of_type(DYNAMIC)
                   if r.inputs.get("role") == "user-data")
