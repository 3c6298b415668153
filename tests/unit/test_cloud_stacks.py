"""production and staging, built under Pulumi mocks from the shipped stack files: the Hetzner host,
the Cloudflare edge, the same platform components as local, and what differs between the two."""

from __future__ import annotations

import json

import pytest
import yaml

from components import cloudflare_ips
from components.settings import copied_secret_problems, parse_settings, stack_separation_problems
from tests.mocks import build_stack
from tests.stack_config import CLOUD_SECRETS as SECRETS
from tests.stack_config import stack_config


def built(stack: str):
    return build_stack(stack, {**stack_config(stack), **SECRETS}, secret_keys=frozenset(SECRETS))


@pytest.fixture(scope="module")
def production():
    return built("production")


@pytest.fixture(scope="module")
def staging():
    return built("staging")


def one(stack, typ: str):
    [resource] = stack.mocks.of_type(typ)
    return resource


def counts(stack) -> dict[str, int]:
    result: dict[str, int] = {}
    for r in stack.mocks.resources:
        result[r.type] = result.get(r.type, 0) + 1
    return result


def test_both_stacks_run_the_same_platform_on_a_hetzner_server(production, staging):
    for stack in (production, staging):
        names = sorted(c.name for c in stack.containers)
        assert [n for n in names if "-monitoring-" not in n] == [
            "preflight-api", "preflight-api-migrate", "preflight-backup", "preflight-postgres", "preflight-proxy",
            "preflight-redis", "preflight-worker"]
        assert len(names) == 7 + 7  # and the monitoring (tests/unit/test_monitoring_stack.py)
        provider = one(stack, "pulumi:providers:docker")
        assert provider.inputs["host"].startswith("ssh://deploy@")
        assert {c.provider.split("::")[-2] for c in stack.containers} == {provider.name}
    assert counts(production) == counts(staging)


def test_resource_counts_by_type(production):
    c = counts(production)
    assert {t: c[t] for t in c if t.startswith(("hcloud:", "cloudflare:"))} == {
        "hcloud:index/sshKey:SshKey": 1, "hcloud:index/firewall:Firewall": 1, "hcloud:index/network:Network": 1,
        "hcloud:index/networkSubnet:NetworkSubnet": 1, "hcloud:index/primaryIp:PrimaryIp": 2,
        "hcloud:index/volume:Volume": 1, "hcloud:index/server:Server": 1,
        "hcloud:index/volumeAttachment:VolumeAttachment": 1,
        "cloudflare:index/dnsRecord:DnsRecord": 2, "cloudflare:index/zoneSetting:ZoneSetting": 5,
        "cloudflare:index/originCaCertificate:OriginCaCertificate": 1, "cloudflare:index/ruleset:Ruleset": 1,
        "cloudflare:index/healthcheck:Healthcheck": 1, "cloudflare:index/notificationPolicy:NotificationPolicy": 1,
        "cloudflare:index/authenticatedOriginPullsCertificate:AuthenticatedOriginPullsCertificate": 1,
        "cloudflare:index/authenticatedOriginPullsSettings:AuthenticatedOriginPullsSettings": 1,
    }


def test_the_firewall_admits_ssh_from_admins_and_web_from_cloudflare_only(production):
    rules = one(production, "hcloud:index/firewall:Firewall").inputs["rules"]
    by_port = {r["port"]: r["sourceIps"] for r in rules}
    assert set(by_port) == {"22", "80", "443"} and all(r["direction"] == "in" for r in rules)
    assert by_port["22"] == ["203.0.113.0/24"]
    assert by_port["80"] == by_port["443"] == [*cloudflare_ips.IPV4, *cloudflare_ips.IPV6]


def test_the_server_is_hardened_and_in_the_private_network(production):
    server = one(production, "hcloud:index/server:Server").inputs
    assert server["userData"].startswith("#cloud-config\n")
    cloud_config = yaml.safe_load(server["userData"])
    assert cloud_config["disable_root"] is True and cloud_config["ssh_pwauth"] is False
    assert {"docker.io", "fail2ban", "unattended-upgrades"} <= set(cloud_config["packages"])
    [deploy] = cloud_config["users"]
    assert deploy["name"] == "deploy" and deploy["lock_passwd"] is True and len(deploy["ssh_authorized_keys"]) == 1
    files = {f["path"]: f["content"] for f in cloud_config["write_files"]}
    assert "PasswordAuthentication no\nKbdInteractiveAuthentication no\nAllowUsers deploy" in \
           files["/etc/ssh/preflight-hardening.conf"]
    assert json.loads(files["/etc/docker/daemon.json"])["data-root"] == "/srv/data/docker"  # on the volume
    assert "RequiresMountsFor=/srv/data" in files["/etc/systemd/system/docker.service.d/10-preflight-volume.conf"]
    assert server["networks"] == [{"networkId": server["networks"][0]["networkId"], "ip": "10.10.1.10"}]
    assert server["firewallIds"] and server["sshKeys"]
    assert server["labels"] == {"preflight-project": "preflight", "preflight-stack": "production", "preflight-role": "data"}


