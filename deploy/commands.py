"""What each `python -m deploy` command does (the parser is in __main__.py): its handler `cmd_*`
and the steps handlers share (applying with progress lines, the health gate, the stack's Docker
engines, interrupted-update recovery)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from . import backups, gate, orphans, pricing, releases, stack
from .docker import Docker, DockerError
from .exit_codes import Exit
from .report import Report
from .rollout import ApplyFailed, Rollout
from .unhealthy import UnhealthyWatch

DEFAULT_DEADLINE_S = 30.0


def progress(message: str) -> None:
    print(f"[deploy] {message}", file=sys.stderr, flush=True)


def step_progress(started: float, errors: list[str] | None = None):
    """Engine events -> one line per finished step: elapsed, operation, resource. Error
    diagnostics (what failed, in the provider's or program's words) are collected in `errors`."""
    def on_event(event: auto.EngineEvent) -> None:
        diagnostic = event.diagnostic_event
        if errors is not None and diagnostic and diagnostic.severity == "error" and diagnostic.message.strip():
            errors.append(diagnostic.message.strip())
        if event.res_outputs_event and event.res_outputs_event.metadata.op != auto.OpType.SAME:
            meta = event.res_outputs_event.metadata
            progress(f"{time.monotonic() - started:6.1f}s  {meta.op.value:<8} {meta.urn.split('::')[-1]}")
        elif event.res_op_failed_event:
            meta = event.res_op_failed_event.metadata
            progress(f"{time.monotonic() - started:6.1f}s  FAILED   {meta.urn.split('::')[-1]}")
    return on_event


def config_file(name: str) -> Path:
    return stack.project_dir() / f"Pulumi.{name}.yaml"


def cmd_preview(args) -> int:
    target = stack.select(args.stack)
    report = Report(args.stack, prices=pricing.current_table(os.environ.get("HCLOUD_TOKEN")))
    options = stack.pack_options(args.stack)
    try:
        result = target.preview(on_event=report.on_event, color="never", plan=args.save_plan,
                                policy_packs=options["policy_packs"], policy_pack_configs=options["policy_pack_configs"])
        report.count(result.change_summary)
    except auto.CommandError as error:
        report.failed = "refused by the policy pack" if report.mandatory else str(error).strip().splitlines()[-1]
    out = Path(args.report_dir or stack.project_dir() / ".state" / "reports" / args.stack)
    out.mkdir(parents=True, exist_ok=True)
    (out / "preview.md").write_text(report.markdown())
    (out / "preview.json").write_text(report.json())
    print(report.json() if args.json else report.markdown())
    progress(f"reports: {out / 'preview.md'}, {out / 'preview.json'}")
    if report.mandatory:
        return Exit.REFUSED
    return Exit.FAILED if report.failed else 0


def apply(target: auto.Stack, config: Path | None, plan: str | None, errors: list[str] | None = None) -> auto.UpResult:
    started = time.monotonic()
    return target.up(on_event=step_progress(started, errors), color="never", show_secrets=False, plan=plan,
                     config_file=str(config) if config else None)


def failure_lines(error: auto.CommandError, diagnostics: list[str]) -> list[str]:
    """What failed, in words: the engine's error diagnostics, else the last meaningful lines the
    CLI printed (never an empty `stderr:`)."""
    text = "\n".join(diagnostics) if diagnostics else str(error)
    code = re.search(r"^\s*code: (-?\d+)", text, re.M)
    lines = [re.sub(r"^(stdout|stderr):\s*", "", line.strip()) for line in text.splitlines()]
    lines = [line for line in lines if line and not re.match(r"code: -?\d+$", line) and line != "error: update failed"]
    return list(dict.fromkeys(lines))[-6:] or [
        f"the pulumi command failed{f' with exit code {code.group(1)}' if code else ''} and printed nothing"]


def record_running_release(target: auto.Stack) -> None:
    """A stack brought up by `make up` or a plain `pulumi up` has no recorded release: record what its
    last successful update deployed, so this update can roll back to it."""
    if releases.recorded(target):
        return
    updates = [u for u in target.history(page_size=10) if u.kind == "update"]
    outputs = target.outputs()
    if not updates or updates[0].result != "succeeded" or "images" not in outputs:
        return
    release = releases.record(target, outputs["images"].value)
    progress(f"recorded the running release as release {release.number} ({release.line().split('  ')[-1]}): "
             f"a failed update rolls back to it")


def gate_passes(target: auto.Stack, deadline_s: float) -> bool:
    outputs = target.outputs()
    urls = sorted(outputs["health_urls"].value.values()) if "health_urls" in outputs else []
    ca = outputs["tls_certificate_pem"].value if target.name == "local" else None
    result = gate.wait_healthy(urls, ca, deadline_s, progress)
    if not result.passed:
        progress(f"health gate failed after {result.seconds:.1f}s: " +
                 ", ".join(f"{u} -> {code or 'no answer'}" for u, code in result.last_status.items() if code != 200))
    return result.passed


def docker_engines(target: auto.Stack) -> list[Docker]:
    """The Docker engines the stack's containers run on (none before the first up)."""
    outputs = target.outputs()
    if "operations" not in outputs:
        return []
    operations = outputs["operations"].value
    return [Docker(e["host"], tuple(e.get("ssh_options") or ())) for e in operations.get("docker_engines", [])] \
        or [Docker(operations["docker_host"])]


