"""production and staging previewed offline by the real engine, with the hcloud plugin built from
served modules, placeholder credentials and the policy pack at each stack's enforcement.

The cloudflare plugin cannot be had on these machines (toolchain/README.md), so the copy of the
program previewed here leaves the edge out (the proxy gets the local self-signed certificate
instead of the origin certificate); the edge itself is checked under mocks and by the pack's
harness. Everything else of both stacks is what the engine previews.
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
    events: list[auto.EngineEvent] = []
    lines: list[str] = []
    project.stack.preview(on_event=events.append, on_output=lines.append, color="never")
    creates = Counter(e.resource_pre_event.metadata.type for e in events
                      if e.resource_pre_event and e.resource_pre_event.metadata.op == auto.OpType.CREATE)
    return creates, "\n".join(lines)


def test_the_stack_previews_offline_with_its_planned_resources(cloud):
    creates, _ = planned(cloud)
    assert {t: n for t, n in creates.items() if t.startswith("hcloud:")} == {
        "hcloud:index/sshKey:SshKey": 1, "hcloud:index/firewall:Firewall": 1, "hcloud:index/network:Network": 1,
        "hcloud:index/networkSubnet:NetworkSubnet": 1, "hcloud:index/primaryIp:PrimaryIp": 2,
        "hcloud:index/volume:Volume": 1, "hcloud:index/server:Server": 1,
        "hcloud:index/volumeAttachment:VolumeAttachment": 1}
    assert creates["docker:index/container:Container"] == 7  # api, its migration, worker, postgres, redis, proxy, backup
    assert creates["docker:index/network:Network"] == 2 and creates["pulumi:providers:docker"] == 1


def test_the_policy_pack_reports_no_mandatory_violation(cloud):
    result = cloud.preview_with_pack(cloud.stack_name)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[mandatory]" not in output and "Traceback" not in output
