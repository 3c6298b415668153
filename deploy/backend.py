"""Which backend holds a stack's state.

`local` lives in the project's own file backend (`.state/`, or PULUMI_BACKEND_URL). A cloud stack
lives where its team keeps it: PULUMI_BACKEND_URL, else `backend.url` in Pulumi.yaml, else the
backend the user logged in to (`pulumi login`, recorded in their Pulumi home). With none of these,
or with the project's own `.state/` (where a cloud stack would look brand new), nothing runs: a
preview against an empty backend shows every resource "to create", and an `up` would build a
second production beside the real one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

CLOUD_HINT = ("choose where its state lives: `pulumi login <backend>` (Pulumi Cloud, s3://..., gs://..., "
              "file://<shared path>), or PULUMI_BACKEND_URL, or `backend: {url: ...}` in Pulumi.yaml")


class NoBackend(Exception):
    """The stack's backend is not chosen, or is the wrong one; the message says what to run."""


def user_pulumi_home(engine_home: Path) -> Path:
    """The user's own Pulumi home (their login), as opposed to the engine home this project may use."""
    chosen = os.environ.get("PULUMI_HOME")
    return Path(chosen) if chosen and Path(chosen) != engine_home else Path.home() / ".pulumi"


def logged_in_backend(home: Path) -> str | None:
    try:
        return json.loads((home / "credentials.json").read_text()).get("current") or None
    except (OSError, ValueError, AttributeError):
        return None


def project_backend(project: Path) -> str | None:
    try:
        document = yaml.safe_load((project / "Pulumi.yaml").read_text()) or {}
    except OSError:
        return None
    return ((document.get("backend") or {}).get("url")) or None


def chosen(stack: str, project: Path, engine_home: Path, local_url: str) -> str:
    """The backend URL for `stack` (local_url: the project's own file backend, for `local`);
    NoBackend when a cloud stack has none chosen, or would use local_url."""
    if stack == "local":
        return os.environ.get("PULUMI_BACKEND_URL") or local_url
    url = os.environ.get("PULUMI_BACKEND_URL") or project_backend(project) or \
        logged_in_backend(user_pulumi_home(engine_home))
    if not url:
        raise NoBackend(f"stack {stack} has no backend: {CLOUD_HINT}. Nothing was run.")
    if url.rstrip("/") == local_url.rstrip("/"):
        raise NoBackend(f"stack {stack} would run against {url}, the project's backend for the `local` stack, where "
                        f"{stack} would look brand new: {CLOUD_HINT}. Nothing was run.")
    return url


def share_login(engine_home: Path) -> None:
    """When the project runs the engine from a home of its own (plugins it built), the user's login
    (credentials.json: tokens, current backend) is linked into it, so the CLI acts as the user."""
    user_credentials = user_pulumi_home(engine_home) / "credentials.json"
    linked = engine_home / "credentials.json"
    if not user_credentials.exists() or user_credentials.resolve() == linked.resolve():
        return
    if linked.exists() and not linked.is_symlink():
        return  # a login made with the engine home itself: the user's own doing, kept
    engine_home.mkdir(parents=True, exist_ok=True)
    linked.unlink(missing_ok=True)
    linked.symlink_to(user_credentials)


def missing_stack_message(stack: str, url: str) -> str:
    return (f"backend {url} has no stack {stack}: if this is its first deployment, create it there with "
            f"`pulumi stack init {stack}` (and its secrets provider); if it should exist, check which backend you "
            f"are logged in to (`pulumi whoami -v`). Nothing was run.")