def resolve_pending_operations(target: auto.Stack) -> Mapping[str, Any]:
    """Returns the stack's deployment, settled."""
    """An update killed mid-operation leaves it pending in the state. A pending create may or may not
    exist: it is dropped from the state (a refresh that clears pending creates), and if the container
    was made after all, the orphan sweep after the update removes it. Pending updates and deletes are
    settled by the same refresh, which reads what really exists."""
    deployment = target.export_stack().deployment or {}
    pending = deployment.get("pending_operations") or []
    if not pending:
        return deployment
    for operation in pending:
        progress(f"an interrupted update left {operation.get('type', '?')} of "
                 f"{operation.get('resource', {}).get('urn', '?').split('::')[-1]} pending")
    started = time.monotonic()
    target.refresh(clear_pending_creates=True, color="never")
    progress(f"refreshed the state and cleared the pending operations in {time.monotonic() - started:.1f}s")
    return target.export_stack().deployment or {}


def sweep_orphans(stack_name: str, deployment: Mapping[str, Any], engines: list[Docker], *, remove: bool) -> orphans.Orphans:
    """Containers (and volumes, networks) with the stack's labels that its state does not have."""
    found = orphans.find(stack_name, deployment, engines)
    for line in found.lines():
        progress(line)
    if remove:
        for line in orphans.remove(found):
            progress(line)
    return found


def engines_answer(engines: list[Docker]) -> bool:
    """Every Docker engine of the stack answers; if one does not, say which, before anything changes."""
    for engine in engines:
        try:
            result = engine.run("version", "--format", "{{.Server.Version}}", check=False, timeout=20)
            error = (result.stderr or result.stdout).strip() if result.returncode != 0 else ""
        except subprocess.TimeoutExpired:
            error = "no answer in 20 s"
        if error:
            progress(f"the Docker engine at {engine.host} does not answer ({error.splitlines()[-1]}); nothing was "
                     f"changed: start it (or check that the server is up and reachable), then run this again")
            return False
    return True


def applied(target: auto.Stack, config: Path | None, plan: str | None) -> None:
    """An update; ApplyFailed saying what failed, in the engine's words, when it fails."""
    errors: list[str] = []
    try:
        apply(target, config, plan, errors)
    except auto.CommandError as error:
        raise ApplyFailed(failure_lines(error, errors)) from None


def cmd_up(args) -> int:
    target = stack.select(args.stack, changes=True)
    engines = docker_engines(target)
    if not engines_answer(engines):
        return Exit.FAILED
    images = releases.images_in(config_file(args.stack))
    deployment = resolve_pending_operations(target)
    sweep_orphans(args.stack, deployment, engines, remove=False)
    record_running_release(target)

    def release() -> None:
        with UnhealthyWatch(args.stack, engines, progress, orphans.Known.of(deployment).networks):
            applied(target, None, args.plan)
        # The state's containers serve every route now (and a first up has made its engines).
        sweep_orphans(args.stack, target.export_stack().deployment or {}, docker_engines(target), remove=True)

    outcome = rollout_of(target, args.stack, release, lambda: gate_passes(target, args.deadline)).run(images)
    emit(args, outcome.summary(args.stack))
    return outcome.exit


def rollout_of(target: auto.Stack, name: str, release: Callable[[], None], gate: Callable[[], bool]) -> Rollout:
    return Rollout(target, config_file(name), release, lambda config: applied(target, config, None), gate, progress)


def emit(args, data) -> None:
    if args.json:
        print(json.dumps(data, indent=2))


def cmd_releases(args) -> int:
    recorded = releases.recorded(stack.select(args.stack))
    if args.json:
        emit(args, [{"number": r.number, "at": r.at, "images": r.images} for r in recorded])
    for release in [] if args.json else recorded:
        print(release.line())
    return 0


def cmd_rollback(args) -> int:
    target = stack.select(args.stack, changes=True)
    known = {r.number: r for r in releases.recorded(target)}
    release = known.get(args.release) if args.release else releases.previous(
        target, known[max(known)].images if known else {})
    if release is None:
        print(f"no such release; `python -m deploy releases {args.stack}` lists them", file=sys.stderr)
        return Exit.USAGE
    gate = lambda: gate_passes(target, DEFAULT_DEADLINE_S)  # noqa: E731
    try:
        rollout_of(target, args.stack, lambda: None, gate).roll_back_to(release)
    except ApplyFailed as failed:
        progress(f"the rollback to release {release.number} failed:")
        for line in failed.lines:
            progress(f"  {line}")
        return Exit.FAILED
    return 0 if gate() else Exit.GATE


