"""Whether a check command can fail at all: `true`, `exit 0`, `echo ok`, `sleep 1`, `check || true`
always exit 0, so a healthcheck made of them tests nothing. Shared by the settings and the pack.

Read as a POSIX shell reads a script, enough for that question: lists (`;`, newline, `&`), and-or
lists (`&&`, `||`), pipelines (the last command's status, unless `pipefail`), `set -e`. A script
using anything else (subshells, `if`, `!`, functions) counts as able to fail: never a false refusal.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

SHELLS = ("sh", "bash", "dash", "ash", "zsh", "busybox")
NO_OPS = ("true", ":", "echo", "printf", "sleep")  # exit 0 whatever the service does
UNJUDGED = ("(", ")", "{", "}", "!", "if", "then", "while", "until", "for", "case", "function", "eval")
SEPARATORS = (";", "&", "\n")


def cannot_fail(argv: Sequence[str]) -> bool:
    """An exec-form command (what follows Docker's CMD) that exits 0 whatever it checks."""
    if not argv:
        return False
    if _name(argv[0]) in SHELLS:
        script, errexit = _shell_script(list(argv[1:]))
        return script is not None and script_cannot_fail(script, errexit)
    return _simple_cannot_fail(list(argv))


def script_cannot_fail(script: str, errexit: bool = False) -> bool:
    """A shell script (Docker's CMD-SHELL) whose exit status is 0 whatever it checks."""
    try:
        lexer = shlex.shlex(script.replace("\n", ";"), posix=True, punctuation_chars="();<>|&")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return False
    if not tokens or any(t in UNJUDGED for t in tokens):
        return False
    return not _list_can_fail(_split(tokens, SEPARATORS), errexit, pipefail="pipefail" in tokens)


def _name(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _shell_script(args: list[str]) -> tuple[str | None, bool]:
    """`sh -ec 'script'` -> ('script', errexit); (None, _) when no -c script is given."""
    errexit = False
    for index, arg in enumerate(args):
        if not arg.startswith("-"):
            return None, errexit
        errexit = errexit or "e" in arg[1:]
        if "c" in arg[1:]:
            return (args[index + 1] if index + 1 < len(args) else None), errexit
    return None, errexit


def _split(tokens: list[str], separators: Sequence[str]) -> list[list[str]]:
    """Tokens cut at the separators; each part keeps the separator that ended it as its last item."""
    parts: list[list[str]] = [[]]
    for token in tokens:
        if token in separators:
            parts[-1].append(token)
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if any(t not in separators for t in p)]


def _list_can_fail(and_ors: list[list[str]], errexit: bool, pipefail: bool) -> bool:
    statuses: list[bool] = []
    for and_or in and_ors:
        background = and_or[-1] == "&"
        words = [t for t in and_or if t not in SEPARATORS]
        if not words:
            continue
        if words[:1] == ["set"]:
            errexit = errexit or any(w.startswith("-") and "e" in w[1:] for w in words[1:]) or "errexit" in words
            continue
        if words == ["exit", "0"]:
            return any(statuses) if errexit else False  # the script ends here with 0
        statuses.append(False if background else _and_or_can_fail(words, pipefail))
    if not statuses:
        return False
    return any(statuses) if errexit else statuses[-1]


def _and_or_can_fail(words: list[str], pipefail: bool) -> bool:
    can_fail, operator = None, ""
    pipeline: list[str] = []
    for word in [*words, "&&"]:
        if word not in ("&&", "||"):
            pipeline.append(word)
            continue
        this = _pipeline_can_fail(pipeline, pipefail)
        if can_fail is None:
            can_fail = this
        else:
            can_fail = (can_fail or this) if operator == "&&" else (can_fail and this)
        operator, pipeline = word, []
    return bool(can_fail)


def _pipeline_can_fail(words: list[str], pipefail: bool) -> bool:
    results = [not _simple_cannot_fail([w for w in c if w != "|"]) for c in _split(words, ("|",))]
    return any(results) if pipefail else results[-1]


def _simple_cannot_fail(words: list[str]) -> bool:
    words = _without_redirections(words)
    while words and "=" in words[0] and not words[0].startswith("="):
        words = words[1:]  # VAR=value before the command
    if not words:
        return True  # only assignments or redirections: status 0
    if words[0] == "exit":
        return words[1:] == ["0"]
    return _name(words[0]) in NO_OPS


def _without_redirections(words: list[str]) -> list[str]:
    """`check >/dev/null 2>&1` -> `check`: a redirection's operator and its target dropped."""
    kept: list[str] = []
    target = False
    for word in words:
        if target:
            target = False
        elif set(word) <= set("<>&") and set(word) & set("<>"):
            target = True
            if kept and kept[-1].isdigit():
                kept.pop()  # the descriptor of `2>`
        else:
            kept.append(word)
    return kept
