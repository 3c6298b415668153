"""The preflight policy pack: the deployment checklist enforced at `pulumi preview`.

Enforcement per stack comes from the config files in config/ (`--policy-pack-config`), not from here.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: components.secret_names

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from rules import ALL_RULES  # noqa: E402

PolicyPack(
    name="preflight",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[rule.to_policy() for rule in ALL_RULES],
)
