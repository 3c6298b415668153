"""The graph of the shipped local stack, built under Pulumi mocks."""

from __future__ import annotations

import pytest

from components.containers import LOG_ROTATION, docker_cpus, go_duration
from tests.mocks import DYNAMIC, build_stack
from tests.stack_config import stack_config

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def local():
    return build_stack("local", stack_config("local"), secret_outputs=lambda p: {
        "database_url": p.database.url,
        "redis_url": p.cache.url,
        "jwt_secret": p.secrets.value("jwt_secret"),
        "postgres_password": p.secrets.value("postgres_password"),
        "tls_key": p.certificate.key_pem,
    })


def long_running(stack):
    return [c for c in stack.containers if c.inputs.get("mustRun")]


def test_expected_containers(local):
    names = sorted(c.name for c in local.containers if "-monitoring-" not in c.name)  # test_monitoring_stack.py
    assert names == ["preflight-api", "preflight-api-migrate", "preflight-backup", "preflight-postgres",
                     "preflight-proxy", "preflight-redis"]


@pytest.mark.parametrize("name", ["preflight-api", "preflight-backup", "preflight-postgres", "preflight-proxy",
                                  "preflight-redis"])
def test_every_long_running_container_has_the_baseline(local, name):
    inputs = local.container(name).inputs
    assert inputs["healthcheck"]["tests"][0] == "CMD" and len(inputs["healthcheck"]["tests"]) > 1
    assert inputs["memory"] > 0 and inputs["memorySwap"] == inputs["memory"]
    assert float(inputs["cpus"]) > 0
    assert inputs["restart"] in ("always", "unless-stopped", "on-failure")
    assert inputs["logDriver"] == "json-file" and inputs["logOpts"] == LOG_ROTATION
    assert inputs["wait"] is True and inputs["waitTimeout"] > 0
    assert "no-new-privileges:true" in inputs["securityOpts"]
    assert not inputs.get("privileged")


def test_baseline_covers_every_long_running_container(local):
    assert len([c for c in long_running(local) if '-monitoring-' not in c.name]) == 5


@pytest.mark.parametrize("name, alias", [("preflight-postgres", "postgres"), ("preflight-redis", "redis")])
def test_data_services_publish_no_port_and_sit_only_on_the_internal_network(local, name, alias):
    inputs = local.container(name).inputs
    assert not inputs.get("ports")
    [network] = inputs["networksAdvanced"]
    assert network["name"] == "preflight-host-internal" and network["aliases"] == [alias]
    internal = local.mocks.named("preflight-host-internal", "docker:index/network:Network")
    assert internal.inputs["internal"] is True


def test_only_the_proxy_publishes_ports(local):
    publishing = [c.name for c in local.containers if c.inputs.get("ports")]
    assert publishing == ["preflight-proxy"]
    ports = local.container("preflight-proxy").inputs["ports"]
    assert {(p["internal"], p["external"], p["ip"]) for p in ports} == {(80, 8080, "127.0.0.1"), (443, 8443, "127.0.0.1")}


def test_api_is_on_both_networks_and_routed_by_its_container_name(local):
    attached = {n["name"]: n.get("aliases") for n in local.container("preflight-api").inputs["networksAdvanced"]}
    # Other services find it as `api` on the internal network; on the edge network it shares no name
    # with another container, so the proxy reaches exactly the container it was switched to.
    assert attached == {"preflight-host-internal": ["api"], "preflight-host-edge": None}
    [sites] = [r for r in local.mocks.of_type(DYNAMIC) if r.inputs.get("role") == "proxy-sites"]
    assert "reverse_proxy @upstream:api@ {" in sites.inputs["template"]
    assert sites.inputs["upstreams"] == {"api": "preflight-api-0000000:8000"}
    assert sites.inputs["container"] == "preflight-proxy-0000000"
    assert "import /etc/preflight/sites.caddy" in local.platform.proxy.caddyfile
    assert "reverse_proxy" not in local.platform.proxy.caddyfile
    assert local.platform.urls == {"api": "https://api.preflight.localhost:8443/"}


def test_the_site_blocks_switch_after_the_new_containers_and_before_the_old_ones_go(local):
    [sites] = [r for r in local.mocks.of_type(DYNAMIC) if r.inputs.get("role") == "proxy-sites"]
    assert {"preflight-api"} <= set(sites.depends_on)


def test_secrets_are_pulumi_secrets(local):
    assert local.secret_flags == {"database_url": True, "redis_url": True, "jwt_secret": True,
                                  "postgres_password": True, "tls_key": True}


