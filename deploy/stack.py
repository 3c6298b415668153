"""Open a stack of this project through the Automation API, with the engine this machine has."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from . import backend, checkpoints, locks
from .engine import LOCAL_BACKEND, engine_env
from .policy_pack import PACK, config_file

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT  # the project directory the command works on (`--project`)
# Pulumi.local.yaml carries the salt of this passphrase; other stacks bring their own.
LOCAL_PASSPHRASE = "preflight-local"


def engine_environment(stack: str) -> dict[str, str]:
    """The engine's environment for one stack: `local` on the project's file backend with its fixed
    passphrase; a cloud stack on the backend its team chose (backend.py), with the user's login."""
    env = engine_env()
    if stack == "local":
        env["PULUMI_CONFIG_PASSPHRASE"] = LOCAL_PASSPHRASE
    else:
        env["PULUMI_BACKEND_URL"] = backend.chosen(stack, PROJECT, Path(env["PULUMI_HOME"]), LOCAL_BACKEND)
        backend.share_login(Path(env["PULUMI_HOME"]))
    os.environ["PATH"] = env["PATH"]  # the Automation API looks for `pulumi` on this process's PATH
    return env


def project_dir() -> Path:
    return PROJECT


def project_name() -> str:
    return yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())["name"]


def report(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


def clear_stale_locks(stack: str, url: str | None = None) -> list[locks.Lock]:
    """Before any command on a stack: a lock left by a killed update of this host goes (said so);
    one held by a live process or another host stays, reported with the command that clears it.
    A checkpoint's attribute file the killed update left empty is rewritten. url: the stack's
    backend (default: as its engine environment says)."""
    url = url or engine_environment(stack)["PULUMI_BACKEND_URL"]
    held = locks.clear_stale_locks(url, project_name(), stack, report)
    if not held:  # with a live update running, its files are its own
        checkpoints.repair(url, project_name(), stack, report)
    return held


class StackLocked(Exception):
    """Another update holds the stack (reported with who and how to clear it)."""


def select(stack: str, *, changes: bool = False) -> auto.Stack:
    """changes: the command updates the stack, so a lock held by someone else stops it here."""
    env = engine_environment(stack)
    if clear_stale_locks(stack, env["PULUMI_BACKEND_URL"]) and changes:
        raise StackLocked(stack)
    try:
        return auto.select_stack(stack_name=stack, work_dir=str(PROJECT), opts=auto.LocalWorkspaceOptions(env_vars=env))
    except auto.StackNotFoundError:
        if stack == "local":
            raise
        raise backend.NoBackend(backend.missing_stack_message(stack, env["PULUMI_BACKEND_URL"])) from None


def operations(stack: auto.Stack) -> dict[str, Any]:
    outputs = stack.outputs()
    if "operations" not in outputs:
        raise SystemExit(f"stack {stack.name} has no `operations` output: run `pulumi up` with this version first")
    return outputs["operations"].value


def pack_options(stack_name: str) -> dict[str, list[str]]:
    """The policy pack and the stack's enforcement config, as Automation API arguments."""
    return {"policy_packs": [str(PACK)], "policy_pack_configs": [str(config_file(stack_name))]}
