"""python -m deploy: operations on a deployed stack.

  backup STACK                                 take a backup now; print the snapshot
  snapshots STACK                              list the backup snapshots
  restore-drill STACK                          restore the newest snapshot into a scratch database,
                                               run the stack's restore checks, print RPO and RTO
  restore STACK --snapshot ID --confirm STACK  restore into the LIVE database (a safety backup first)

Exit codes: 0 done, 1 failed, 2 usage, 3 the backup repository's password does not open it,
4 the restore drill ran but a check failed.
"""

from __future__ import annotations

import argparse
import sys

from . import backups, stack

EXIT_CHECKS_FAILED = 4


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m deploy", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True)
    for name, help_text in (("backup", "take a backup now"), ("snapshots", "list snapshots"),
                            ("restore-drill", "restore the newest snapshot into a scratch database and check it")):
        commands.add_parser(name, help=help_text).add_argument("stack")
    restore = commands.add_parser("restore", help="restore a snapshot into the live database")
    restore.add_argument("stack")
    restore.add_argument("--snapshot", required=True, help="snapshot id (from `snapshots`) or latest")
    restore.add_argument("--confirm", required=True, metavar="STACK", help="the stack name again")
    return root


def progress(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "restore" and args.confirm != args.stack:
        print(f"refusing to restore into the live database of {args.stack}: pass --confirm {args.stack}",
              file=sys.stderr)
        return 2
    ops = stack.operations(stack.select(args.stack))
    docker = backups.Docker(ops["docker_host"])
    try:
        if args.command == "backup":
            snapshot = backups.backup_now(docker, ops["backup_container"])
            print(f"snapshot {snapshot.id} taken {snapshot.time:%Y-%m-%d %H:%M:%S} UTC")
        elif args.command == "snapshots":
            for snapshot in backups.snapshots(docker, ops["backup_container"]):
                print(f"{snapshot.id}  {snapshot.time:%Y-%m-%d %H:%M:%S} UTC  ({snapshot.age_s:.0f}s ago)")
        elif args.command == "restore-drill":
            report = backups.restore_drill(docker, ops, progress)
            print("\n".join(report.lines()))
            return EXIT_CHECKS_FAILED if report.failures else 0
        elif args.command == "restore":
            safety = backups.restore_live(docker, ops, args.snapshot, progress)
            print(f"restored {args.snapshot} into the live database of {args.stack}; the state before it is "
                  f"snapshot {safety.id}")
    except backups.BackupError as error:
        print(f"{args.command} failed: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