def test_secrets_reach_containers_as_files_not_env_values(local):
    api = local.container("preflight-api").inputs
    envs = api["envs"]
    assert "JWT_SECRET_FILE=/run/secrets/jwt_secret" in envs
    assert "DATABASE_URL_FILE=/run/secrets/database_url" in envs
    assert not any("P" * 48 in e or "P" * 64 in e for e in envs), "a generated secret leaked into env"
    uploaded = {u["file"] for u in api["uploads"]}
    assert uploaded == {"/run/secrets/jwt_secret", "/run/secrets/database_url", "/run/secrets/redis_url"}
    assert "uploads" in local.container("preflight-api").secret_inputs, "uploaded secrets must stay Pulumi secrets"
    postgres = local.container("preflight-postgres").inputs
    assert "POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password" in postgres["envs"]
    assert not any("PASSWORD=" in e and "_FILE" not in e for e in postgres["envs"])
    assert "uploads" in local.container("preflight-postgres").secret_inputs
    assert "uploads" in local.container("preflight-redis").secret_inputs
    assert "uploads" in local.container("preflight-proxy").secret_inputs  # the TLS private key


def test_redis_password_never_on_the_command_line(local):
    redis = local.container("preflight-redis").inputs
    assert redis["command"] == ["redis-server", "/etc/preflight/redis.conf"]
    assert "P" * 48 not in " ".join(redis["healthcheck"]["tests"])


def test_generated_secrets_are_long_and_url_safe(local):
    passwords = {r.name: r.inputs for r in local.mocks.generated("length")}
    assert set(passwords) == {"preflight-secrets-jwt_secret", "preflight-secrets-postgres_password",
                              "preflight-secrets-redis_password", "preflight-secrets-backup_password"}
    assert all(p["length"] >= 32 for p in passwords.values())


def test_data_lives_on_named_volumes(local):
    volumes = {v["volumeName"]: v["containerPath"] for c in local.containers for v in c.inputs.get("volumes", [])
               if "-monitoring-" not in c.name and "volumeName" in v}
    assert volumes == {"preflight-postgres-data": "/var/lib/postgresql/data", "preflight-redis-data": "/data",
                       "preflight-backup-repository": "/repo", "preflight-job-metrics": "/var/lib/preflight-metrics"}


def test_migrations_are_a_one_shot_job_that_gates_the_release(local):
    job = local.container("preflight-api-migrate").inputs
    assert job["command"] == ["python3", "/app/app.py", "migrate"]
    assert job["mustRun"] is False and job["attach"] is True and job["restart"] == "no"
    assert "PREFLIGHT_MIGRATIONS=ok" in local.container("preflight-api").inputs["envs"]


def test_every_docker_resource_uses_the_host_provider(local):
    docker_resources = [r for r in local.mocks.resources if r.type.startswith("docker:index/")]
    assert docker_resources and all("preflight-host-docker" in r.provider for r in docker_resources)


def test_local_certificate_covers_the_public_hostnames(local):
    [cert] = local.mocks.generated("hostnames")
    assert cert.inputs["hostnames"] == ["api.preflight.localhost"]


@pytest.mark.parametrize("cpus, as_read_back", [(1.0, "1.0"), (0.5, "0.5"), (0.25, "0.25"), (2, "2.0"), (1.5, "1.5"),
                                                (0.125, "0.125")])
def test_cpu_limits_are_written_as_the_provider_reads_them_back(cpus, as_read_back):
    # Anything else shows a diff on every preview (seen with "1" against the engine's "1.0").
    assert docker_cpus(cpus) == as_read_back


@pytest.mark.parametrize("seconds, as_read_back", [(5, "5s"), (60, "1m0s"), (900, "15m0s"), (3700, "1h1m40s")])
def test_healthcheck_durations_are_written_as_docker_reads_them_back(seconds, as_read_back):
    assert go_duration(seconds) == as_read_back


def test_redis_is_a_cache_unless_config_says_it_holds_data(local):
    job = local.container("preflight-backup").inputs
    assert [v["containerPath"] for v in job["volumes"]] == ["/repo", "/var/lib/preflight-metrics"]
    raw = stack_config("local")
    raw["cache"] = {**raw.get("cache", {}), "holds_data": True}
    job = build_stack("local", raw).container("preflight-backup").inputs
    assert {"volumeName": "preflight-redis-data", "containerPath": "/redis", "readOnly": True} in job["volumes"]
    assert "BACKUP_EXTRA_PATHS=/redis" in job["envs"]
