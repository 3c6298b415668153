"""Install the Pulumi engine offline-first, at exactly the versions the installed Python SDKs ask for.

    python scripts/toolchain.py ensure   # install what is missing; exit 3 if anything could not be had
    python scripts/toolchain.py check    # report only
    python scripts/toolchain.py env      # print the environment (shell syntax) the Makefile exports

Order of preference for every piece: already installed at the right version; the official
release download; a build from Go modules (the only route on machines that reach package
registries alone). Results are cached outside the repository, under $PREFLIGHT_CACHE
(default ~/.cache/preflight), so a second run takes seconds.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deploy.engine import CACHE, ROOT, cli_dir, engine_env, sdk_version
from scripts import plugins as bridged

RELEASES = "https://get.pulumi.com/releases"
GO_ENV = bridged.GO_ENV
EXIT_INCOMPLETE = 3
# Plugins no route here can supply and that the `local` stack does not use: their absence is
# reported, not fatal (the cloud stacks' engine preview needs them; see the README).
NOT_NEEDED_LOCALLY = {"cloudflare": "the Go module proxy refuses the Terraform cloudflare provider (v4, v5) and "
                                    "pulumi-cloudflare's provider module; the edge is checked under mocks and by "
                                    "the policy pack's harness"}


@dataclass(frozen=True)
class Plugin:
    name: str
    version: str


def required_plugins() -> list[Plugin]:
    """Every resource plugin an installed Python SDK declares in its pulumi-plugin.json."""
    plugins = set()
    for dist in importlib.metadata.distributions():
        for file in dist.files or []:
            if file.name == "pulumi-plugin.json":
                meta = json.loads(Path(dist.locate_file(file)).read_text())
                if meta.get("resource") and meta.get("name"):
                    plugins.add(Plugin(meta["name"], meta["version"].lstrip("v")))
    return sorted(plugins, key=lambda p: p.name)


def run(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True)


def log(message: str) -> None:
    print(f"[toolchain] {message}", flush=True)


# --- the CLI and the Python language host ------------------------------------------------------

def cli_version(binary: Path) -> str | None:
    if not binary.exists():
        return None
    result = run([str(binary), "version"], env={"PULUMI_SKIP_UPDATE_CHECK": "true"})
    return result.stdout.strip().lstrip("v") if result.returncode == 0 else None


def adopt_installed_cli(version: str, target: Path) -> bool:
    found = shutil.which("pulumi")
    if not found or cli_version(Path(found)) != version:
        return False
    source = Path(found).resolve().parent
    target.mkdir(parents=True, exist_ok=True)
    for binary in source.glob("pulumi*"):
        (target / binary.name).unlink(missing_ok=True)
        (target / binary.name).symlink_to(binary)
    record_official_host(target)
    log(f"using the installed Pulumi CLI v{version} from {source}")
    return True


def download_release(version: str, target: Path) -> bool:
    url = f"{RELEASES}/sdk/pulumi-v{version}-linux-x64.tar.gz"
    try:
        with urllib.request.urlopen(url, timeout=20) as response, tempfile.TemporaryFile() as archive:
            shutil.copyfileobj(response, archive)
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(target.parent / "extract", filter="data")
    except OSError as error:
        log(f"official release not reachable ({error.__class__.__name__}: {error}); trying Go modules")
        return False
    target.mkdir(parents=True, exist_ok=True)
    for binary in (target.parent / "extract" / "pulumi").iterdir():
        shutil.move(str(binary), target / binary.name)
    shutil.rmtree(target.parent / "extract")
    record_official_host(target)
    log(f"installed the official release v{version}")
    return True


def go_build(module: str, version: str, package: str, output: Path, mod_edits: list[str], what: str) -> bool:
    """Build `package` of a downloaded module as its own main module (go.mod edited by `mod_edits`)."""
    if shutil.which("go") is None:
        log(f"no Go toolchain; cannot build {what} from modules")
        return False
    started = time.monotonic()
    try:
        source = bridged.go_download(module, version)
    except RuntimeError as error:
        log(f"the Go module proxy does not serve {module}@{version}: {error}")
        return False
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "src"
        shutil.copytree(source, work)
        for path in work.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        edit = run(["go", "mod", "edit", *mod_edits], env=GO_ENV, cwd=work)
        if edit.returncode != 0:
            log(f"go mod edit failed: {edit.stderr.strip()}")
            return False
        output.parent.mkdir(parents=True, exist_ok=True)
        log(f"building {what} from Go modules")
        build = run(["go", "build", "-trimpath", "-tags", "osusergo,grpcnotrace", "-ldflags",
                     f"-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={version}",
                     "-o", str(output), package], env=GO_ENV, cwd=work)
        if build.returncode != 0:
            log(f"{what} build failed:\n{build.stderr[-3000:]}")
            return False
    log(f"built {what} in {time.monotonic() - started:.0f}s")
    return True


def build_cli(version: str, target: Path) -> bool:
    # pkg/v3's go.mod points sdk/v3 at a sibling directory; use the released module instead.
    return go_build("github.com/pulumi/pulumi/pkg/v3", f"v{version}", "./cmd/pulumi", target / "pulumi",
                    ["-dropreplace", "github.com/pulumi/pulumi/sdk/v3",
                     "-require", f"github.com/pulumi/pulumi/sdk/v3@v{version}"],
                    f"the Pulumi CLI v{version} (a few minutes on 2 cores)")


def acquire_cli(version: str) -> bool:
    target = cli_dir(version)
    return adopt_installed_cli(version, target) or download_release(version, target) or build_cli(version, target)


# The language host became a module of its own after this release, and the proxy refuses that
# module; up to here it is a package of sdk/v3, which the proxy serves. It runs programs of the
# current SDK (the exec script below comes from the current release), but its RunPlugin reads
# the request's `program` field, which current CLIs leave empty: Python policy packs would not
# start. toolchain/language-host is a small adapter of ours, installed as pulumi-language-python,
# that runs this host as pulumi-language-python-v3.68 and starts policy packs itself.
IN_MODULE_HOST_SDK = "v3.68.0"
INNER_HOST = "pulumi-language-python-v3.68"
ADAPTER = ROOT / "toolchain" / "language-host"
# Beside the binaries: `official` (the release's own host, which needs no adapter) or the source
# hash of the adapter built here (rebuilt when toolchain/language-host changes).
HOST_PROVENANCE = ".language-host-provenance"


def record_official_host(target: Path) -> None:
    if (target / "pulumi-language-python").exists():
        (target / HOST_PROVENANCE).write_text("official")


def has_language_host(version: str) -> bool:
    target = cli_dir(version)
    provenance = (target / HOST_PROVENANCE).read_text() if (target / HOST_PROVENANCE).exists() else ""
    if provenance == "official":
        return (target / "pulumi-language-python").exists()
    return all((target / name).exists() for name in ("pulumi-language-python", INNER_HOST)) and \
        provenance == bridged.source_hash(ADAPTER)


def acquire_language_host(version: str) -> bool:
    """Release tarball (via download_release) first; else the last in-module host, built from
    sdk/v3, behind the adapter."""
    target = cli_dir(version)
    built = (target / INNER_HOST).exists() or go_build(
        "github.com/pulumi/pulumi/sdk/v3", IN_MODULE_HOST_SDK, "./python/cmd/pulumi-language-python",
        target / INNER_HOST, ["-dropreplace", "golang.org/x/text"], f"pulumi-language-python {IN_MODULE_HOST_SDK}")
    if not built:
        return False
    try:
        bridged.build_program(ADAPTER, target / "pulumi-language-python", CACHE / "build" / "language-host")
    except RuntimeError as error:
        log(f"the language host adapter: {error}")
        return False
    (target / HOST_PROVENANCE).write_text(bridged.source_hash(ADAPTER))
    log("built the language host adapter (toolchain/language-host)")
    # The scripts the host runs must match the installed SDK, so they come from the current release.
    sdk = bridged.go_download("github.com/pulumi/pulumi/sdk/v3", f"v{version}") / "python"
    for script in (sdk / "cmd" / "pulumi-language-python-exec", sdk / "dist" / "pulumi-resource-pulumi-python"):
        shutil.copyfile(script, target / script.name)
        (target / script.name).chmod(0o755)
    return True


# --- provider plugins ------------------------------------------------------------------------

def installed_plugins(version: str) -> set[Plugin]:
    result = run([str(cli_dir(version) / "pulumi"), "plugin", "ls", "--json"], env=engine_env())
    if result.returncode != 0:
        return set()
    return {Plugin(p["name"], p["version"].lstrip("v")) for p in json.loads(result.stdout or "[]")
            if p.get("kind") == "resource"}


def provenance_file(plugin: Plugin) -> Path:
    """Records where an installed plugin came from: `official`, or the recipe hash of our build."""
    return CACHE / "pulumi-home" / "plugins" / f"resource-{plugin.name}-v{plugin.version}" / ".preflight-provenance"


def is_current(plugin: Plugin) -> bool:
    """An installed plugin we can build is current if it is official or built from today's recipe."""
    if plugin.name not in bridged.PROVIDERS:
        return True
    recorded = provenance_file(plugin).read_text() if provenance_file(plugin).exists() else ""
    return recorded in ("official", bridged.recipe(plugin.name))


