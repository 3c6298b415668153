"""Settings checks of issue 33: kinds of mistakes refused before anything is registered, each
naming the setting and the fix."""

from __future__ import annotations

import pytest

from components.check_commands import cannot_fail
from components.settings import SettingsError, parse_settings
from tests.stack_config import CLOUD_SECRETS, stack_config


def parsed(raw, stack):
    secrets = {} if stack == "local" else CLOUD_SECRETS
    return parse_settings(stack, {**raw, **secrets}, set(secrets))


def problems(raw, stack="local"):
    with pytest.raises(SettingsError) as caught:
        parsed(raw, stack)
    return caught.value.problems


def valid(raw, stack="local"):
    return parsed(raw, stack)[0]


@pytest.mark.parametrize("command", [["true"], ["exit", "0"], ["echo", "ok"], ["sleep", "1"], ["/bin/true"],
                                     ["sh", "-c", "curl -f http://127.0.0.1:8000/health || true"],
                                     ["sh", "-c", "curl -f http://127.0.0.1:8000/health; exit 0"],
                                     ["bash", "-c", "exit 0; curl -f http://127.0.0.1:8000/health"]])
def test_a_service_healthcheck_that_cannot_fail_is_refused(command):
    raw = stack_config("local")
    raw["services"]["api"]["healthcheck"] = {"command": command}
    [problem] = problems(raw)
    assert problem.startswith("preflight:services.api.healthcheck.command:") and "tests nothing" in problem


def test_the_database_and_proxy_healthchecks_are_judged_too():
    raw = stack_config("local")
    raw["database"] = {"healthcheck_command": ["sh", "-c", "pg_isready | true"]}
    raw["proxy"] = {"healthcheck": {"command": [":"]}}
    assert [p.split(":", 2)[1] for p in problems(raw)] == ["database.healthcheck_command", "proxy.healthcheck.command"]


@pytest.mark.parametrize("command", [["pg_isready"], ["sh", "-c", "pg_isready && echo ok"],
                                     ["sh", "-ec", "pg_isready; echo done"], ["sh", "-c", "set -e; pg_isready; true"],
                                     ["sh", "-c", "false || pg_isready"], ["exit", "1"]])
def test_checks_that_can_fail_are_kept(command):
    raw = stack_config("local")
    raw["database"] = {"healthcheck_command": command}
    assert valid(raw).database.healthcheck_command == command


def test_the_platforms_own_checks_can_fail():
    from components.settings import ProxySettings

    assert not cannot_fail(ProxySettings().healthcheck.command)
    assert not cannot_fail(["sh", "-c", 'redis-cli -a "$(cat /run/secrets/redis_password)" --no-auth-warning ping '
                                        "| grep -q PONG"])


@pytest.mark.parametrize("change, at", [
    (lambda raw: raw["services"]["api"]["env"].update(DATABASE_URL="postgres://app:hunter2@db:5432/app"),
     "services.api.env.DATABASE_URL"),
    (lambda raw: raw["services"]["api"].update(command=["python3", "/app/app.py", "serve", "--db-password=hunter2"]),
     "services.api.command"),
    (lambda raw: raw["services"]["api"].update(migrate_command=["sh", "-c", "PGPASSWORD=hunter2 migrate up"]),
     "services.api.migrate_command"),
    (lambda raw: raw["services"]["api"]["healthcheck"].update(
        command=["curl", "-f", "https://admin:hunter2@127.0.0.1:8000/health"]), "services.api.healthcheck.command"),
    (lambda raw: raw["backup"]["repository"].update(url="s3:https://AKIA1:hunter2@fsn1.example.com/b/p"),
     "backup.repository.url"),
])
def test_a_secret_written_in_any_setting_is_refused(change, at):
    raw = stack_config("production")
    change(raw)
    [problem] = problems(raw, "production")
    assert problem.startswith(f"preflight:{at}:") and "preflight:secrets" in problem, problem
    assert "hunter2" not in problem


def test_references_and_urls_without_passwords_are_kept():
    raw = stack_config("production")
    raw["services"]["api"]["command"] = ["python3", "/app/app.py", "serve", "--password-file", "/run/secrets/x"]
    raw["services"]["api"]["env"]["SENTRY_URL"] = "https://public@sentry.example.com/1"
    raw["services"]["api"]["env"]["UPSTREAM"] = "ssh://deploy@203.0.113.10"
    assert valid(raw, "production").services["api"].env["UPSTREAM"] == "ssh://deploy@203.0.113.10"


@pytest.mark.parametrize("url", ["s3:http://fsn1.your-objectstorage.com/example-backups/p", "s3:http://203.0.113.7:9000/b/p"])
def test_a_backup_repository_in_plain_http_is_refused(url):
    raw = stack_config("production")
    raw["backup"]["repository"]["url"] = url
    [problem] = problems(raw, "production")
    assert problem.startswith("preflight:backup.repository.url:") and "plain HTTP" in problem and "s3:https://" in problem