def test_every_ssh_connection_trusts_only_the_host_key_the_program_generated_for_the_server(production):
    server = one(production, "hcloud:index/server:Server")
    [key] = [r for r in production.mocks.generated("server")]
    public_key = f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{key.name}"  # what the mocks generate
    cloud_config = yaml.safe_load(server.inputs["userData"])
    assert "userData" in server.secret_inputs  # it carries the server's private host key
    assert cloud_config["ssh_keys"] == {"ed25519_private": "-----BEGIN OPENSSH PRIVATE KEY-----",
                                        "ed25519_public": public_key}
    assert cloud_config["ssh_genkeytypes"] == [] and cloud_config["ssh_deletekeys"] is True
    dynamic = production.mocks.of_type("pulumi-python:dynamic:Resource")
    [sites] = [r for r in dynamic if r.inputs.get("role") == "proxy-sites"]
    # Provider configuration reaches the provider JSON-encoded.
    for options in (json.loads(one(production, "pulumi:providers:docker").inputs["sshOpts"]), sites.inputs["ssh_options"]):
        assert isinstance(options, list)
        assert f"KnownHostsCommand=/bin/echo %H {public_key}" in options
        assert "StrictHostKeyChecking=yes" in options and "UserKnownHostsFile=/dev/null" in options
        assert not any("accept-new" in option for option in options)
    [wait] = [r for r in dynamic if "server_id" in r.inputs]
    assert wait.inputs["host_key"] == public_key


def test_production_keeps_data_and_addresses_and_staging_may_go(production, staging):
    for stack, kept in ((production, True), (staging, False)):
        server = one(stack, "hcloud:index/server:Server").inputs
        volume = one(stack, "hcloud:index/volume:Volume").inputs
        assert server["deleteProtection"] is kept and server["rebuildProtection"] is kept
        assert server["backups"] is kept
        assert volume["deleteProtection"] is kept
        for ip in stack.mocks.of_type("hcloud:index/primaryIp:PrimaryIp"):
            assert ip.inputs["autoDelete"] is False and ip.inputs["deleteProtection"] is kept
    assert one(production, "hcloud:index/server:Server").inputs["serverType"] == "cx32"
    assert one(staging, "hcloud:index/server:Server").inputs["serverType"] == "cx22"


def test_the_edge_forces_https_strict_tls_and_hsts(production):
    settings = {r.inputs["settingId"]: r.inputs["value"] for r in production.mocks.of_type(
        "cloudflare:index/zoneSetting:ZoneSetting")}
    assert settings["ssl"] == "strict" and settings["always_use_https"] == "on" and settings["tls_1_3"] == "on"
    assert settings["min_tls_version"] == "1.2"
    hsts = settings["security_header"]["strict_transport_security"]
    assert hsts["max_age"] == 31536000 and hsts["include_subdomains"] is True and hsts["enabled"] is True
    records = {(r.inputs["type"], r.inputs["name"]): r.inputs for r in production.mocks.of_type(
        "cloudflare:index/dnsRecord:DnsRecord")}
    assert set(records) == {("A", "api.example.com"), ("AAAA", "api.example.com")}
    assert all(r["proxied"] is True for r in records.values())
    assert records[("A", "api.example.com")]["content"] == "203.0.113.10"


def test_the_proxy_serves_the_origin_certificate_and_rate_limits_guard_the_api(production):
    origin = one(production, "cloudflare:index/originCaCertificate:OriginCaCertificate").inputs
    assert origin["hostnames"] == ["api.example.com"] and origin["requestType"] == "origin-ecc"
    assert "uploads" in production.container("preflight-proxy").secret_inputs
    [auth, writes] = one(production, "cloudflare:index/ruleset:Ruleset").inputs["rules"]
    assert 'starts_with(http.request.uri.path, "/auth")' in auth["expression"]
    assert auth["ratelimit"]["requestsPerPeriod"] == 20 and auth["action"] == "block"
    assert '"POST"' in writes["expression"] and 'http.host in {"api.example.com"}' in writes["expression"]


def test_public_health_is_checked_from_outside_and_pages_on_call(production, staging):
    check = one(production, "cloudflare:index/healthcheck:Healthcheck").inputs
    assert check["address"] == "api.example.com" and check["httpConfig"]["path"] == "/health"
    policy = one(production, "cloudflare:index/notificationPolicy:NotificationPolicy").inputs
    assert policy["mechanisms"]["emails"] == [{"id": "oncall@example.com"}]
    staging_policy = one(staging, "cloudflare:index/notificationPolicy:NotificationPolicy").inputs
    assert staging_policy["mechanisms"]["emails"] == [{"id": "staging-alerts@example.com"}]


def test_the_shipped_stack_files_keep_production_and_staging_apart():
    production_settings, _ = parse_settings("production", {**stack_config("production"), **SECRETS}, set(SECRETS))
    assert stack_separation_problems(production_settings, "staging", stack_config("staging")) == []


