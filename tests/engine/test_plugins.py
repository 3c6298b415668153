"""The provider plugins installed for the engine (on these machines: built from served Terraform
providers, toolchain/) speak the pinned Python SDKs' tokens and property names, and the hcloud
resources the cloud stacks need preview offline."""

from __future__ import annotations

import inspect
import json
import subprocess
from types import ModuleType

import pulumi
import pulumi._types
import pulumi_docker
import pulumi_hcloud
import pytest
from pulumi import automation as auto
from pulumi.type_token import _PULUMI_TYPE

from scripts.toolchain import required_plugins

# What the SDKs have that the plugins built from served upstreams do not (toolchain/README.md):
# the official docker plugin implements Image natively; pulumi-hcloud 1.43.3 was generated from a
# newer terraform-provider-hcloud than the v1.68.0 the proxy serves.
KNOWN_GAPS = {
    "docker:index/image:Image": "not in the plugin",
    "hcloud:index/loadBalancer:LoadBalancer": {"ipv4Id", "ipv6Id"},
    "hcloud:index/serverNetwork:ServerNetwork": {"macAddress"},
}


def installed_schema(engine: dict[str, str], name: str) -> dict:
    [plugin] = [p for p in required_plugins() if p.name == name]
    result = subprocess.run(["pulumi", "package", "get-schema", f"{name}@{plugin.version}"], env=engine,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def sdk_gaps(module: ModuleType, schema: dict) -> dict[str, object]:
    """Per resource token of the SDK: missing from the plugin, or the SDK inputs the plugin lacks."""
    gaps: dict[str, object] = {}
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if not issubclass(cls, pulumi.CustomResource) or issubclass(cls, pulumi.ProviderResource):
            continue
        token = getattr(cls, _PULUMI_TYPE)
        resource = schema["resources"].get(token)
        if resource is None:
            gaps[token] = "not in the plugin"
            continue
        args = getattr(module, f"{cls.__name__}Args")
        missing = set(pulumi._types.input_type_py_to_pulumi_names(args).values()) - set(resource["inputProperties"])
        if missing:
            gaps[token] = missing
    return gaps


@pytest.mark.parametrize("module, name", [(pulumi_docker, "docker"), (pulumi_hcloud, "hcloud")])
def test_sdk_tokens_and_inputs_match_the_installed_plugin(engine, module, name):
    gaps = sdk_gaps(module, installed_schema(engine, name))
    assert gaps == {k: v for k, v in KNOWN_GAPS.items() if k.startswith(f"{name}:")}


def hetzner_host() -> None:
    """The Hetzner resources a cloud stack declares, with placeholder values."""
    import pulumi_hcloud as hcloud

    key = hcloud.SshKey("deploy", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForPreviewOnly0000000000000 ci")
    network = hcloud.Network("private", ip_range="10.10.0.0/16")
    subnet = hcloud.NetworkSubnet("private", network_id=network.id.apply(int), type="cloud",
                                  network_zone="eu-central", ip_range="10.10.1.0/24")
    firewall = hcloud.Firewall("edge", rules=[
        hcloud.FirewallRuleArgs(direction="in", protocol="tcp", port="22", source_ips=["203.0.113.0/24"]),
        hcloud.FirewallRuleArgs(direction="in", protocol="tcp", port="443", source_ips=["173.245.48.0/20"]),
    ])
    ipv4 = hcloud.PrimaryIp("ipv4", type="ipv4", location="fsn1", assignee_type="server", auto_delete=False)
    server = hcloud.Server("app", server_type="cx32", image="debian-12", location="fsn1", backups=True,
                           ssh_keys=[key.id], firewall_ids=[firewall.id.apply(int)], user_data="#cloud-config\n",
                           public_nets=[hcloud.ServerPublicNetArgs(ipv4=ipv4.id.apply(int), ipv6_enabled=False)],
                           networks=[hcloud.ServerNetworkArgs(network_id=network.id.apply(int), ip="10.10.1.5")],
                           opts=pulumi.ResourceOptions(depends_on=[subnet]))
    volume = hcloud.Volume("data", size=20, location="fsn1", format="ext4", delete_protection=True)
    hcloud.VolumeAttachment("data", volume_id=volume.id.apply(int), server_id=server.id.apply(int))


def test_hetzner_resources_preview_offline(engine, tmp_path):
    stack = auto.create_stack("preview", project_name="hcloud-preview", program=hetzner_host,
                              opts=auto.LocalWorkspaceOptions(
                                  work_dir=str(tmp_path), env_vars={**engine, "PULUMI_BACKEND_URL": f"file://{tmp_path}",
                                                                    "HCLOUD_TOKEN": "x" * 64}))
    preview = stack.preview(color="never")
    assert preview.change_summary == {"create": 9}
