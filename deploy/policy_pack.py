"""The policy pack and the enforcement config that belongs to each stack (policies/config/<stack>.json):
what `deploy preview`, `make preview` and the engine tests pass to `pulumi preview`."""

from __future__ import annotations

from pathlib import Path

from .engine import ROOT

PACK = ROOT / "policies"


def config_file(name: str) -> Path:
    """A stack's enforcement config, or a path given as is (a test's own config)."""
    path = Path(name)
    return path if path.suffix == ".json" else PACK / "config" / f"{name}.json"


def pack_arguments(stack_or_config: str) -> list[str]:
    config = config_file(stack_or_config)
    if not config.exists():
        raise SystemExit(f"no policy config for {stack_or_config!r}: expected {config}; "
                         f"one of: {', '.join(sorted(p.stem for p in (PACK / 'config').glob('*.json')))}")
    return ["--policy-pack", str(PACK), "--policy-pack-config", str(config)]
