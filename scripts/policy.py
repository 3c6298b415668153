"""How a stack is previewed with the policy pack: the pack directory and the enforcement config
that belongs to the stack (policies/config/<stack>.json). `make preview STACK=...` and the
engine tests build their command lines here.

    python scripts/policy.py STACK   # prints the arguments for `pulumi preview`
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


if __name__ == "__main__":
    print(" ".join(pack_arguments(sys.argv[1])))
