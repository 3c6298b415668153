"""The engine every Pulumi command of this project runs with: the CLI the toolchain installed for the
installed SDK's version, the project's virtualenv first on PATH (the language host runs the
`python3` it finds first), the engine home under $PREFLIGHT_CACHE, and the offline flags."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("PREFLIGHT_CACHE", Path.home() / ".cache" / "preflight"))
LOCAL_BACKEND = f"file://{ROOT / '.state'}"  # the project's own file backend: where `local` lives


def sdk_version() -> str:
    return importlib.metadata.version("pulumi")


def engine_env() -> dict[str, str]:
    """The variables every Pulumi invocation of this project runs with."""
    version = sdk_version()
    return {
        # The served language host runs the `python3` it finds first: the project's virtualenv.
        "PATH": os.pathsep.join([str(cli_dir(version)), str(ROOT / ".venv" / "bin"), os.environ.get("PATH", "")]),
        "PULUMI_HOME": str(CACHE / "pulumi-home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_BACKEND_URL": os.environ.get("PULUMI_BACKEND_URL", LOCAL_BACKEND),
    }


def cli_dir(version: str) -> Path:
    return CACHE / "toolchain" / f"pulumi-v{version}"


