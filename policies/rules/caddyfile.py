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
