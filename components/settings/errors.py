"""How a settings problem reads: one line naming the setting (`preflight:host.server_type`) and
the fix. A check raises `fix_at(location, template)`; the location travels in the error's context,
structured, and `describe` turns pydantic's errors into those lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pydantic_core import PydanticCustomError

NAMESPACE = "preflight"


def fix(template: str, **context: Any) -> PydanticCustomError:
    """A problem at the place pydantic is validating."""
    return PydanticCustomError("fix", template, context)


def fix_at(location: Iterable[Any], template: str, **context: Any) -> PydanticCustomError:
    """A problem at another setting than the one being validated (a check across sections)."""
    return PydanticCustomError("fix", template, {**context, "at": ".".join(map(str, location))})


def listing(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"


FIXES = {
    "missing": "it is required; add it to Pulumi.{stack}.yaml",
    "extra_forbidden": "it is not a known setting; remove it or fix its spelling",
    "string_pattern_mismatch": "use a value matching {pattern}",
    "literal_error": "use one of: {expected}",
    "union_tag_invalid": "set {discriminator} to one of: {expected_tags}",
    "union_tag_not_found": "set source to generated or config",
}


# pydantic puts the chosen variant of a tagged union into the location (host.hetzner.app_servers);
# the user wrote host.app_servers.
UNION_TAGS = {"host": ("local", "hetzner", "ssh"), "repository": ("volume", "s3")}


def describe(error: Mapping[str, Any], stack: str) -> str:
    loc: list[str] = []
    for part in map(str, error["loc"]):
        after_secret = len(loc) == 2 and loc[0] == "secrets" and part in ("generated", "config")
        if part.startswith("function-") or after_secret or (loc and part in UNION_TAGS.get(loc[-1], ())):
            continue
        loc.append(part)
    message: str = error["msg"]
    if error["type"] == "fix":
        at = (error.get("ctx") or {}).get("at")
        return f"{setting_name(at.split('.') if at else loc)}: {message}"
    ctx = {k: v for k, v in (error.get("ctx") or {}).items()}
    fix = FIXES.get(error["type"])
    if fix is None:
        got = error.get("input")
        shown = "" if isinstance(got, (dict, list)) or error["type"] == "missing" else f" (got {got!r})"
        return f"{setting_name(loc)}: {message[0].lower() + message[1:]}{shown}"
    return f"{setting_name(loc)}: {fix.format(stack=stack, **ctx)}"


def setting_name(loc: list[str]) -> str:
    return f"{NAMESPACE}:{'.'.join(loc)}" if loc else f"{NAMESPACE} config"


class SettingsError(pulumi.RunError):
    """Invalid stack config. The message lists every problem, each with its setting and fix."""

    def __init__(self, stack: str, problems: list[str]):
        self.problems = problems
        header = f"stack {stack!r} has {len(problems)} config problem{'s' if len(problems) > 1 else ''}:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))
