"""Open a stack of this project through the Automation API, with the engine this machine has."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from . import locks
from .engine import engine_env
from .policy_pack import PACK, config_file

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT  # the project directory the command works on (`--project`)
# Pulumi.local.yaml carries the salt of this passphrase; other stacks bring their own.
LOCAL_PASSPHRASE = "preflight-local"


def engine_environment(stack: str) -> dict[str, str]:
    env = engine_env()
    if stack == "local":
        env["PULUMI_CONFIG_PASSPHRASE"] = LOCAL_PASSPHRASE
    os.environ["PATH"] = env["PATH"]  # the Automation API looks for `pulumi` on this process's PATH
    return env


def project_dir() -> Path:
    return PROJECT


def project_name() -> str:
    return yaml.safe_load((PROJECT / "Pulumi.yaml").read_text())["name"]


def report(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


def clear_stale_locks(stack: str) -> list[locks.Lock]:
    """Before any command on a stack: a lock left by a killed update of this host goes (said so);
    one held by a live process or another host stays, reported with the command that clears it."""
    return locks.clear_stale_locks(engine_environment(stack)["PULUMI_BACKEND_URL"], project_name(), stack, report)


class StackLocked(Exception):
    """Another update holds the stack (reported with who and how to clear it)."""


def select(stack: str, *, changes: bool = False) -> auto.Stack:
    """changes: the command updates the stack, so a lock held by someone else stops it here."""
    if clear_stale_locks(stack) and changes:
        raise StackLocked(stack)
    return auto.select_stack(stack_name=stack, work_dir=str(PROJECT),
                             opts=auto.LocalWorkspaceOptions(env_vars=engine_environment(stack)))


def operations(stack: auto.Stack) -> dict[str, Any]:
    outputs = stack.outputs()
    if "operations" not in outputs:
        raise SystemExit(f"stack {stack.name} has no `operations` output: run `pulumi up` with this version first")
    return outputs["operations"].value


def pack_options(stack_name: str) -> dict[str, list[str]]:
    """The policy pack and the stack's enforcement config, as Automation API arguments."""
    return {"policy_packs": [str(PACK)], "policy_pack_configs": [str(config_file(stack_name))]}
