"""The monitoring containers of the shipped stacks, built under Pulumi mocks; the scrape and probe
configs as the pure functions render them."""

from __future__ import annotations

import pytest
import yaml

from components.monitoring.scrape import ProbedRoute, blackbox_config, prometheus_config
from tests.mocks import build_stack
from tests.stack_config import CLOUD_SECRETS, stack_config

MONITORING = ["alertmanager", "blackbox-exporter", "container-exporter", "node-exporter", "postgres-exporter",
              "prometheus", "redis-exporter"]


@pytest.fixture(scope="module")
def local():
    return build_stack("local", stack_config("local"))


def monitoring_containers(stack) -> dict[str, dict]:
    return {c.name.removeprefix("preflight-monitoring-"): c.inputs for c in stack.containers
            if c.name.startswith("preflight-monitoring-")}


def test_local_runs_prometheus_alertmanager_and_the_exporters_by_default(local):
    assert sorted(monitoring_containers(local)) == MONITORING


def test_nothing_of_the_monitoring_is_published_and_each_has_the_baseline(local):
    for name, inputs in monitoring_containers(local).items():
        assert not inputs.get("ports"), name
        assert inputs["memory"] > 0 and inputs["memorySwap"] == inputs["memory"], name
        assert inputs["healthcheck"]["tests"][0] == "CMD", name
        assert inputs["restart"] == "unless-stopped" and inputs["logDriver"] == "json-file", name


def test_only_the_container_exporter_reads_the_docker_socket_and_read_only(local):
    with_socket = {name: [v for v in inputs.get("volumes") or [] if v.get("hostPath") == "/var/run/docker.sock"]
                   for name, inputs in monitoring_containers(local).items()}
    assert {name for name, volumes in with_socket.items() if volumes} == {"container-exporter"}
    assert all(v["readOnly"] for v in with_socket["container-exporter"])


def test_the_proxy_serves_request_metrics_on_a_port_it_does_not_publish(local):
    proxy = local.container("preflight-proxy").inputs
    published = {p["internal"] for p in proxy["ports"]}
    assert 9180 not in published
    caddyfile = next(u["content"] for u in proxy["uploads"] if u["file"].endswith("/Caddyfile"))
    assert "http://:9180 {\n\tmetrics /metrics\n}" in caddyfile


def test_routes_are_probed_through_the_proxy_with_their_name_and_the_stacks_certificate():
    route = ProbedRoute("api", "api.example.com", "/health")
    config = prometheus_config(stack="production", scrape_interval_s=15, proxies=["preflight-proxy"], routes=[route])
    [routes] = [job for job in config["scrape_configs"] if job["job_name"] == "routes"]
    assert routes["static_configs"] == [{"targets": ["https://preflight-proxy:443/health"],
                                         "labels": {"route": "api", "module": "route_api", "hostname": "api.example.com"}}]
    module = blackbox_config([route], verify_with_ca=True, client_certificate=True)["modules"]["route_api"]["http"]
    assert module["headers"] == {"Host": "api.example.com"}
    assert module["tls_config"]["server_name"] == "api.example.com"
    assert {"ca_file", "cert_file", "key_file"} <= set(module["tls_config"])
    yaml.safe_dump(config)  # renders


def test_production_monitoring_sends_to_its_receiver_and_keeps_the_token_secret():
    production = build_stack("production", {**stack_config("production"), **CLOUD_SECRETS},
                             secret_keys=frozenset(CLOUD_SECRETS))
    alertmanager = production.container("preflight-monitoring-alertmanager")
    assert "uploads" in alertmanager.secret_inputs
    token = CLOUD_SECRETS["alertsSlackUrl"]
    assert token not in str(production.container("preflight-monitoring-prometheus").inputs)


def test_servers_whose_proxies_the_monitoring_cannot_reach_get_no_route_alert_that_would_page_forever():
    raw = {**stack_config("production"), **CLOUD_SECRETS}
    raw["host"] = {**raw["host"], "app_servers": 2}
    built = build_stack("production", raw, secret_keys=frozenset(CLOUD_SECRETS))
    prometheus = built.container("preflight-monitoring-prometheus").inputs
    rules = next(u["content"] for u in prometheus["uploads"] if u["file"].endswith("rules.yml"))
    config = yaml.safe_load(next(u["content"] for u in prometheus["uploads"] if u["file"].endswith("prometheus.yml")))
    assert 'job="routes", route=' not in rules  # no "route not probed" for routes nothing can probe
    assert [job["static_configs"] for job in config["scrape_configs"] if job["job_name"] == "routes"] == [[]]
