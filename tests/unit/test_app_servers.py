"""Growing past one server (host.app_servers): the graph at N = 1, 2, 3 under mocks, built from the
shipped production stack file with only app_servers changed."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import yaml

from components.settings import SettingsError, parse_settings
from tests.mocks import build_stack
from tests.stack_config import CLOUD_SECRETS as SECRETS
from tests.stack_config import stack_config

CONTAINER = "docker:index/container:Container"
SERVER = "hcloud:index/server:Server"
DATA_IP, APP_SUBNET = "10.10.1.10", "10.10.2.0/24"


def production_with(app_servers: int, **services) -> dict:
    raw = copy.deepcopy(stack_config("production"))
    raw["host"]["app_servers"] = app_servers
    raw["services"].update(services)
    return {**raw, **SECRETS}


@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda n: f"N={n}")
def stack(request):
    return request.param, build_stack("production", production_with(request.param), secret_keys=frozenset(SECRETS))


@pytest.fixture(scope="module")
def three():
    return build_stack("production", production_with(3), secret_keys=frozenset(SECRETS))


@pytest.fixture(scope="module")
def one_server():
    return build_stack("production", production_with(1), secret_keys=frozenset(SECRETS))


def count(stack, typ: str) -> int:
    return len(stack.mocks.of_type(typ))


def provider_of(resource) -> str:
    return resource.provider.split("::")[-2]


def test_resource_counts_follow_the_number_of_application_servers(stack):
    n, built = stack
    many = n > 1
    assert count(built, SERVER) == (n + 1 if many else 1)
    assert count(built, "hcloud:index/loadBalancer:LoadBalancer") == (1 if many else 0)
    assert count(built, "hcloud:index/loadBalancerTarget:LoadBalancerTarget") == (n if many else 0)
    assert count(built, "hcloud:index/loadBalancerService:LoadBalancerService") == (2 if many else 0)
    assert count(built, "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork") == (1 if many else 0)
    assert count(built, "hcloud:index/networkSubnet:NetworkSubnet") == (2 if many else 1)
    # Stable addresses and the volume belong to the data server only.
    assert count(built, "hcloud:index/primaryIp:PrimaryIp") == 2 and count(built, "hcloud:index/volume:Volume") == 1
    assert count(built, "pulumi:providers:docker") == (n + 1 if many else 1)
    roles = [next(label["value"] for label in c.inputs["labels"] if label["label"] == "preflight.role") for c in built.containers]
    assert sorted(roles) == sorted(["database", "cache", "backup", "migration"] + ["monitoring"] * 7 +
                                   ["proxy", "service", "service"] * n)


def test_data_stays_on_the_first_server_and_everything_else_on_the_application_servers(three):
    providers = {r.name: r for r in three.mocks.of_type("pulumi:providers:docker")}
    assert sorted(providers) == ["preflight-host-app1-docker", "preflight-host-app2-docker",
                                 "preflight-host-app3-docker", "preflight-host-docker"]
    for name in ("preflight-postgres", "preflight-redis", "preflight-backup"):
        assert provider_of(three.container(name)) == "preflight-host-docker"
    for index in (1, 2, 3):
        on_host = sorted(c.name for c in three.containers if provider_of(c) == f"preflight-host-app{index}-docker")
        expected = [f"preflight-api-app{index}", f"preflight-proxy-app{index}", f"preflight-worker-app{index}"]
        # Migrations run once per release, on the first application server.
        assert on_host == sorted(expected + (["preflight-api-app1-migrate"] if index == 1 else []))
    [data] = [s for s in three.mocks.of_type(SERVER) if s.inputs["labels"]["preflight-role"] == "data"]
    # By name: the mocks register resources in the order their inputs resolve, not the program's.
    apps = sorted((s for s in three.mocks.of_type(SERVER) if s.inputs["labels"]["preflight-role"] == "app"),
                  key=lambda s: s.inputs["name"])
    assert data.inputs["name"] == "preflight-production-1" and data.protect
    assert [s.inputs["name"] for s in apps] == [f"preflight-production-1-app{i}" for i in (1, 2, 3)]
    assert [s.inputs["networks"][0]["ip"] for s in apps] == ["10.10.2.10", "10.10.2.11", "10.10.2.12"]
    # Application servers keep nothing: no volume to wait for, Docker on the local disk.
    app_files = {f["path"] for f in yaml.safe_load(apps[0].inputs["userData"])["write_files"]}
    assert "/usr/local/sbin/preflight-mount-volume" not in app_files
    assert all(s.inputs["firewallIds"] == data.inputs["firewallIds"] for s in apps)


def test_services_reach_postgres_and_redis_over_the_private_network(three, one_server):
    def secret_file(container, path: str) -> str:
        [content] = [u["content"] for u in container.inputs["uploads"] if u["file"] == path]
        return content

    api = three.container("preflight-api-app2")
    assert f"@{DATA_IP}:5432/" in secret_file(api, "/run/secrets/database_url")
    assert f"@{DATA_IP}:6379/" in secret_file(api, "/run/secrets/redis_url")
    assert "uploads" in api.secret_inputs
    # On one server the services stay on the internal Docker network.
    assert "@postgres:5432/" in secret_file(one_server.container("preflight-api"), "/run/secrets/database_url")
    for built in (three, one_server):
        postgres = built.container("preflight-postgres")
        assert postgres.inputs["ports"] == [{"internal": 5432, "external": 5432, "ip": DATA_IP}]
        [private] = [n for n in built.mocks.of_type("docker:index/network:Network") if n.name == "preflight-host-private"]
        assert private.inputs["options"] == {"com.docker.network.bridge.enable_ip_masquerade": "false"}


def test_the_data_server_admits_postgres_and_redis_only_from_the_application_subnet(three):
    [data] = [s for s in three.mocks.of_type(SERVER) if s.inputs["labels"]["preflight-role"] == "data"]
    files = {f["path"]: f["content"] for f in yaml.safe_load(data.inputs["userData"])["write_files"]}
    script = files["/usr/local/sbin/preflight-data-ports"]
    assert "for port in 5432 6379" in script
    assert f"--ctorigdst {DATA_IP}" in script and f"! -s {APP_SUBNET} -j DROP" in script
    # The published ports bind to the private address even before it is configured at boot.
    assert "net.ipv4.ip_nonlocal_bind = 1" in files["/etc/sysctl.d/90-preflight-bind.conf"]
    [firewall] = three.mocks.of_type("hcloud:index/firewall:Firewall")
    assert sorted(r["port"] for r in firewall.inputs["rules"]) == ["22", "443", "80"]


def test_growing_replaces_neither_the_first_server_nor_the_data_containers(three, one_server):
    def first_server(built):
        """Its inputs, without the ids the mocks number in registration order."""
        [server] = [s for s in built.mocks.of_type(SERVER) if s.name == "preflight-host-server"]
        inputs = {k: v for k, v in server.inputs.items() if k not in ("sshKeys", "firewallIds", "publicNets")}
        return {**inputs, "networks": [n["ip"] for n in inputs["networks"]]}

    assert first_server(three) == first_server(one_server)
    for name in ("preflight-postgres", "preflight-redis", "preflight-backup"):
        assert three.container(name).inputs == one_server.container(name).inputs


def test_the_load_balancer_passes_tls_through_and_checks_each_server_through_its_proxy(three):
    [lb] = three.mocks.of_type("hcloud:index/loadBalancer:LoadBalancer")
    assert lb.inputs["loadBalancerType"] == "lb11" and lb.inputs["deleteProtection"] is True and lb.protect
    services = {s.inputs["listenPort"]: s.inputs for s in three.mocks.of_type(
        "hcloud:index/loadBalancerService:LoadBalancerService")}
    assert set(services) == {80, 443}
    https = services[443]
    assert https["protocol"] == "tcp" and https["destinationPort"] == 443
    # 443 demands Cloudflare's client certificate: the load balancer checks the proxy's health port instead.
    assert https["healthCheck"]["port"] == 8081 and https["healthCheck"]["protocol"] == "http"
    assert https["healthCheck"]["http"] == {"domain": "api.example.com", "path": "/health", "tls": False,
                                           "statusCodes": ["2??"]}
    assert services[80]["healthCheck"]["http"]["statusCodes"] == ["3??"]  # the proxy's redirect to HTTPS
    [attached] = three.mocks.of_type("hcloud:index/loadBalancerNetwork:LoadBalancerNetwork")
    assert attached.inputs["ip"] == "10.10.2.5"
    targets = three.mocks.of_type("hcloud:index/loadBalancerTarget:LoadBalancerTarget")
    assert all(t.inputs["usePrivateIp"] is True and t.inputs["type"] == "server" for t in targets)
    records = three.mocks.of_type("cloudflare:index/dnsRecord:DnsRecord")
    assert {(r.inputs["type"], r.inputs["content"]) for r in records} == {("A", "198.51.100.7"), ("AAAA", "2001:db8::7")}
    # Traffic moves to the load balancer only once the last server passed its gate.
    assert all(r.depends_on == ("preflight-rollout-app3",) for r in records)


def test_on_one_server_the_records_wait_for_its_proxy(one_server):
    """Also what makes going back from N to 1 safe: traffic returns once the proxy there is healthy."""
    records = one_server.mocks.of_type("cloudflare:index/dnsRecord:DnsRecord")
    assert records and all(r.depends_on == ("preflight-proxy",) for r in records)


def test_a_release_rolls_across_the_servers_one_after_another(three):
    gates = {g.name: g for g in three.mocks.of_type("pulumi-python:dynamic:Resource") if "release" in g.inputs}
    assert sorted(gates) == ["preflight-rollout-app1", "preflight-rollout-app2", "preflight-rollout-app3"]
    for index in (2, 3):
        gate_before = f"preflight-rollout-app{index - 1}"
        for name in (f"preflight-api-app{index}", f"preflight-worker-app{index}", f"preflight-proxy-app{index}"):
            # The proxy's container carries its dependencies; a service's come through its component.
            resource = three.container(name) if "proxy" in name else three.mocks.named(name, "preflight:index:Service")
            assert gate_before in resource.depends_on, name
    # Each gate waits for its own server's containers: the release string names them.
    assert gates["preflight-rollout-app2"].inputs["server_name"] == "preflight-production-1-app2"
    assert all(g.inputs["deadline_s"] == 60 + 4 * 15 for g in gates.values())


def test_a_scheduler_runs_on_one_application_server_only():
    scheduler = {"image": "ghcr.io/example/api:1.4.2", "command": ["python3", "/app/app.py", "worker"],
                 "healthcheck": {"command": ["python3", "/app/app.py", "check"]}, "placement": "one_app_server"}
    built = build_stack("production", production_with(3, scheduler=scheduler), secret_keys=frozenset(SECRETS))
    assert sorted(c.name for c in built.containers if "scheduler" in c.name) == ["preflight-scheduler-app1"]


@pytest.mark.parametrize("change, message", [
    ({"host": {"app_subnet": "10.10.1.0/24"}}, "apart from subnet 10.10.1.0/24"),
    ({"host": {"app_subnet": "10.20.0.0/24"}}, "must lie inside ip_range 10.10.0.0/16"),
    ({"host": {"app_servers": 21}}, "preflight:host.app_servers"),
    ({"services": {"api": {"placement": "one_app_server"}}}, "a routed service runs behind every application server"),
])
def test_bad_layouts_are_refused_with_the_setting_and_the_fix(change, message):
    raw = production_with(3)
    for section, values in change.items():
        for key, value in values.items():
            target = raw[section][key] if isinstance(value, dict) else raw[section]
            if isinstance(value, dict):
                target.update(value)
            else:
                target[key] = value
    with pytest.raises(SettingsError) as refused:
        parse_settings("production", raw, set(SECRETS))
    assert message in str(refused.value)


class FakeLoadBalancers:
    """hcloud-python's load_balancers client: each call returns the next reported state."""

    def __init__(self, states):
        self.states, self.calls = list(states), 0

    def get_by_id(self, _id):
        self.calls += 1
        statuses = self.states[min(self.calls, len(self.states)) - 1]
        target = SimpleNamespace(type="server", server=SimpleNamespace(id=7), health_status=[
            SimpleNamespace(listen_port=port, status=status, detail=None) for port, status in statuses.items()])
        return SimpleNamespace(targets=[target])


