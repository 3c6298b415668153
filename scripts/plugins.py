"""Build Pulumi resource plugins from Terraform providers that the Go module proxy serves.

Exists only for machines that reach package registries and not Pulumi's release downloads: the
official plugin modules (github.com/pulumi/pulumi-<name>/provider) are refused there, while the
upstream Terraform providers and pulumi-terraform-bridge are served. Each plugin is a small
provider program of our own (toolchain/<name>/main.go) that maps the Terraform provider to the
tokens and property names of the pinned Python SDK, built in two passes: the first binary writes
the Pulumi schema and bridge metadata (tfgen), the second embeds them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOSUMDB": "off"}


@dataclass(frozen=True)
class BridgedProvider:
    name: str
    upstream_module: str
    upstream_version: str
    # The served docker module declares another module path and keeps its constructor under
    # internal/: the build uses a copy of it, under the declared path, with an exported wrapper.
    declared_path: str | None = None
    export_package: str | None = None

    @property
    def program(self) -> Path:
        return ROOT / "toolchain" / self.name


# Which served upstream each plugin is built from; the pairing with the Python SDK versions is
# recorded in toolchain/README.md and checked by tests/engine/test_plugins.py.
PROVIDERS = {
    "docker": BridgedProvider("docker", "github.com/kreuzwerker/terraform-provider-docker",
                              "v0.0.0-20260916201441-96d331c98ff4",
                              declared_path="github.com/terraform-providers/terraform-provider-docker",
                              export_package="preflightexport"),
    "hcloud": BridgedProvider("hcloud", "github.com/hetznercloud/terraform-provider-hcloud", "v1.68.0"),
}


def source_hash(directory: Path, extra: str = "") -> str:
    """A short hash of a program's sources (and `extra`): what a cached build is keyed by."""
    digest = hashlib.sha256(extra.encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def recipe(name: str) -> str:
    """A short hash of everything a build of `name` depends on that is ours to change."""
    provider = PROVIDERS[name]
    return source_hash(provider.program, repr(provider))


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env={**os.environ, **GO_ENV, **(env or {})}, capture_output=True, text=True)


def go_download(module: str, version: str) -> Path:
    result = run(["go", "mod", "download", "-json", f"{module}@{version}"], cwd=Path("/"))
    info = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Dir" not in info:
        raise RuntimeError(info.get("Error") or result.stderr.strip() or f"cannot download {module}@{version}")
    return Path(info["Dir"])


def writable_copy(source: Path, target: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def prepare(provider: BridgedProvider, work: Path) -> Path:
    """Lay out work/provider (our program) and, where needed, work/upstream; return the program dir."""
    program = work / "provider"
    program.mkdir(parents=True, exist_ok=True)
    for file in ("main.go", "go.mod", "go.sum"):
        if (provider.program / file).exists():
            shutil.copyfile(provider.program / file, program / file)
    for embedded in ("schema.json", "bridge-metadata.json"):
        (program / embedded).write_text("{}")
    source = go_download(provider.upstream_module, provider.upstream_version)
    if provider.declared_path:
        writable_copy(source, work / "upstream")
        package = work / "upstream" / provider.export_package
        package.mkdir()
        shutil.copyfile(provider.program / "upstream" / f"{provider.export_package}.go.txt", package / "export.go")
    return program


def go_build(program: Path, version: str, output: Path) -> None:
    build = run(["go", "build", "-trimpath", "-ldflags", f"-s -w -X main.version={version}", "-o", str(output), "."],
                cwd=program)
    if build.returncode != 0:
        raise RuntimeError(f"go build failed:\n{build.stderr[-4000:]}")


def build_program(source: Path, output: Path, work: Path) -> None:
    """Build a self-contained Go program of toolchain/ (its own go.mod) into `output`."""
    writable_copy(source, work)
    try:
        go_build(work, "0.0.0", output)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_plugin(name: str, version: str, output: Path, work: Path, log: Callable[[str], None]) -> None:
    """Build pulumi-resource-<name> reporting `version` into `output` (a file path)."""
    provider = PROVIDERS[name]
    started = time.monotonic()
    log(f"{name}: building from {provider.upstream_module}@{provider.upstream_version} through "
        "pulumi-terraform-bridge (cold: several minutes on 2 cores)")
    shutil.rmtree(work, ignore_errors=True)
    program = prepare(provider, work)
    first = work / "first-pass"
    go_build(program, version, first)
    schema = run([str(first), "schema", "--out", str(program), "--skip-docs", "--skip-examples"], cwd=program)
    if schema.returncode != 0 or not json.loads((program / "schema.json").read_text()).get("resources"):
        raise RuntimeError(f"schema generation failed:\n{(schema.stderr or schema.stdout)[-4000:]}")
    output.parent.mkdir(parents=True, exist_ok=True)
    go_build(program, version, output)
    shutil.copyfile(program / "schema.json", output.parent / "schema.json")
    shutil.rmtree(work, ignore_errors=True)
    log(f"{name}: built v{version} in {time.monotonic() - started:.0f}s "
        f"({output.stat().st_size / 1e6:.0f} MB)")