@pytest.mark.parametrize("change, words", [
    (lambda c: c.update(domain="example.com"), "preflight:domain: example.com is also production's domain"),
    (lambda c: c["host"].update(server_name="preflight-production-1"), "preflight:host.server_name"),
    (lambda c: c["host"].update(network_name="preflight-production"), "preflight:host.network_name"),
    # The same repository, one inside the other, or the same place spelt differently (issue 33, item 8).
    (lambda c: c["backup"]["repository"].update(url="s3:https://fsn1.your-objectstorage.com/example-backups/"
                                                    "preflight-production"), "preflight:backup.repository.url"),
    (lambda c: c["backup"]["repository"].update(url="s3:https://fsn1.your-objectstorage.com/example-backups"),
     "preflight:backup.repository.url"),
    (lambda c: c["backup"]["repository"].update(url="s3:https://FSN1.your-objectstorage.com/example-backups/"
                                                    "preflight-production/staging"), "preflight:backup.repository.url"),
])
def test_a_staging_stack_that_shares_with_production_is_refused(change, words):
    staging_raw = {**stack_config("staging"), **SECRETS}
    change(staging_raw)
    settings, _ = parse_settings("staging", staging_raw, set(SECRETS))
    problems = stack_separation_problems(settings, "production", stack_config("production"))
    assert any(p.startswith(words) for p in problems), problems


@pytest.mark.parametrize("url", ["s3:https://fsn1.your-objectstorage.com/example-backups/preflight-production-old",
                                 "s3:https://nbg1.your-objectstorage.com/example-backups/preflight-production",
                                 "s3:https://fsn1.your-objectstorage.com/staging-backups/preflight-production"])
def test_a_staging_repository_of_its_own_is_kept(url):
    staging_raw = {**stack_config("staging"), **SECRETS}
    staging_raw["backup"]["repository"]["url"] = url
    settings, _ = parse_settings("staging", staging_raw, set(SECRETS))
    assert stack_separation_problems(settings, "production", stack_config("production")) == []


def test_servers_you_have_shared_between_stacks_are_refused():
    from tests.unit.test_ssh_host import SERVERS, ssh_production

    production = ssh_production()
    staging_raw = {**ssh_production(), **{k: v for k, v in stack_config("staging").items() if k != "host"}, **SECRETS}
    staging_raw["host"] = {**production["host"], "servers": [{**SERVERS[0], "address": "198.51.100.90"}, SERVERS[1]],
                           "load_balancer_address": "198.51.100.50"}
    settings, _ = parse_settings("staging", staging_raw, set(SECRETS))
    other = {**production, "host": {**production["host"], "load_balancer_address": "198.51.100.50"}}
    [problem] = stack_separation_problems(settings, "production", other)
    assert problem.startswith("preflight:host.servers: 198.51.100.11, 198.51.100.50 is also a server of production")


def test_a_secret_copied_between_stack_files_is_refused():
    blob = {"secure": "v1:abc:def"}
    problems = copied_secret_problems({"config": {"preflight:sentryDsn": blob}}, "production",
                                      {"config": {"preflight:sentryDsn": blob}})
    assert problems == ["preflight:sentryDsn: the same encrypted value as in production; set this stack's own with "
                        "`pulumi config set --secret preflight:sentryDsn <value>`"]


def test_cloud_stacks_need_a_hetzner_host_an_edge_and_monitoring():
    from components.settings import SettingsError
    raw = {**stack_config("production"), **SECRETS}
    del raw["monitoring"]
    with pytest.raises(SettingsError) as caught:
        parse_settings("production", raw, set(SECRETS))
    assert caught.value.problems == ["preflight:monitoring.on_call_email: production needs an on-call address for "
                                     "Cloudflare's health checks of the public URLs: set preflight:monitoring.on_call_email"]


def test_ssh_open_to_the_world_is_refused():
    from components.settings import SettingsError
    raw = {**stack_config("production"), **SECRETS}
    raw["host"]["admin_cidrs"] = ["0.0.0.0/0"]
    with pytest.raises(SettingsError) as caught:
        parse_settings("production", raw, set(SECRETS))
    assert "admits SSH from anywhere" in caught.value.problems[0]


def test_backups_go_off_the_server_hourly_in_production_and_daily_in_staging(production, staging):
    for stack, interval in ((production, "3600"), (staging, "86400")):
        job = stack.container("preflight-backup").inputs
        env = dict(e.split("=", 1) for e in job["envs"])
        assert env["RESTIC_REPOSITORY"].startswith("s3:https://fsn1.your-objectstorage.com/example-backups/preflight-")
        assert env["BACKUP_INTERVAL_S"] == interval
        assert env["AWS_ACCESS_KEY_ID_FILE"] == "/run/secrets/backup_s3_access_key_id"
        assert "uploads" in stack.container("preflight-backup").secret_inputs
        # Nothing of the repository stays on the server: the job's only volume is where it leaves its figures.
        assert [v["containerPath"] for v in job.get("volumes") or []] == ["/var/lib/preflight-metrics"]
