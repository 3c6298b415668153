"""Observability: production services that take public traffic report their errors somewhere."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from .base import CONTAINER, env_items, label_map, role, rule_maker


def error_tracking_declared(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) != "service" or label_map(props).get("preflight.public") != "true":
        return
    if not any("DSN" in key.upper() for key, _ in env_items(props)):
        yield ("declare an error-tracking DSN for this public service (e.g. secret_env SENTRY_DSN: sentry_dsn, with "
               "sentry_dsn a config secret), so its errors reach someone")


_rule = rule_maker("observability")

RULES = [
    _rule("PF-OBS-001", "Public production services declare an error-tracking DSN.", Severity.LOW,
          "monitoring active, error tracking", error_tracking_declared, types=(CONTAINER,), production_only=True),
]
