"""python -m deploy: preview, apply and operate a stack through the Automation API.

  preview STACK [--report-dir DIR] [--save-plan FILE]
                        preview with the policy pack at the stack's enforcement; writes preview.md
                        (for a PR comment) and preview.json; stateful replacements flagged on top
  up STACK [--plan FILE] [--deadline S]
                        apply (exactly the saved plan, if given), then the health gate: every public
                        health URL must answer 200 (1 s polling) before the deadline; on failure
                        roll back to the previous release
  releases STACK        the releases that passed the gate (kept as stack tags)
  rollback STACK [N]    return to release N (default: the one before the current)
  drift STACK           refresh, then expect no changes; a report of what differs
  user-data STACK [SERVER]   the cloud-init user data a server of `host.kind: ssh` must be created with
  destroy STACK [--confirm STACK]   production needs the stack name typed again
  backup STACK | snapshots STACK | restore-drill STACK | restore STACK --snapshot ID --confirm STACK
  cost STACK            the stack's monthly Hetzner bill by resource
  alerts STACK [--test] the alerts firing now (value, since when); --test sends a test notification
                        through every receiver and says which answered
  env STACK             the stack's engine environment as shell exports
  unlock STACK          remove locks left by killed updates of this host

Exit codes (deploy/exit_codes.py): 0 done; 1 failed; 2 usage, refused without confirmation, or no
backend chosen; 3 the backup repository's password does not open it; 4 a restore drill's check
failed; 5 the policy pack refused the preview, or a live update holds the stack; 6 the health gate
failed (rolled back); 7 drift found; 8 a critical alert is firing, or a receiver did not answer
`alerts --test`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import backend, stack
from .alerts import cmd_alerts
from .commands import (
    DEFAULT_DEADLINE_S,
    cmd_backups,
    cmd_cost,
    cmd_destroy,
    cmd_drift,
    cmd_env,
    cmd_preview,
    cmd_releases,
    cmd_rollback,
    cmd_unlock,
    cmd_up,
    cmd_user_data,
    failure_lines,
    progress,
)
from .exit_codes import Exit

__all__ = ["failure_lines", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m deploy", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    root.add_argument("--project", type=Path, default=stack.ROOT, help="the Pulumi project directory (default: this one)")
    root.add_argument("--json", action="store_true", help="machine-readable results on stdout")
    commands = root.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("stack")
        sub.set_defaults(handler=handler)
        return sub

    preview = command("preview", cmd_preview, "preview with the policy pack; Markdown and JSON reports")
    preview.add_argument("--report-dir")
    preview.add_argument("--save-plan", metavar="FILE", help="save the update plan for `up --plan`")
    up = command("up", cmd_up, "apply, then the health gate; roll back on failure")
    up.add_argument("--plan", metavar="FILE", help="apply exactly this saved plan")
    up.add_argument("--deadline", type=float, default=DEFAULT_DEADLINE_S, help="seconds the gate waits")
    command("releases", cmd_releases, "releases that passed the health gate")
    command("rollback", cmd_rollback, "return to an earlier release").add_argument("release", type=int, nargs="?")
    command("drift", cmd_drift, "refresh and report what differs from the program")
    command("alerts", cmd_alerts, "the alerts firing now; --test: a test notification through every receiver") \
        .add_argument("--test", action="store_true", help="send a test notification and report which receivers answered")
    command("cost", cmd_cost, "the stack's monthly Hetzner bill by resource (net and gross)")
    command("env", cmd_env, "print the stack's engine environment (backend, engine home, PATH) as shell exports")
    command("unlock", cmd_unlock, "remove locks left by killed updates of this host; report any other")
    command("user-data", cmd_user_data, "print the user data a server (host.kind: ssh) must be created with") \
        .add_argument("server", nargs="?", help="data, app1, app2, ... (default: the only one)")
    command("destroy", cmd_destroy, "destroy the stack").add_argument("--confirm", metavar="STACK")
    for name, help_text in (("backup", "take a backup now"), ("snapshots", "list backup snapshots"),
                            ("restore-drill", "restore the newest snapshot into a scratch database and check it")):
        command(name, cmd_backups, help_text)
    restore = command("restore", cmd_backups, "restore a snapshot into the live database")
    restore.add_argument("--snapshot", required=True, help="snapshot id (from `snapshots`) or latest")
    restore.add_argument("--confirm", required=True, metavar="STACK", help="the stack name again")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    stack.PROJECT = args.project.resolve()
    try:
        return args.handler(args)
    except stack.StackLocked:
        return Exit.REFUSED
    except backend.NoBackend as refused:
        progress(str(refused))
        return Exit.USAGE


if __name__ == "__main__":
    sys.exit(main())
