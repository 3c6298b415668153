"""The config a user reads about matches the settings models: Pulumi.yaml's config section names
every top-level setting, and the README's configuration table mentions every field of each."""

from __future__ import annotations

import re

import yaml
from pydantic import BaseModel

from components import cloud_settings, ssh_settings
from components import settings as s
from components.settings import monitoring
from tests.stack_config import ROOT

# The models behind each README row (nested models' fields are listed in the same row).
ROWS: dict[str, tuple[type[BaseModel], ...]] = {
    "host": (s.LocalHost, cloud_settings.HetznerHost, cloud_settings.LoadBalancerSettings, ssh_settings.SshHost,
             ssh_settings.SshServer, cloud_settings.CloudflareRanges),
    "edge": (cloud_settings.EdgeSettings, cloud_settings.RateLimit),
    "monitoring": (monitoring.MonitoringSettings, monitoring.Thresholds, monitoring.WebhookReceiver,
                   monitoring.ChatReceiver, monitoring.EmailReceiver, monitoring.Queue),
    "backup": (s.BackupSettings, s.Retention, s.S3Repository, s.RestoreChecks),
    "database": (s.DatabaseSettings,),
    "cache": (s.CacheSettings,),
    "proxy": (s.ProxySettings,),
    "services.<name>": (s.ServiceSettings, s.Route),
    "secrets.<name>": (s.GeneratedSecret, s.ConfigSecret),
}


def readme_rows() -> dict[str, str]:
    section = (ROOT / "README.md").read_text().split("## Configuration (`preflight:*`)", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \| (.*) \|$", section, re.M)}


# Sections only cloud stacks have: a declaration in Pulumi.yaml would make them required everywhere.
CLOUD_ONLY = {"edge"}


def test_pulumi_yaml_declares_every_top_level_setting_every_stack_has():
    declared = set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])
    assert declared == {f"preflight:{key}" for key in s.StackSettings.model_fields if key not in {"stack", *CLOUD_ONLY}}


def test_the_readme_table_has_a_row_per_setting_naming_every_field():
    rows = readme_rows()
    assert set(rows) == {"environment", "domain", *ROWS}
    missing = {row: sorted(field for model in models for field in model.model_fields
                           if field not in ("kind", "source") and not re.search(rf"\b{field}\b", rows[row]))
               for row, models in ROWS.items()}
    assert {row: fields for row, fields in missing.items() if fields} == {}