def test_a_backup_repository_on_the_private_network_or_over_https_is_kept():
    raw = stack_config("production")
    raw["backup"]["repository"]["url"] = "s3:http://10.250.0.1:9000/rehearsal-backups/production"  # the rehearsal's
    assert valid(raw, "production").backup.repository.url.startswith("s3:http://10.250.0.1")


@pytest.mark.parametrize("policy, words", [("default-src *", "default-src *"), ("default-src 'self'; script-src https:",
                                                                                  "script-src https:"), ("  ", "give one")])
def test_a_content_security_policy_with_a_wildcard_or_none_is_refused(policy, words):
    raw = stack_config("local")
    raw["proxy"] = {"content_security_policy": policy}
    [problem] = problems(raw)
    assert problem.startswith("preflight:proxy.content_security_policy:") and words in problem


def test_a_content_security_policy_naming_its_sources_is_kept():
    raw = stack_config("local")
    raw["proxy"] = {"content_security_policy": "default-src 'self'; img-src 'self' data: https://cdn.example.com"}
    assert "cdn.example.com" in valid(raw).proxy.content_security_policy


@pytest.mark.parametrize("cache, monitoring, why", [
    ({"holds_data": True, "maxmemory_policy": "allkeys-lru"}, None, "holds_data is set"),
    ({"maxmemory_policy": "volatile-lfu"}, {"queues": [{"name": "jobs"}]}, "monitoring.queues"),
])
def test_redis_holding_data_with_an_evicting_policy_is_refused(cache, monitoring, why):
    raw = stack_config("local")
    raw["cache"] = cache
    if monitoring:
        raw["monitoring"] = {**raw.get("monitoring", {}), **monitoring}
    [problem] = problems(raw)
    assert problem.startswith("preflight:cache.maxmemory_policy:") and why in problem and "noeviction" in problem


def test_a_cache_may_evict_and_data_may_stay_without_eviction():
    raw = stack_config("local")
    raw["cache"] = {"maxmemory_policy": "allkeys-lru"}
    assert valid(raw).cache.maxmemory_policy == "allkeys-lru"
    raw["cache"] = {"holds_data": True}
    assert valid(raw).cache.maxmemory_policy == "noeviction"


SCHEDULERS = [("scheduler", ["python3", "/app/app.py", "run"]), ("jobs", ["celery", "-A", "app", "beat"]),
              ("tasks", ["supercronic", "/etc/crontab"]), ("clock", ["bundle", "exec", "clockwork", "clock.rb"])]


@pytest.mark.parametrize("name, command", SCHEDULERS)
def test_a_scheduler_on_every_application_server_is_refused(name, command):
    raw = stack_config("production")
    raw["host"]["app_servers"] = 2
    raw["services"][name] = {"image": "ghcr.io/example/api:1.4.2", "command": command,
                             "healthcheck": {"command": ["python3", "/app/app.py", "check"]}}
    [problem] = problems(raw, "production")
    assert problem.startswith(f"preflight:services.{name}.placement:") and "one_app_server" in problem


@pytest.mark.parametrize("command", [["java", "-jar", "/app/micronaut-app.jar"], ["python3", "/app/app.py", "heartbeat"],
                                     ["python3", "/app/app.py", "worker"]])
def test_services_that_schedule_nothing_may_run_everywhere(command):
    raw = stack_config("production")
    raw["host"]["app_servers"] = 2
    raw["services"]["tasks"] = {"image": "ghcr.io/example/api:1.4.2", "command": command,
                                "healthcheck": {"command": ["python3", "/app/app.py", "check"]}}
    assert valid(raw, "production").services["tasks"].placement == "every_app_server"


@pytest.mark.parametrize("app_servers, placement", [(2, "one_app_server"), (1, "every_app_server")])
def test_a_scheduler_on_one_server_is_kept(app_servers, placement):
    raw = stack_config("production")
    raw["host"]["app_servers"] = app_servers
    raw["services"]["scheduler"] = {"image": "ghcr.io/example/api:1.4.2", "placement": placement,
                                    "healthcheck": {"command": ["python3", "/app/app.py", "check"]}}
    assert valid(raw, "production").services["scheduler"].placement == placement


@pytest.mark.parametrize("location, zone", [("ash", "eu-central"), ("fsn1", "us-east"), ("sin", "us-west")])
def test_a_location_outside_the_network_zone_is_refused(location, zone):
    raw = stack_config("production")
    raw["host"].update(location=location, network_zone=zone)
    [problem] = problems(raw, "production")
    assert problem.startswith("preflight:host:") and f"location {location}" in problem and "network_zone" in problem


@pytest.mark.parametrize("location, zone", [("nbg1", "eu-central"), ("hel1", "eu-central"), ("ash", "us-east"),
                                            ("hil", "us-west"), ("sin", "ap-southeast")])
def test_a_location_in_its_network_zone_is_kept(location, zone):
    raw = stack_config("production")
    raw["host"].update(location=location, network_zone=zone)
    assert valid(raw, "production").host.location == location


