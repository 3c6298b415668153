"""Secrets written out in any field of a resource: command lines, healthchecks, URLs with a password,
server labels and user data alike. One detection (components/secret_names.py) for the settings and the
pack; env and container labels are PF-SEC-001 and 002, uploads are where secrets belong (as files)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError

from components.secret_names import secrets_in

JUDGED_ELSEWHERE = ("envs", "uploads")  # PF-SEC-001; uploads carry the secret files themselves
FIX = "take it out and deliver the secret as a file (settings: secret_env, read from /run/secrets/<name>)"


def secrets_in_fields(props: Mapping[str, Any]) -> Iterator[str]:
    """Every field but env and uploads (and a container's labels: PF-SEC-002); a field unknown at
    preview is skipped, and the rule is not applicable if nothing else was found."""
    name, unknown = _name(props), None
    for key in list(props.keys()):
        if key in JUDGED_ELSEWHERE:
            continue
        try:
            value = props[key]
            if key == "labels" and not isinstance(value, Mapping):
                continue  # a container's labels (a list); a server's (a map) are judged here
            found = list(secrets_in(value, key))
        except UnknownValueError as error:
            unknown = unknown or error
            continue
        for path, what in found:
            yield f"{path} of {name} carries {what}; {FIX}"
    if unknown is not None:
        raise unknown


def _name(props: Mapping[str, Any]) -> str:
    try:
        return str(props.get("name") or "this resource")
    except UnknownValueError:
        return "this resource"
