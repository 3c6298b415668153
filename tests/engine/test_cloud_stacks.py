"""production and staging previewed offline by the real engine, with the hcloud plugin built from
served modules, placeholder credentials and the policy pack at each stack's enforcement.

The cloudflare plugin cannot be had on these machines (toolchain/README.md), so the copy of the
program previewed here leaves the edge out (the proxy gets the local self-signed certificate
instead of the origin certificate, and still demands a client certificate of the stack's
origin-pull CA); the edge itself is checked under mocks and by the pack's harness. Everything else
of both stacks is what the engine previews.
"""

from __future__ import annotations

from collections import Counter

import pytest
from pulumi import automation as auto

from tests.engine.conftest import ProjectCopy, cloud_copy


@pytest.fixture(scope="module", params=["production", "staging"])
def cloud(request, engine, tmp_path_factory) -> ProjectCopy:
    return cloud_copy(tmp_path_factory.mktemp(request.param), engine, request.param)


def planned(project: ProjectCopy) -> tuple[Counter, str]:
    creates, lines = planned_creates(project)
    return Counter(typ for typ, _ in creates), "\n".join(lines)


def planned_creates(project: ProjectCopy) -> tuple[list[tuple[str, str]], list[str]]:
    """(type, name) of every resource the preview would create, and the output lines."""
    events: list[auto.EngineEvent] = []
    lines: list[str] = []
    project.stack.preview(on_event=events.append, on_output=lines.append, color="never")
    creates = [(e.resource_pre_event.metadata.type, e.resource_pre_event.metadata.urn.rsplit("::", 1)[-1])
               for e in events if e.resource_pre_event and e.resource_pre_event.metadata.op == auto.OpType.CREATE]
    return creates, lines


def test_the_stack_previews_offline_with_its_planned_resources(cloud):
    creates, _ = planned(cloud)
    assert {t: n for t, n in creates.items() if t.startswith("hcloud:")} == {
        "hcloud:index/sshKey:SshKey": 1, "hcloud:index/firewall:Firewall": 1, "hcloud:index/network:Network": 1,
        "hcloud:index/networkSubnet:NetworkSubnet": 1, "hcloud:index/primaryIp:PrimaryIp": 2,
        "hcloud:index/volume:Volume": 1, "hcloud:index/server:Server": 1,
        "hcloud:index/volumeAttachment:VolumeAttachment": 1}
    # api, its migration, worker, postgres, redis, proxy, backup; and the monitoring's seven
    assert creates["docker:index/container:Container"] == 7 + 7
    # internal, edge, and the private network Postgres and Redis are published through
    assert creates["docker:index/network:Network"] == 3 and creates["pulumi:providers:docker"] == 1


def test_the_policy_pack_reports_no_mandatory_violation(cloud):
    result = cloud.preview_with_pack(cloud.stack_name)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[mandatory]" not in output and "Traceback" not in output


@pytest.fixture(scope="module")
def three_app_servers(engine, tmp_path_factory) -> ProjectCopy:
    """production grown to three application servers behind the load balancer (issue: outgrowing one server)."""
    def grow(config: dict) -> None:
        config["preflight:host"]["app_servers"] = 3

    return cloud_copy(tmp_path_factory.mktemp("three-app-servers"), engine, "production", grow)


def test_three_application_servers_preview_offline_with_a_load_balancer(three_app_servers):
    planned_list, _ = planned_creates(three_app_servers)
    creates = Counter(typ for typ, _ in planned_list)
    assert {t: n for t, n in creates.items() if t.startswith("hcloud:")} == {
        "hcloud:index/sshKey:SshKey": 1, "hcloud:index/firewall:Firewall": 1, "hcloud:index/network:Network": 1,
        "hcloud:index/networkSubnet:NetworkSubnet": 2, "hcloud:index/primaryIp:PrimaryIp": 2,
        "hcloud:index/volume:Volume": 1, "hcloud:index/server:Server": 4,
        "hcloud:index/volumeAttachment:VolumeAttachment": 1, "hcloud:index/loadBalancer:LoadBalancer": 1,
        "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork": 1,
        "hcloud:index/loadBalancerService:LoadBalancerService": 2,
        "hcloud:index/loadBalancerTarget:LoadBalancerTarget": 3}
    # postgres, redis, backup and the monitoring's seven on the data server; proxy, api, worker on each of 3; one migration
    assert creates["docker:index/container:Container"] == 3 + 7 + 3 * 3 + 1
    assert creates["pulumi:providers:docker"] == 4
    dynamic = sorted(name for typ, name in planned_list if typ == "pulumi-python:dynamic:Resource")
    assert [n for n in dynamic if "rollout" in n] == [f"preflight-rollout-app{i}" for i in (1, 2, 3)]
    assert len([n for n in dynamic if n.endswith("cloud-init")]) == 4
    assert [n for n in dynamic if "origin-pulls" in n] == ["preflight-origin-pulls-ca", "preflight-origin-pulls-client"]


def test_three_application_servers_pass_the_policy_pack(three_app_servers):
    result = three_app_servers.preview_with_pack("production")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[mandatory]" not in output and "Traceback" not in output