def gate_props(deadline_s=30):
    return {"load_balancer_id": "3", "server_id": "7", "server_name": "preflight-production-1-app2",
            "release": "a,b", "deadline_s": deadline_s, "token": "t" * 64}


def test_the_rollout_gate_waits_until_the_load_balancer_reports_the_server_healthy(monkeypatch):
    import hcloud

    from components import load_balancer

    fake = FakeLoadBalancers([{443: "unknown", 80: "healthy"}, {443: "unhealthy", 80: "healthy"},
                              {443: "healthy", 80: "healthy"}])
    monkeypatch.setattr(hcloud, "Client", lambda **_: SimpleNamespace(load_balancers=fake))
    monkeypatch.setattr(load_balancer.time, "sleep", lambda _s: None)
    load_balancer._TargetHealthy().update("id", {}, gate_props())
    assert fake.calls == 3


def test_the_rollout_gate_stops_the_update_when_the_server_never_turns_healthy(monkeypatch):
    import hcloud

    from components import load_balancer

    monkeypatch.setattr(hcloud, "Client", lambda **_: SimpleNamespace(
        load_balancers=FakeLoadBalancers([{443: "unhealthy", 80: "healthy"}])))
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(load_balancer.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(load_balancer.time, "sleep", lambda _s: None)
    with pytest.raises(RuntimeError) as stopped:
        load_balancer._TargetHealthy().update("id", {}, gate_props(deadline_s=30))
    assert "preflight-production-1-app2 was not healthy behind the load balancer within 30 s (443: unhealthy)" in \
        str(stopped.value) and "the other servers keep serving" in str(stopped.value)


def test_a_new_release_on_a_server_reruns_its_gate():
    from components.load_balancer import _TargetHealthy

    same = _TargetHealthy().diff("id", gate_props(), gate_props())
    assert not same.changes
    released = _TargetHealthy().diff("id", gate_props(), {**gate_props(), "release": "c,b"})
    assert released.changes and not released.replaces


def test_the_local_rehearsal_runs_one_copy_per_server_on_shifted_ports_one_after_another():
    raw = copy.deepcopy(stack_config("local"))
    raw["host"]["app_servers"] = 3
    built = build_stack("local", raw)
    proxies = sorted(c.name for c in built.containers if c.name.startswith("preflight-proxy"))
    assert proxies == ["preflight-proxy-app1", "preflight-proxy-app2", "preflight-proxy-app3"]
    assert [sorted(p["external"] for p in built.container(name).inputs["ports"]) for name in proxies] == \
        [[8080, 8443], [8081, 8444], [8082, 8445]]
    # Each copy's proxy reaches its own services only: an edge network per copy.
    edges = {built.container(f"preflight-api-app{i}").inputs["networksAdvanced"][-1]["name"] for i in (1, 2, 3)}
    assert len(edges) == 3
    # No load balancer here: the previous copy's containers, healthy in Docker, are the gate.
    for index in (2, 3):
        component = built.mocks.named(f"preflight-api-app{index}", "preflight:index:Service")
        assert {f"preflight-proxy-app{index - 1}", f"preflight-proxy-app{index - 1}-sites",
                f"preflight-api-app{index - 1}"} <= set(component.depends_on)
    assert not built.mocks.of_type("hcloud:index/loadBalancer:LoadBalancer")
    assert built.platform.health_urls == {"api": "https://api.preflight.localhost:8443/health"}
