"""Containers: healthchecks, limits, restart, log rotation, pinned images, no privilege."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from components.check_commands import cannot_fail, script_cannot_fail

from .base import CONTAINER, DATA_ROLES, REMOTE_IMAGE, label_map, long_running, number, role, rule_maker
from .data import on_private_address

DOCKER_SOCKET = "/var/run/docker.sock"
CONTAINER_EXPORTER = "container-exporter"
ROTATING_DRIVERS = ("json-file", "local")
SHIPPING_DRIVERS = ("journald", "syslog", "fluentd", "gelf", "awslogs", "splunk", "gcplogs")


@long_running
def healthcheck(props: Mapping[str, Any]) -> Iterator[str]:
    check = props.get("healthcheck") or {}
    tests = list(check.get("tests") or [])
    if not tests or tests[0] == "NONE":
        yield "give the container a healthcheck (settings: healthcheck.command); without one a broken release looks healthy"


@long_running
def healthcheck_can_fail(props: Mapping[str, Any]) -> Iterator[str]:
    tests = list((props.get("healthcheck") or {}).get("tests") or [])
    form, command = (tests[0], tests[1:]) if tests else ("NONE", [])
    if form == "CMD" and cannot_fail(command) or form == "CMD-SHELL" and script_cannot_fail(" ".join(command)):
        yield (f"the healthcheck of {props.get('name')} ({' '.join(command)}) exits 0 whatever the service does, "
               "so it tests nothing; run a command that fails when the service does (settings: "
               "healthcheck.command), e.g. an HTTP request to its health route")


@long_running
def memory_limit(props: Mapping[str, Any]) -> Iterator[str]:
    memory = props.get("memory") or 0
    if memory <= 0:
        yield "set a memory limit (settings: limits.memory_mb) so one container cannot starve the host"
    elif (props.get("memorySwap") or 0) not in (memory,):
        yield f"set memorySwap equal to memory ({number(memory)} MB) so the limit is not silently extended by swap"


@long_running
def cpu_limit(props: Mapping[str, Any]) -> Iterator[str]:
    if not (float(props.get("cpus") or 0) > 0 or (props.get("cpuQuota") or 0) > 0):
        yield "set a CPU limit (settings: limits.cpus)"


@long_running
def restart_policy(props: Mapping[str, Any]) -> Iterator[str]:
    if props.get("restart") not in ("unless-stopped", "always", "on-failure"):
        yield (f"set restart to 'unless-stopped' (is {props.get('restart') or 'no'!r}) so the container survives crashes "
               "and reboots")


@long_running
def log_rotation(props: Mapping[str, Any]) -> Iterator[str]:
    driver = props.get("logDriver") or "json-file"
    if driver in SHIPPING_DRIVERS:
        return
    opts = props.get("logOpts") or {}
    if driver not in ROTATING_DRIVERS or not opts.get("max-size"):
        yield (f"rotate logs: logDriver 'json-file' with logOpts max-size and max-file (is {driver!r}, "
               f"max-size {opts.get('max-size')!r}); unrotated logs fill the disk")


def pinned_image(props: Mapping[str, Any]) -> Iterator[str]:
    # A container names its image in `image`; a RemoteImage names it in `name`.
    reference = props.get("image") if "image" in props else props.get("name")
    if not reference or reference.startswith("sha256:") or "@sha256:" in reference:
        return
    last = reference.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if tag in ("", "latest"):
        yield f"pin the image {reference!r} to a version tag or a digest (e.g. repo:1.4.2 or repo@sha256:...), never 'latest'"


def unprivileged(props: Mapping[str, Any]) -> Iterator[str]:
    if props.get("privileged"):
        yield "remove privileged: true; grant only the capabilities the container needs"


def no_docker_socket(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) == "proxy":
        return
    socket = [v for v in props.get("volumes") or [] if v.get("hostPath") == DOCKER_SOCKET] + \
        [m for m in props.get("mounts") or [] if m.get("source") == DOCKER_SOCKET]
    # The monitoring's container exporter reads Docker's view of the stack (restarts, health): an accepted
    # risk (a socket mounted read-only still answers every API call), kept to that one container.
    exporter = role(props) == "monitoring" and label_map(props).get("preflight.component") == CONTAINER_EXPORTER
    if exporter and all(v.get("readOnly") for v in socket):
        return
    if socket:
        yield (f"do not mount {DOCKER_SOCKET}: it is root on the host; only the proxy may, when it needs it, and the "
               f"monitoring's {CONTAINER_EXPORTER} (mounted read-only, which documents intent, not a protection)")


@long_running
def no_new_privileges(props: Mapping[str, Any]) -> Iterator[str]:
    options = [opt.replace("=", ":") for opt in props.get("securityOpts") or []]
    if not any(opt in ("no-new-privileges:true", "no-new-privileges") for opt in options):
        yield "add securityOpts ['no-new-privileges:true'] so a compromised process cannot gain privileges via setuid"


def non_root_service(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) == "service" and (props.get("user") or "").split(":", 1)[0] in ("root", "0"):
        yield "run the service as a non-root user (remove user 'root' or set an unprivileged uid)"


@long_running
def waits_until_healthy(props: Mapping[str, Any]) -> Iterator[str]:
    if role(props) == "service" and not props.get("wait"):
        yield "set wait: true so `up` only moves on (and the old release only goes) once the new container is healthy"


def only_the_proxy_is_public(props: Mapping[str, Any]) -> Iterator[str]:
    """Every request from outside passes the proxy (TLS, headers, origin pulls) and so the edge; the data
    services' private ports are PF-DATA-001's."""
    if role(props) in ("proxy", *DATA_ROLES):
        return
    name = props.get("name")
    public = [p for p in props.get("ports") or [] if not (on_private_address(p) or on_loopback(p))]
    for port in public:
        yield (f"{name} publishes {port.get('ip') or '0.0.0.0'}:{number(port.get('external'))}->"
               f"{number(port.get('internal'))} on a public address; only the proxy faces the network: route the "
               "service through it (settings: services.<name>.route) and remove the port, or bind it to 127.0.0.1")
    if props.get("publishAllPorts"):
        yield f"{name} sets publishAllPorts; only the proxy faces the network: remove it and route through the proxy"
    if props.get("networkMode") == "host":
        yield (f"{name} uses the host's network, so every port it listens on is public; attach it to the "
               "platform's networks instead and route through the proxy")


def on_loopback(port: Mapping[str, Any]) -> bool:
    return str(port.get("ip") or "").startswith("127.") or port.get("ip") == "::1"


_rule = rule_maker("containers", (CONTAINER,))


RULES = [
    _rule("PF-CTR-001", "Every long-running container has a healthcheck.", Severity.HIGH,
          "every service has a healthcheck", healthcheck),
    _rule("PF-CTR-002", "Every long-running container has a memory limit without extra swap.", Severity.HIGH,
          "memory and CPU limits", memory_limit),
    _rule("PF-CTR-003", "Every long-running container has a CPU limit.", Severity.MEDIUM,
          "memory and CPU limits", cpu_limit),
    _rule("PF-CTR-004", "Every long-running container restarts after a crash or reboot.", Severity.MEDIUM,
          "restart policy", restart_policy),
    _rule("PF-CTR-005", "Container logs are rotated or shipped.", Severity.MEDIUM, "log rotation", log_rotation),
    _rule("PF-CTR-006", "Images are pinned by tag or digest, never 'latest'.", Severity.HIGH,
          "images pinned by tag or digest (never `latest`) in production", pinned_image,
          types=(CONTAINER, REMOTE_IMAGE), production_only=True),
    _rule("PF-CTR-007", "No container runs privileged.", Severity.CRITICAL, "no privileged containers", unprivileged),
    _rule("PF-CTR-008", "Only the proxy may mount the Docker socket.", Severity.CRITICAL,
          "no docker socket mounts except the proxy where required", no_docker_socket),
    _rule("PF-CTR-009", "Long-running containers set no-new-privileges.", Severity.MEDIUM,
          "non-root where the image allows", no_new_privileges),
    _rule("PF-CTR-010", "Application services do not run as root.", Severity.MEDIUM,
          "non-root where the image allows", non_root_service),
    _rule("PF-CTR-011", "Application services wait until healthy before the old release goes.", Severity.HIGH,
          "zero-downtime replacement for stateless services (new container healthy before old one goes)",
          waits_until_healthy),
    _rule("PF-CTR-012", "Healthchecks can fail: never true, exit 0, echo, sleep or `|| true`.", Severity.HIGH,
          "every service has a healthcheck", healthcheck_can_fail),
    _rule("PF-CTR-013", "No container but the proxy publishes a port on a public address.", Severity.CRITICAL,
          "Postgres/Redis reachable only on an internal network (no published port, no firewall opening); security "
          "headers at the proxy", only_the_proxy_is_public),
]
