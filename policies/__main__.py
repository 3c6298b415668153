"""The preflight policy pack: the deployment checklist enforced at `pulumi preview`.

Enforcement per stack comes from the config files in config/ (`--policy-pack-config`), not from here.
"""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_RULES  # the pack's own modules; components.secret_names comes from the project, installed

PolicyPack(
    name="preflight",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[rule.to_policy() for rule in ALL_RULES],
)
