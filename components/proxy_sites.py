"""The proxy's site blocks, switched in the running proxy: how a release reaches users.

Each routed service's upstream is the name of its current container (Docker's DNS resolves it on
the edge network), never a name old and new containers share. A new container is created and
must turn healthy first (the docker provider waits); only then does this resource write the new
site blocks into the proxy and ask Caddy to reload, which it does gracefully: requests in flight
on the old upstream finish while new ones go to the new container, and this resource waits until
they have (the old container gets no more connections) before it returns. Pulumi removes the old
container after this update. A release that never turns
healthy never reaches this step, so the proxy never sends it a request.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

from .remote_exec import exec_in_container

SITES_FILE = "/etc/preflight/sites.caddy"
CONFIG_FILE = "/etc/preflight/Caddyfile"


def switch_script(sites_file: str = SITES_FILE, config_file: str = CONFIG_FILE, drain_s: int = 30) -> str:
    """Run inside the proxy with the new site blocks on stdin: writes them next to the old ones,
    swaps them in and reloads; if Caddy refuses the result, the previous file comes back, so a
    restart of the proxy runs what it last served.

    Then it drains: it returns only once the proxy has had no connection to an upstream it no
    longer routes to for a second (at most `drain_s`). Caddy's reload returns while requests the
    old routes accepted are still on their way to the old container, and those can no longer be
    retried; Pulumi stops the old container as soon as this returns, so stopping it earlier would
    cut them. The old upstreams' addresses are read from /proc/net/tcp (connecting or established)."""
    polls = drain_s * 5
    return f"""set -e
f={sites_file}
upstreams() {{ grep -o 'reverse_proxy [^ ]*' "$1" 2>/dev/null | awk '{{print $2}}' | sort -u; }}
cat > "$f.next"
cp "$f" "$f.previous"
mv "$f.next" "$f"
if ! out=$(caddy reload --config {config_file} --adapter caddyfile 2>&1); then
  mv "$f.previous" "$f"
  echo "$out" | tail -5 >&2
  exit 1
fi
current=" $(upstreams "$f" | tr '\n' ' ')"
targets=""
for upstream in $(upstreams "$f.previous"); do
  case "$current" in *" $upstream "*) continue ;; esac
  address=$(getent hosts "${{upstream%:*}}" 2>/dev/null | awk '{{print $1; exit}}') || true
  case "$address" in *.*.*.*) ;; *) continue ;; esac
  hex=$(echo "$address" | awk -F. '{{printf "%02X%02X%02X%02X", $4, $3, $2, $1}}')
  targets="$targets $hex:$(printf '%04X' "${{upstream##*:}}")"
done
[ -n "$targets" ] || exit 0
sleep 1
quiet=0; polls=0
while [ $quiet -lt 5 ] && [ $polls -lt {polls} ]; do
  busy=0
  for target in $targets; do
    if awk -v t="$target" '$3 == t && ($4 == "01" || $4 == "02") {{found = 1}} END {{exit !found}}' /proc/net/tcp; then
      busy=1
    fi
  done
  if [ $busy = 1 ]; then quiet=0; else quiet=$((quiet + 1)); fi
  polls=$((polls + 1))
  sleep 0.2
done
"""


KEYS = ("template", "upstreams", "container", "docker_host", "ssh_options")
ROLE = "proxy-sites"  # how the policy pack finds the site blocks among dynamic resources


def upstream_marker(service: str) -> str:
    """Where a service's upstream goes in the site blocks' template (known at preview; the
    container's name, filled in at apply, is not)."""
    return f"@upstream:{service}@"


def fill_upstreams(template: str, upstreams: dict[str, str]) -> str:
    text = template
    for service, target in upstreams.items():
        text = text.replace(upstream_marker(service), target)
    if "@upstream:" in text:
        raise ValueError(f"site blocks name an upstream that is not given: {text[text.index('@upstream:'):][:60]}")
    return text


class ProxyRefusedSites(Exception):
    pass


def switch_sites(props: dict[str, Any]) -> None:
    result = exec_in_container(props["docker_host"], props["container"], ["sh", "-c", switch_script()],
                               stdin=fill_upstreams(props["template"], dict(props["upstreams"])),
                               ssh_options=list(props.get("ssh_options") or []))
    if result.returncode != 0:
        raise ProxyRefusedSites(
            f"the proxy {props['container']} did not take the new routes and keeps serving the previous ones: "
            f"{(result.stderr or result.stdout).strip() or f'exit code {result.returncode}'}")


class _ProxySitesProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        switch_sites(props)
        return CreateResult(id_=uuid.uuid4().hex, outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in KEYS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        switch_sites(news)
        return UpdateResult(outs=news)


class ProxySites(pulumi.dynamic.Resource):
    """The site blocks (`template`, Caddyfile text, with each service's `upstreams` entry filled in)
    live in the proxy `container` on `docker_host`."""

    template: pulumi.Output[str]
    upstreams: pulumi.Output[dict]

    def __init__(self, name: str, *, template: str, upstreams: Mapping[str, pulumi.Input[str]],
                 container: pulumi.Input[str], docker_host: pulumi.Input[str],
                 ssh_options: pulumi.Input[Sequence[str]] = (), opts: pulumi.ResourceOptions | None = None):
        super().__init__(_ProxySitesProvider(), name,
                         {"role": ROLE, "template": template, "upstreams": dict(upstreams), "container": container,
                          "docker_host": docker_host, "ssh_options": ssh_options}, opts)