def ssh_host(memory_mb=None):
    servers = [{"address": "198.51.100.10", "private_address": "10.10.1.10", "memory_mb": memory_mb},
               {"address": "198.51.100.11", "private_address": "10.10.2.11"}]
    return {"kind": "ssh", "servers": servers, "ssh_keys": {"ops": "ssh-ed25519 " + "A" * 68 + " ops"},
            "admin_cidrs": ["203.0.113.0/24"], "app_subnet": "10.10.2.0/24"}


@pytest.mark.parametrize("host, at, words", [
    ({"server_type": "cx22"}, "host.server_type", "more than its 4096 MB less 512 MB"),
    ({"app_servers": 2, "app_server_type": "cpx11"}, "host.app_server_type", "preflight-production-1-app1 (cpx11)"),
    (None, "host.servers.0.memory_mb", "data (198.51.100.10) may use 3360 MB"),
])
def test_containers_that_do_not_fit_their_server_are_refused(host, at, words):
    raw = stack_config("production")
    if host is None:
        raw["host"] = ssh_host(memory_mb=2048)
    else:
        raw["host"].update(host)
    [problem] = problems(raw, "production")
    assert problem.startswith(f"preflight:{at}:") and words in problem, problem


@pytest.mark.parametrize("host", [{"server_type": "cx42"}, {"server_type": "ccx99"}, {"app_servers": 3}, "ssh-unknown",
                                  "ssh-large"])
def test_containers_that_fit_or_a_memory_not_known_are_kept(host):
    raw = stack_config("production")
    if host == "ssh-unknown":
        raw["host"] = ssh_host()  # memory_mb not declared: not checked
    elif host == "ssh-large":
        raw["host"] = ssh_host(memory_mb=8192)
    else:
        raw["host"].update(host)
    assert valid(raw, "production").host.kind in ("hetzner", "ssh")


@pytest.mark.parametrize("change, words", [
    ({"services": {"api": {"processes": 8}}}, "186 connections (api 20 x 8 processes x 1 servers"),
    ({"host": {"app_servers": 3}, "database": {"max_connections": 150}}, "api 20 x 1 processes x 3 servers"),
])
def test_pools_above_80_percent_of_max_connections_are_refused(change, words):
    raw = stack_config("production")
    for section, values in change.items():
        if section == "services":
            raw["services"]["api"].update(values["api"])
        else:
            raw[section].update(values)
    [problem] = problems(raw, "production")
    assert problem.startswith("preflight:database.max_connections:") and words in problem, problem
    assert "raise max_connections to at least" in problem


def test_pools_within_80_percent_are_kept():
    raw = stack_config("production")
    raw["services"]["api"]["processes"] = 4  # 80 + 20 + 6 = 106 <= 160
    raw["host"]["app_servers"] = 2  # (80 + 20) x 2 + 6 = 206 > 160: then max_connections must grow
    raw["database"]["max_connections"] = 260
    assert valid(raw, "production").services["api"].processes == 4


MAIL = {"spf": "v=spf1 include:_spf.mail.example.net -all", "dkim": {"s1": "v=DKIM1; k=rsa; p=MIIBIjANBgkq"},
        "dmarc_report_to": "mailto:dmarc@example.com"}


def sending(raw, address="noreply@example.com"):
    raw["services"]["api"]["env"]["MAIL_FROM"] = address
    return raw


def test_a_service_sending_from_the_domain_without_mail_records_is_refused():
    [problem] = problems(sending(stack_config("production")), "production")
    assert problem.startswith("preflight:edge.mail: api sends mail from example.com") and "DMARC" in problem


@pytest.mark.parametrize("address", ["noreply@example.org", "Preflight <noreply@mail.example.net>"])
def test_mail_from_another_domain_needs_no_records_here(address):
    assert valid(sending(stack_config("production"), address), "production").edge.mail is None


@pytest.mark.parametrize("mail, words", [({**MAIL, "spf": "v=spf1 include:_spf.mail.example.net +all"}, "edge.mail.spf"),
                                         ({**MAIL, "dkim": {"s1": "k=rsa"}}, "is not a key"),
                                         ({**MAIL, "dmarc_policy": "none"}, "edge.mail.dmarc_policy")])
def test_weak_mail_records_are_refused(mail, words):
    raw = sending(stack_config("production"))
    raw["edge"]["mail"] = mail
    [problem] = problems(raw, "production")
    assert words in problem, problem


def test_the_edge_declares_spf_dkim_and_dmarc():
    from tests.mocks import build_stack

    raw = sending(stack_config("production"))
    raw["edge"]["mail"] = MAIL
    built = build_stack("production", {**raw, **CLOUD_SECRETS}, secret_keys=frozenset(CLOUD_SECRETS))
    txt = {r.inputs["name"]: r.inputs["content"] for r in built.mocks.of_type("cloudflare:index/dnsRecord:DnsRecord")
           if r.inputs["type"] == "TXT"}
    assert txt == {"example.com": MAIL["spf"], "s1._domainkey.example.com": MAIL["dkim"]["s1"],
                   "_dmarc.example.com": "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"}
