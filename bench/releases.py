"""Local up, releases under load and bad releases: Preflight (`pulumi up`, `python -m deploy`) and,
where `docker compose` is installed, the same containers with `docker compose` (compose_stack.py).

    .venv/bin/python -m bench.releases [--runs 3] [--rate 90]

Per run, in a throwaway copy of the local stack on its own ports: a fresh `up` to healthy, a
no-change `up` and `preview`; steady load alone (the baseline latencies); then, each under
`--rate` requests/s of GET /health over keep-alive connections (Postgres and Redis on every
request), three release kinds through `python -m deploy up`: a good release (a new image), a
slow-to-ready release (its /health answers 503 for 20 s), and a failing release (it answers 500
to everything; timed until the previous release serves again); then `deploy rollback`.
For each: failed requests, p50/p99, and the time from `deploy up` to the proxy's switch to the new
release (the `preflight-proxy-sites` step in its progress lines).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import APP, FAILING, RELEASE, ROOT, SLOW_READY, copy_project, free_port, summary, timed
from bench.compose_stack import compose_available, compose_runs
from bench.load import Load, LoadResult

# The failing release comes before the slow one: a rollback re-applies a release's images with the
# stack file's current settings, and the slow release needs its start period.
KINDS = {"good release": RELEASE, "failing release": FAILING, "slow-to-ready release (20 s)": SLOW_READY}
# An app that warms up declares it: failures during its healthcheck's start period do not count.
START_PERIOD_S = {SLOW_READY: 30}
STEADY_S = 10


def build_images() -> None:
    for tag, extra in ((RELEASE, "LABEL release=bench"), (SLOW_READY, "ENV SAMPLE_APP_READY_AFTER_S=20"),
                       (FAILING, "ENV SAMPLE_APP_FAULT=error")):
        subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=f"FROM {APP}\n{extra}\n", text=True,
                       check=True, capture_output=True)


def switch_seconds(progress: str) -> float | None:
    """When `deploy up` switched the proxy to the new release (its progress line), if it did."""
    found = re.findall(r"^\[deploy\]\s+([0-9.]+)s\s+update\s+preflight-proxy-sites$", progress, re.M)
    return float(found[0]) if found else None


def set_image(directory: Path, image: str) -> None:
    import yaml
    path = directory / "Pulumi.local.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["preflight:services"]["api"]["image"] = image
    document["config"]["preflight:services"]["api"]["healthcheck"]["start_period_s"] = START_PERIOD_S.get(image, 0)
    path.write_text(yaml.safe_dump(document))


def preflight_run(rate: float) -> dict[str, object]:
    https, http = free_port(), free_port()

    def change(config):
        config["preflight:proxy"].update(https_port=https, http_port=http)
        config["preflight:services"]["api"]["healthcheck"].update(interval_s=1, timeout_s=1, retries=3,
                                                                  start_period_s=0)

    scratch = Path(tempfile.mkdtemp(prefix="preflight-bench-"))
    env = copy_project(scratch, change)
    pulumi = ["pulumi", "--non-interactive"]
    deploy = [str(ROOT / ".venv" / "bin" / "python"), "-m", "deploy", "--project", str(scratch)]
    figures: dict[str, object] = {}
    try:
        figures["fresh up"] = timed([*pulumi, "up", "--stack", "local", "--yes", "--skip-preview"], scratch, env)
        figures["no-change up"] = timed([*pulumi, "up", "--stack", "local", "--yes", "--skip-preview"], scratch, env)
        figures["no-change preview"] = timed([*pulumi, "preview", "--stack", "local"], scratch, env)
        subprocess.run(deploy + ["up", "local"], cwd=ROOT, env=env, check=True, capture_output=True)  # release 1
        cert = scratch / "ca.pem"
        outputs = json.loads(subprocess.run([*pulumi, "stack", "output", "--json", "--stack", "local"], cwd=scratch,
                                            env=env, check=True, capture_output=True, text=True).stdout)
        cert.write_text(outputs["tls_certificate_pem"])
        url = outputs["health_urls"]["api"]

        steady = Load(url, https, str(cert), rate)
        steady.start()
        time.sleep(STEADY_S)
        figures["steady load"] = steady.stop()
        for kind, image in KINDS.items():
            set_image(scratch, image)
            load = Load(url, https, str(cert), rate)
            load.start()
            started = time.perf_counter()
            result = subprocess.run(deploy + ["up", "local"], cwd=ROOT, env=env, capture_output=True, text=True)
            figures[f"{kind}: deploy up"] = time.perf_counter() - started
            time.sleep(1)
            figures[f"{kind}: load"] = load.stop()
            figures[f"{kind}: switch"] = switch_seconds(result.stderr)
            assert result.returncode == (6 if image == FAILING else 0), result.stderr
        set_image(scratch, RELEASE)
        first = subprocess.run(deploy + ["releases", "local"], cwd=ROOT, env=env, capture_output=True,
                               text=True).stdout.split()[0]
        figures["rollback"] = timed(deploy + ["rollback", "local", first], ROOT, env)
    finally:
        subprocess.run([*pulumi, "destroy", "--stack", "local", "--yes", "--skip-preview"], cwd=scratch, env=env,
                       capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return figures


def load_row(label: str, loads: list[LoadResult]) -> str:
    failed = ", ".join(f"{load.failed} of {len(load.codes)}" + (f" ({load.failures})" if load.failed else "") for load in loads)
    latencies = ", ".join(f"{load.percentile(0.5):.0f} / {load.percentile(0.99):.0f} ms" for load in loads)
    return f"| {label} | {failed} | {latencies} | {', '.join(str(load.resent) for load in loads)}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=90.0)
    args = parser.parse_args()
    build_images()
    runs = []
    for run in range(args.runs):
        runs.append(preflight_run(args.rate))
        print(f"[bench] preflight run {run + 1}: " + ", ".join(
            f"{k} {v:.1f}s" if isinstance(v, float) else f"{k}: {v.row()}" for k, v in runs[-1].items()),
              file=sys.stderr)
    compose = compose_runs(args.runs, args.rate) if compose_available() else []
    print(f"| Preflight, local stack ({args.runs} runs) | median |\n| --- | --- |")
    for key in ("fresh up", "no-change up", "no-change preview", "rollback"):
        print(f"| {key} | {summary([r[key] for r in runs])} |")
    print(f"\n| under {args.rate:.0f} req/s of GET /health ({args.runs} runs) | failed requests | p50 / p99 latency | "
          f"resent on a new connection | `deploy up` until it returns | until the proxy switched |\n"
          f"| --- | --- | --- | --- | --- | --- |")
    print(load_row("steady state, no release", [r["steady load"] for r in runs]) + " | | |")
    for kind in KINDS:
        switches = [r[f"{kind}: switch"] for r in runs if r[f"{kind}: switch"] is not None]
        print(load_row(kind, [r[f"{kind}: load"] for r in runs]) +
              f" | {summary([r[f'{kind}: deploy up'] for r in runs])} | "
              f"{summary(switches) if switches else 'never (the previous release kept serving)'} |")
    if compose:
        print(f"\n| docker compose, same containers ({args.runs} runs) | median |\n| --- | --- |")
        print(f"| compose up --wait, fresh | {summary([r['fresh up'] for r in compose])} |")
        print(f"| fresh up ratio Preflight / compose | "
              f"{summary([p['fresh up'] / c['fresh up'] for p, c in zip(runs, compose, strict=False)], unit='x')} |")
        print(f"\n| compose, under {args.rate:.0f} req/s | failed requests | p50 / p99 latency | resent | command |"
              f"\n| --- | --- | --- | --- | --- |")
        print(load_row("recreate with a new image", [r["release load"] for r in compose]) +
              f" | {summary([r['release'] for r in compose])} |")
        print(load_row("recreate with the failing image, then the good one again", [r["bad release load"] for r in compose])
              + f" | {summary([r['bad release'] for r in compose])} |")
    else:
        print("\n| docker compose | not installed: no comparison in this run |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