def install_plugin_file(plugin: Plugin, binary: Path, version: str, provenance: str) -> bool:
    result = run([str(cli_dir(version) / "pulumi"), "plugin", "install", "resource", plugin.name, plugin.version,
                  "--file", str(binary), "--reinstall"], env=engine_env())
    if result.returncode != 0:
        log(f"{plugin.name}: `pulumi plugin install --file` failed: {result.stderr.strip()}")
        return False
    provenance_file(plugin).write_text(provenance)
    return True


def build_bridged_plugin(plugin: Plugin, version: str) -> bool:
    """Build from the served Terraform provider (scripts/plugins.py), cached by name, version and recipe."""
    if plugin.name not in bridged.PROVIDERS or shutil.which("go") is None:
        return False
    recipe = bridged.recipe(plugin.name)
    binary = CACHE / "plugins" / f"{plugin.name}-v{plugin.version}-{recipe}" / f"pulumi-resource-{plugin.name}"
    if not binary.exists():
        try:
            bridged.build_plugin(plugin.name, plugin.version, binary, CACHE / "build" / plugin.name, log)
        except RuntimeError as error:
            log(f"{plugin.name}: {error}")
            return False
    return install_plugin_file(plugin, binary, version, recipe)


def acquire_plugin(plugin: Plugin, version: str) -> bool:
    """The official plugin download, else a build from served modules."""
    pulumi = str(cli_dir(version) / "pulumi")
    attempt = run([pulumi, "plugin", "install", "resource", plugin.name, plugin.version, "--reinstall"],
                  env={**engine_env(), "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "false"})
    if attempt.returncode == 0:
        log(f"installed the official {plugin.name} v{plugin.version} plugin")
        provenance_file(plugin).write_text("official")
        return True
    if build_bridged_plugin(plugin, version):
        return True
    if plugin.name not in NOT_NEEDED_LOCALLY:
        log(f"{plugin.name} v{plugin.version}: no release download and no build route")
    return False


# --- entry points ----------------------------------------------------------------------------

def report(version: str, plugins: list[Plugin], missing: list[str], unavailable: list[str] = ()) -> int:
    for item in unavailable:
        log(f"not available on this machine (the local stack does not need it): {item}")
    if not missing:
        log(f"complete: Pulumi CLI v{version}, the Python language host and "
            f"{len(plugins) - len(unavailable)} of {len(plugins)} plugins")
        return 0
    print("\nThe Pulumi engine is incomplete; missing:", file=sys.stderr)
    for item in missing:
        print(f"  - {item}", file=sys.stderr)
    print("\nTo provide a plugin by hand: `pulumi plugin install resource <name> <version> --file <binary>` with\n"
          f"PULUMI_HOME={CACHE / 'pulumi-home'}; the CLI and language host go in {cli_dir(version)}.",
          file=sys.stderr)
    return EXIT_INCOMPLETE


def ensure(check_only: bool, engine_only: bool = False) -> int:
    """Each piece: present already, else (unless check_only) acquired, else reported missing.
    engine_only: just the CLI and the language host (enough for programs that stop before any provider)."""
    version = sdk_version()
    plugins = [] if engine_only else required_plugins()
    missing: list[str] = []
    has_cli = cli_version(cli_dir(version) / "pulumi") == version or (not check_only and acquire_cli(version))
    if not has_cli:
        return report(version, plugins, [f"Pulumi CLI v{version}", "pulumi-language-python",
                                         *(f"plugin {p.name} v{p.version}" for p in plugins)])
    has_host = has_language_host(version) or (not check_only and acquire_language_host(version))
    if not has_host:
        missing.append(f"pulumi-language-python v{version}")
    present = installed_plugins(version)
    unavailable: list[str] = []
    for plugin in plugins:
        if (plugin in present and is_current(plugin)) or (not check_only and acquire_plugin(plugin, version)):
            continue
        if plugin.name in NOT_NEEDED_LOCALLY:
            unavailable.append(f"plugin {plugin.name} v{plugin.version}: {NOT_NEEDED_LOCALLY[plugin.name]}")
        else:
            missing.append(f"plugin {plugin.name} v{plugin.version}")
    return report(version, plugins, missing, unavailable)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["ensure", "check", "env"])
    parser.add_argument("--engine-only", action="store_true", help="only the CLI and the Python language host")
    args = parser.parse_args()
    if args.command == "env":
        for key, value in engine_env().items():
            print(f"export {key}={json.dumps(value)}")
        return 0
    return ensure(check_only=args.command == "check", engine_only=args.engine_only)


if __name__ == "__main__":
    sys.exit(main())
