"""Reading the shipped stack files the way the Pulumi engine hands them to the program."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "preflight:"


def stack_config(stack: str) -> dict[str, Any]:
    """`preflight:*` values of Pulumi.<stack>.yaml, namespace stripped, structured values decoded."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    return {k[len(NAMESPACE):]: copy.deepcopy(v) for k, v in document["config"].items() if k.startswith(NAMESPACE)}


def engine_config(raw: dict[str, Any]) -> dict[str, str]:
    """What the engine passes in PULUMI_CONFIG: namespaced keys, structured values as JSON text."""
    return {f"{NAMESPACE}{k}": json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in raw.items()}


# Placeholder values for the config secrets the shipped cloud stacks require.
CLOUD_SECRETS = {"sentryDsn": "https://public@sentry.example.com/1", "backupPassword": "b" * 40,
                 "backupS3AccessKeyId": "AKIAEXAMPLEEXAMPLE00", "backupS3SecretAccessKey": "s" * 40,
                 "alertsSlackUrl": "https://hooks.slack.com/services/T000/B000/" + "x" * 24}
