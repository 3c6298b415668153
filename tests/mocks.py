"""Pulumi mocks that record every registered resource, for asserting the graph without the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.platform import Platform
from components.settings import LoadedSettings, parse_settings

DYNAMIC = "pulumi-python:dynamic:Resource"

# Outputs a real provider computes; the mocks supply stand-ins so dependent inputs resolve.
COMPUTED = {
    "docker:index/remoteImage:RemoteImage": lambda args: {"imageId": f"sha256:{args.name}"},
    # components/generated.py: passwords have a `length`, host keys a `server`, certificates and CSRs `hostnames`.
    DYNAMIC: lambda args: ({"result": "P" * int(args.inputs["length"])} if "length" in args.inputs else
                           {"private_key": "-----BEGIN OPENSSH PRIVATE KEY-----",
                            "public_key": f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{args.name}"} if "server" in args.inputs else
                           {"cert_pem": "-----BEGIN CERTIFICATE-----", "key_pem": "-----BEGIN PRIVATE KEY-----",
                            "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----"} if "hostnames" in args.inputs else {}),
    "hcloud:index/loadBalancer:LoadBalancer": lambda args: {"ipv4": "198.51.100.7", "ipv6": "2001:db8::7"},
    "hcloud:index/server:Server": lambda args: {"ipv4Address": "203.0.113.20"},
    "hcloud:index/primaryIp:PrimaryIp": lambda args: {"ipAddress": "203.0.113.10" if args.inputs["type"] == "ipv4"
                                                      else "2001:db8::1"},
    "cloudflare:index/originCaCertificate:OriginCaCertificate": lambda args: {"certificate": "-----BEGIN CERTIFICATE-----"},
    # The provider autonames containers (the proxy's upstreams are those names).
    "docker:index/container:Container": lambda args: {"name": args.inputs.get("name") or f"{args.name}-0000000",
                                                      **({"exitCode": 0} if args.inputs.get("attach") else {})},
    "docker:index/network:Network": lambda args: {"name": args.name},
    "docker:index/volume:Volume": lambda args: {"name": args.name},
}


SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # pulumi's marker for a secret value on the wire


def reveal(value: Any) -> tuple[Any, bool]:
    """The plain value and whether any part of it was marked secret."""
    if isinstance(value, dict) and SECRET_SIG_KEY in value:
        return reveal(value["value"])[0], True
    if isinstance(value, dict):
        pairs = {k: reveal(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        items = [reveal(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


@dataclass
class Registered:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str
    secret_inputs: frozenset[str]
    protect: bool = False  # from the resource options (mocks do not see options; a transformation does)
    depends_on: tuple[str, ...] = ()  # names of the resources in its depends_on option


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Registered] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        revealed = {k: reveal(v) for k, v in args.inputs.items()}
        self.resources.append(Registered(args.typ, args.name, {k: v for k, (v, _) in revealed.items()},
                                         args.provider or "", frozenset(k for k, (_, s) in revealed.items() if s)))
        outputs = {**args.inputs, **COMPUTED.get(args.typ, lambda _: {})(args)}
        # Hetzner ids are numbers (the program converts them with int()).
        resource_id = str(len(self.resources)) if args.typ.startswith("hcloud:") else f"{args.name}-id"
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    def of_type(self, typ: str) -> list[Registered]:
        return [r for r in self.resources if r.type == typ]

    def generated(self, spec_key: str) -> list[Registered]:
        """The dynamic resources of components/generated.py whose spec has `spec_key`."""
        return [r for r in self.of_type(DYNAMIC) if spec_key in r.inputs]

    def named(self, name: str, typ: str) -> Registered:
        [match] = [r for r in self.of_type(typ) if r.name == name]
        return match


@dataclass
class BuiltStack:
    mocks: RecordingMocks
    platform: Platform
    secret_flags: dict[str, bool]

    @property
    def containers(self) -> list[Registered]:
        return self.mocks.of_type("docker:index/container:Container")

    def container(self, name: str) -> Registered:
        return self.mocks.named(name, "docker:index/container:Container")


def build_stack(stack: str, raw: dict[str, Any], secret_keys: frozenset[str] = frozenset(),
                secret_outputs: Callable[[Platform], dict[str, pulumi.Output]] = lambda p: {}) -> BuiltStack:
    """Run the Platform under mocks; return what it registered and which outputs are secret."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="preflight", stack=stack, preview=False)
    settings, values = parse_settings(stack, raw, set(secret_keys))
    built: dict[str, Any] = {}

    protected: set[tuple[str, str]] = set()
    names: dict[int, str] = {}
    depends_on: dict[tuple[str, str], list[object]] = {}

    def record_protection(args: pulumi.ResourceTransformationArgs) -> None:
        names[id(args.resource)] = args.name
        if args.opts and args.opts.protect:
            protected.add((args.type_, args.name))
        if args.opts and args.opts.depends_on:
            depends_on[(args.type_, args.name)] = list(args.opts.depends_on)

    @pulumi.runtime.test
    def run():
        platform = Platform("preflight", LoadedSettings(settings, {k: pulumi.Output.secret(v) for k, v in values.items()}),
                            opts=pulumi.ResourceOptions(transformations=[record_protection]))
        built["platform"] = platform
        outputs = secret_outputs(platform)

        async def flags() -> dict[str, bool]:
            return {name: await output.is_secret() for name, output in outputs.items()}

        return pulumi.Output.from_input(asyncio.ensure_future(flags())).apply(lambda f: built.update(flags=f))

    run()
    for resource in mocks.resources:
        resource.protect = (resource.type, resource.name) in protected
        resource.depends_on = tuple(names.get(id(d), "?") for d in depends_on.get((resource.type, resource.name), []))
    return BuiltStack(mocks, built["platform"], built.get("flags", {}))