def cmd_drift(args) -> int:
    target = stack.select(args.stack, changes=True)
    target.refresh(color="never")
    report = Report(args.stack)
    result = target.preview(on_event=report.on_event, color="never")
    report.count(result.change_summary)
    unknown = orphans.find(args.stack, target.export_stack().deployment or {}, docker_engines(target)).lines()
    if args.json:
        print(json.dumps({**json.loads(report.json()), "not_in_state": unknown}, indent=2))
    elif not report.steps and not unknown:
        print(f"no drift: {args.stack} matches its program")
    else:
        if report.steps:
            print(report.markdown())
        if unknown:
            print("\n### Not in the state\n\n" + "\n".join(f"- {line}" for line in unknown))
    return Exit.DRIFT if report.steps or unknown else 0


def plain(value):
    """A state value as exported with --show-secrets (secrets come wrapped with their plaintext)."""
    if isinstance(value, dict) and "plaintext" in value:
        return json.loads(value["plaintext"])
    return value


def cmd_user_data(args) -> int:
    """The user data a server of `host.kind: ssh` must be created with (the provider's user-data
    field, or a cloud-init seed), as the last `up` rendered it."""
    deployment = stack.select(args.stack).export_stack().deployment or {}
    rendered = {plain(r["outputs"]["server"]): plain(r["outputs"]["user_data"]) for r in deployment.get("resources") or []
                if plain((r.get("outputs") or {}).get("role")) == "user-data"}
    if not rendered:
        print(f"no user data in {args.stack} yet: run `python -m deploy up {args.stack}` first; it generates each "
              f"server's host key and user data, and stops before deploying to a server not prepared with it",
              file=sys.stderr)
        return Exit.FAILED
    name = args.server or (next(iter(rendered)) if len(rendered) == 1 else None)
    if name not in rendered:
        print(f"name the server: one of {', '.join(sorted(rendered))}", file=sys.stderr)
        return Exit.USAGE
    sys.stdout.write(rendered[name])
    return 0


def cmd_destroy(args) -> int:
    if args.stack == "production" and args.confirm != args.stack:
        print("refusing to destroy production: pass --confirm production", file=sys.stderr)
        return Exit.USAGE
    stack.select(args.stack, changes=True).destroy(on_event=step_progress(time.monotonic()), color="never")
    return 0


def cmd_backups(args) -> int:
    if args.command == "restore" and args.confirm != args.stack:
        print(f"refusing to restore into the live database of {args.stack}: pass --confirm {args.stack}",
              file=sys.stderr)
        return Exit.USAGE
    ops = stack.operations(stack.select(args.stack))
    docker = Docker.of(ops)
    try:
        if args.command == "backup":
            snapshot = backups.backup_now(docker, ops["backup_container"])
            print(f"snapshot {snapshot.id} taken {snapshot.time:%Y-%m-%d %H:%M:%S} UTC")
        elif args.command == "snapshots":
            for snapshot in backups.snapshots(docker, ops["backup_container"]):
                print(f"{snapshot.id}  {snapshot.time:%Y-%m-%d %H:%M:%S} UTC  ({snapshot.age_s:.0f}s ago)  "
                      f"{','.join(snapshot.tags)}")
        elif args.command == "restore-drill":
            report = backups.restore_drill(docker, ops, progress)
            print("\n".join(report.lines()))
            return Exit.CHECKS_FAILED if report.failures else 0
        else:
            safety = backups.restore_live(docker, ops, args.snapshot, progress)
            print(f"restored {args.snapshot} into the live database of {args.stack}; the state before it is "
                  f"snapshot {safety.id}")
    except backups.BackupError as error:
        print(f"{args.command} failed: {error}", file=sys.stderr)
        return error.exit_code
    except DockerError as error:
        print(f"{args.command} failed: {error}", file=sys.stderr)
        return Exit.WRONG_PASSWORD if error.returncode == Exit.WRONG_PASSWORD else Exit.FAILED
    return 0


def cmd_cost(args) -> int:
    """The stack's monthly Hetzner bill by resource, from its state."""
    table = pricing.current_table(os.environ.get("HCLOUD_TOKEN"))
    deployment = stack.select(args.stack).export_stack().deployment or {}
    lines = pricing.stack_lines(deployment.get("resources") or [], table)
    net = pricing.total(lines)
    if args.json:
        print(json.dumps({"stack": args.stack, "currency": "EUR", "net": net, "gross": pricing.gross(net),
                          "source": table.source, "lines": [line.__dict__ for line in lines]}, indent=2))
        return 0
    print("| resource | what | a month (net) |\n| --- | --- | --- |")
    for line in lines:
        print(f"| {line.resource} | {line.what} | {pricing.euros(line.net)}{f' ({line.note})' if line.note else ''} |")
    print(f"\n{args.stack}: {pricing.euros(net)} a month net, {pricing.euros(pricing.gross(net))} with "
          f"{pricing.VAT:.0%} VAT; traffic beyond the included quota not included. Prices: {table.source}.")
    return 0


def cmd_env(args) -> int:
    """The stack's engine environment as shell exports (the Makefile evaluates it before `pulumi`)."""
    for key, value in stack.engine_environment(args.stack).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_unlock(args) -> int:
    """Clears the stack's stale locks (`make up` runs this first); exit 5 while a live one holds it."""
    return Exit.REFUSED if stack.clear_stale_locks(args.stack) else 0
