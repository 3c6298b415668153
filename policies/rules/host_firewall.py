"""The firewall of a server you have (`host.kind: ssh`): it lives in the user data, as a shell script
cloud-init writes and a unit runs. Read as the shell would run it, enough for the scripts Preflight
renders and their edits: functions called with arguments (`apply iptables icmp "<admins>" "<edge>"`),
one-line `for x in $list; do ...; done` loops, and the iptables rules appended to a chain INPUT jumps
to. What the script admits comes out in the shape of a Hetzner firewall's rules, so the same checks
judge both (PF-HOST-001..003)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

EVERYWHERE = ["0.0.0.0/0", "::/0"]
WEB_PORTS = (80, 443)
IPTABLES = ("iptables", "ip6tables")
FUNCTION = re.compile(r"^(\w+)\s*\(\)\s*\{\s*$")
LOOP = re.compile(r"^for\s+(\w+)\s+in\s+(.*?);\s*do\s+(.*?);\s*done$")
LOOP_START = re.compile(r"^for\s+(\w+)\s+in\s+(.*?);\s*do$")
ASSIGNMENT = re.compile(r"^(\w+)=(\S.*|)$")


def scripts(document: Mapping[str, Any]) -> list[str]:
    return [str(f.get("content") or "") for f in document.get("write_files") or []
            if str((f or {}).get("content") or "").startswith("#!")]


def host_firewall(document: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """Inbound rules (Hetzner's shape) of every filter chain INPUT jumps to; None when no script hooks
    one into INPUT (the server has no host firewall)."""
    commands = [c for script in scripts(document) for c in _run(script)]
    hooked = {c[c.index("-j") + 1] for c in commands if _chain(c, "-I", "-A") == "INPUT" and "-j" in c[:-1]}
    # A chain that only drops (the SSH throttle) admits nothing: what it lets through returns to INPUT.
    filters = sorted(chain for chain in hooked if not _only_drops(commands, chain))
    if not filters:
        return None
    rules: list[dict[str, Any]] = []
    for chain in filters:
        rules += _chain_admits(commands, chain, "ACCEPT", "any")
    # Docker's published ports (the proxy's 80 and 443 over IPv4) bypass INPUT: DOCKER-USER decides,
    # RETURN admitting; a web port no DOCKER-USER chain filters is open to everyone.
    for port in WEB_PORTS:
        chains = [chain for c in commands if _chain(c, "-I", "-A") == "DOCKER-USER"
                  and _option(c, "--ctorigdstport") in (str(port), None) for chain in [_option(c, "-j")] if chain]
        if not chains:
            rules.append({"direction": "in", "protocol": "tcp", "port": str(port), "sourceIps": EVERYWHERE})
        rules += [r for chain in chains for r in _chain_admits(commands, chain, "RETURN", str(port))]
    return rules


def _only_drops(commands: list[list[str]], chain: str) -> bool:
    appended = [c for c in commands if _chain(c, "-A") == chain]
    return bool(appended) and all(_option(c, "-j") in ("DROP", "REJECT") for c in appended)


def _chain_admits(commands: list[list[str]], chain: str, admit: str, port: str) -> list[dict[str, Any]]:
    appended = [c for c in commands if _chain(c, "-A") == chain]
    rules = [r for c in appended for r in _admits(c, admit, port)]
    if not appended or _option(appended[-1], "-j") not in ("DROP", "REJECT"):
        rules.append({"direction": "in", "protocol": "tcp", "port": port, "sourceIps": EVERYWHERE})
    return rules


def _run(script: str) -> list[list[str]]:
    """The iptables commands the script runs, with variables, loops and function arguments filled in."""
    functions: dict[str, list[str]] = {}
    top: list[str] = []
    body: list[str] = []
    current = None
    for raw in script.replace("\\\n", " ").splitlines():  # a line ending in a backslash goes on on the next
        line = raw.split(" #", 1)[0].strip()
        if current is not None:
            if line == "}":
                functions[current], current = body, None
            else:
                body.append(line)
        elif FUNCTION.match(line):
            current, body = FUNCTION.match(line).group(1), []  # type: ignore[union-attr]
        elif line and not line.startswith("#"):
            top.append(line)
    return _block(top, {}, functions)


def _block(lines: list[str], env: dict[str, str], functions: Mapping[str, list[str]]) -> list[list[str]]:
    """Lines run in order: a multi-line `for x in ...; do` ... `done` runs its body once per value."""
    commands: list[list[str]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        opened = LOOP_START.match(line)
        if opened:
            end = next((i for i in range(index + 1, len(lines)) if lines[i] == "done"), len(lines))
            for value in _expand(opened.group(2), env).split():
                commands += _block(lines[index + 1:end], {**env, opened.group(1): value}, functions)
            index = end + 1
            continue
        assigned = ASSIGNMENT.match(line)
        if assigned:
            env[assigned.group(1)] = " ".join(_words(assigned.group(2), env))
        else:
            commands += _line(line, env, functions)
        index += 1
    return commands


def _line(line: str, env: dict[str, str], functions: Mapping[str, list[str]]) -> list[list[str]]:
    loop = LOOP.match(line)
    if loop:
        return [c for value in _expand(loop.group(2), env).split() for c in _line(loop.group(3), {**env, loop.group(1): value},
                                                                                   functions)]
    words = _words(line, env)
    if words and words[0] in functions:
        inner = {**env, **{str(i): w for i, w in enumerate(words[1:], start=1)}}
        return _block([_positional(body_line, inner) for body_line in functions[words[0]]], inner, functions)
    # The first command of a line (`a || b`: the rule is a; `-C ... || -I ...`: the hook is b, kept too).
    return [part for part in _commands(words) if part and part[0].rsplit("/", 1)[-1] in IPTABLES]


def _positional(line: str, env: dict[str, str]) -> str:
    """`t=$1 icmp=$2`: several assignments on one line, taken in (the line then does nothing)."""
    pairs = re.findall(r"(\w+)=\$(\w+)", line)
    if pairs and len(pairs) == len(line.split()):
        env.update({name: env.get(source, "") for name, source in pairs})
        return ":"
    return line


def _expand(text: str, env: Mapping[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), ""), text)


def _words(line: str, env: Mapping[str, str]) -> list[str]:
    try:
        return shlex.split(_expand(line, env))
    except ValueError:
        return _expand(line, env).split()


def _commands(words: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for word in words:
        if word in ("||", "&&", ";") or word.endswith(";"):
            if word.endswith(";") and word != ";":
                parts[-1].append(word[:-1])
            parts.append([])
        elif not re.match(r"^\d?>", word):  # 2>/dev/null
            parts[-1].append(word)
    return parts


def _chain(command: list[str], *actions: str) -> str | None:
    for action in actions:
        if action in command[:-1]:
            return command[command.index(action) + 1]
    return None


def _option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command[:-1] else None


def _admits(command: list[str], admit: str, port: str) -> list[dict[str, Any]]:
    """An appended ACCEPT (RETURN in DOCKER-USER) as Hetzner rules, one per port; loopback, established
    traffic and containers' own bridges admit nobody new from outside."""
    interface = _option(command, "-i") or ""
    if _option(command, "-j") != admit or interface == "lo" or interface.startswith(("docker", "br-")) \
            or "--ctstate" in command and "NEW" not in (_option(command, "--ctstate") or ""):
        return []
    protocol = _option(command, "-p") or "tcp"
    if protocol not in ("tcp", "udp"):
        return []  # icmp
    ports = (_option(command, "--dports") or _option(command, "--dport") or port).replace(":", "-").split(",")
    sources = [_option(command, "-s")] if _option(command, "-s") else EVERYWHERE
    return [{"direction": "in", "protocol": protocol, "port": port, "sourceIps": sources} for port in ports]
