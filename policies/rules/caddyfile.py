"""A Caddyfile read as Caddy reads it, enough for the pack's questions: comments are not config,
and a response header is what the last `header` directive leaves (a later `-Name` removes it).
Not a full parser: directives and blocks by line and brace, quoted values kept whole."""

from __future__ import annotations

import re
import shlex

HEADER_BLOCK = re.compile(r"^header(\s+\S+)?\s*\{$")  # `header {` or `header <matcher> {`


def lines(config: str) -> list[str]:
    """Non-empty lines without comments (a `#` that starts a token; not one inside quotes)."""
    kept = []
    for raw in config.splitlines():
        line, quoted = [], False
        for index, char in enumerate(raw):
            if char == '"' and (index == 0 or raw[index - 1] != "\\"):
                quoted = not quoted
            if char == "#" and not quoted and (index == 0 or raw[index - 1].isspace()):
                break
            line.append(char)
        text = "".join(line).strip()
        if text:
            kept.append(text)
    return kept


def tokens(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def response_headers(config: str) -> dict[str, str]:
    """Header name (as written) -> value, as the config's `header` directives leave them, in order."""
    headers: dict[str, str] = {}
    in_header_block = 0  # brace depth inside a `header { ... }` block, 0 outside

    def apply(field: list[str]) -> None:
        if not field:
            return
        name = field[0]
        if name.startswith("-"):
            for key in [k for k in headers if k.lower() == name[1:].lower()]:
                del headers[key]
        else:
            headers[name.lstrip("+>")] = " ".join(field[1:])

    for line in lines(config):
        if in_header_block:
            if line == "}":
                in_header_block -= 1
                continue
            apply(tokens(line))
            continue
        if HEADER_BLOCK.match(line):
            in_header_block = 1
            continue
        words = tokens(line)
        if words[:1] == ["header"] and len(words) >= 2:
            apply(words[1:] if not words[1].startswith(("/", "@", "*")) else words[2:])
    return headers


def directives(config: str, name: str) -> list[list[str]]:
    """Every `name ...` directive (its tokens), comments left out."""
    return [tokens(line) for line in lines(config) if tokens(line)[:1] == [name]]


def _blocks(kept: list[str]) -> list[tuple[list[str], list[str]]]:
    """Top-level blocks: (the tokens before `{`, the lines inside); lines outside blocks are left out."""
    blocks: list[tuple[list[str], list[str]]] = []
    depth, head, body = 0, list[str](), list[str]()
    for line in kept:
        if depth == 0:
            if line.endswith("{"):
                depth, head, body = 1, tokens(line[:-1]), []
            continue
        if line == "}" or line.startswith("}"):
            depth -= 1
            if depth == 0:
                blocks.append((head, body))
                continue
        elif line.endswith("{"):
            depth += 1
        body.append(line)
    return blocks


def sites(config: str) -> list[tuple[list[str], list[str]]]:
    """Site blocks (addresses, lines), with `import <snippet>` of the config's own snippets inlined;
    the global options block and snippet definitions are not sites."""
    blocks = _blocks(lines(config))
    snippets = {head[0][1:-1]: body for head, body in blocks if len(head) == 1 and head[0].startswith("(")}
    found = []
    for head, body in blocks:
        if not head or head[0].startswith("("):
            continue
        expanded: list[str] = []
        for line in body:
            words = tokens(line)
            expanded += snippets.get(words[1], [line]) if words[:1] == ["import"] and len(words) == 2 else [line]
        found.append((head, expanded))
    return found


def serves_https(addresses: list[str]) -> bool:
    """Caddy serves a site over HTTPS unless every address says http:// or port 80."""
    return not all(a.startswith("http://") or a.endswith(":80") for a in addresses)


def client_auth(site_lines: list[str]) -> dict[str, list[str]]:
    """The `client_auth` settings inside a site's `tls` block: subdirective -> its arguments (a
    repeated one keeps all, space-joined); {} when the site asks no client certificate."""
    found: dict[str, list[str]] = {}
    path: list[str] = []
    for line in site_lines:
        words = tokens(line)
        if line.startswith("}"):
            path = path[:-1]
            continue
        if line.endswith("{"):
            path.append(words[0] if words else "")
            if path[-2:] == ["tls", "client_auth"]:
                found.setdefault("client_auth", [])
            continue
        if path[-2:] == ["tls", "client_auth"] and words:
            found.setdefault(words[0], []).extend(words[1:])
    return found
