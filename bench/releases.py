"""Local up, releases under load and bad releases: Preflight (`pulumi up`, `python -m deploy`) and,
where `docker compose` is installed, the same containers with `docker compose` (compose_stack.py).

    .venv/bin/python bench/releases.py [--runs 3] [--rate 50]

Per run, in a throwaway copy of the local stack on its own ports: a fresh `up` to healthy, a
no-change `up` and `preview`; a release (a new app image) under `--rate` requests/s of GET /health
(Postgres and Redis on every request); a bad release (its healthcheck fails) through
`python -m deploy up`, timed until the previous release serves again; then `deploy rollback`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, copy_project, summary, timed
from load import Load, LoadResult

APP = "preflight-sample-app:0.1.0"
RELEASE = "preflight-sample-app:bench-release"
BROKEN = "preflight-sample-app:bench-broken"


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_images() -> None:
    for tag, extra in ((RELEASE, "LABEL release=bench\n"),
                       (BROKEN, "USER root\nRUN sed -i 's/return 0 if response.status == 200 else 1/return 1/' "
                                "/app/app.py\nUSER 10001\n")):
        subprocess.run(["docker", "build", "-q", "-t", tag, "-"], input=f"FROM {APP}\n{extra}", text=True,
                       check=True, capture_output=True)


def set_image(directory: Path, image: str) -> None:
    import yaml
    path = directory / "Pulumi.local.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["preflight:services"]["api"]["image"] = image
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

        set_image(scratch, RELEASE)
        load = Load(url, https, str(cert), rate)
        load.start()
        figures["release"] = timed(deploy + ["up", "local"], ROOT, env)
        time.sleep(1)
        figures["release load"] = load.stop()

        set_image(scratch, BROKEN)
        started = time.perf_counter()
        result = subprocess.run(deploy + ["up", "local"], cwd=ROOT, env=env, capture_output=True, text=True)
        figures["bad release to previous serving"] = time.perf_counter() - started
        assert result.returncode == 6, result.stderr
        set_image(scratch, RELEASE)
        first = subprocess.run(deploy + ["releases", "local"], cwd=ROOT, env=env, capture_output=True,
                               text=True).stdout.split()[0]
        figures["rollback"] = timed(deploy + ["rollback", "local", first], ROOT, env)
    finally:
        subprocess.run([*pulumi, "destroy", "--stack", "local", "--yes", "--skip-preview"], cwd=scratch, env=env,
                       capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    build_images()
    runs = []
    for run in range(args.runs):
        runs.append(preflight_run(args.rate))
        print(f"[bench] preflight run {run + 1}: " + ", ".join(
            f"{k} {v:.1f}s" if isinstance(v, float) else f"{k}: {v.row()}" for k, v in runs[-1].items()),
              file=sys.stderr)
    from compose_stack import compose_available, compose_runs
    compose = compose_runs(args.runs, args.rate) if compose_available() else []
    print(f"| Preflight, local stack ({args.runs} runs) | median |\n| --- | --- |")
    for key in ("fresh up", "no-change up", "no-change preview", "release", "bad release to previous serving",
                "rollback"):
        print(f"| {key} | {summary([r[key] for r in runs])} |")
    loads: list[LoadResult] = [r["release load"] for r in runs]
    print(f"| release under {args.rate:.0f} req/s: failed requests | {', '.join(str(l.failed) for l in loads)} |")
    print(f"| release under load: p50 / p99 latency | "
          f"{', '.join(f'{l.percentile(0.5):.0f} / {l.percentile(0.99):.0f} ms' for l in loads)} |")
    if compose:
        print(f"| docker compose up --wait, fresh | {summary([r['fresh up'] for r in compose])} |")
        print(f"| docker compose recreate of the app | {summary([r['release'] for r in compose])} |")
        print(f"| compose recreate under load: failed requests | "
              f"{', '.join(str(r['release load'].failed) for r in compose)} |")
        compose_loads = [r["release load"] for r in compose]
        print("| compose recreate under load: p50 / p99 latency | " + ", ".join(
            f"{l.percentile(0.5):.0f} / {l.percentile(0.99):.0f} ms" for l in compose_loads) + " |")
        print(f"| fresh up ratio Preflight / compose | "
              f"{summary([p['fresh up'] / c['fresh up'] for p, c in zip(runs, compose)], unit='x')} |")
    else:
        print("| docker compose | not installed: no comparison in this run |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
