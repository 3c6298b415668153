"""Which names look like they hold a secret. Dependency-free: settings and the policy pack share it."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

SECRET_WORDS = {"SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "CREDENTIAL", "CREDENTIALS", "DSN",
                "APIKEY"}
SECRET_SUFFIXES = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "TOKEN", "APIKEY")
SECRET_WORD_PAIRS = {("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("SIGNING", "KEY"), ("ENCRYPTION", "KEY")}


def looks_secret(key: str) -> bool:
    """True for names like JWT_SECRET, dbPassword, STRIPE_API_KEY, PGPASSWORD; false for TOKENIZER_MODEL."""
    words = re.sub(r"[^A-Za-z0-9]+", " ", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)).upper().split()
    return bool(SECRET_WORDS & set(words)) or any(pair in SECRET_WORD_PAIRS for pair in zip(words, words[1:], strict=False)) \
        or any(word.endswith(SECRET_SUFFIXES) for word in words)  # PGPASSWORD, DBPASSWD, GHTOKEN


# --- secret values written out in any field: one detection for the settings and the pack ----------

# scheme://user:password@host (also s3:https://..., redis://:password@host); the password is group 2.
CREDENTIAL_URL = re.compile(r"([a-z][a-z0-9+.-]*://)([^/\s:@]*):([^@\s/]+)@", re.I)
REFERENCE_WORDS = {"FILE", "PATH", "DIR", "NAME", "ENV", "VAR"}  # --password-file, JWT_SECRET_FILE: a reference


def is_reference(value: str) -> bool:
    """$VAR, ${VAR}, $(cat file), {{ template }}, <placeholder>: the value is fetched elsewhere, not written here."""
    return value.startswith(("$", "{{", "<"))


def secret_name(key: str) -> bool:
    """A name that holds a secret value itself, not a reference to one (JWT_SECRET, not JWT_SECRET_FILE)."""
    words = re.sub(r"[^A-Za-z0-9]+", " ", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)).upper().split()
    return looks_secret(key) and not (words and words[-1] in REFERENCE_WORDS)


def secret_flag(name: str) -> bool:
    """A command-line flag that takes a secret: its last words name one (--db-password, --api-key,
    --token), not a setting about one (--api-key-header, --token-ttl, --password-file)."""
    words = re.sub(r"[^A-Za-z0-9]+", " ", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)).upper().split()
    return bool(words) and (looks_secret(words[-1]) or tuple(words[-2:]) in SECRET_WORD_PAIRS)


def secret_in_text(text: str) -> str | None:
    """A secret written out in free text: a URL with a password. Said masked, never the value itself."""
    match = CREDENTIAL_URL.search(text)
    if match and not is_reference(match.group(3)):
        return f"a URL with a password in it ({match.group(1)}{match.group(2)}:***@...)"
    return None


def secret_in_command(argv: list[str] | tuple[str, ...]) -> str | None:
    """A secret on a command line (exec form; a word with spaces is read as a shell script): a URL with a
    password, `--db-password=x`, `--token x`, `PGPASSWORD=x psql`. References ($VAR, files) are fine."""
    words: list[str] = []
    for word in argv:
        words += _shell_words(word) if any(c.isspace() for c in word) else [word]
    for index, word in enumerate(words):
        found = secret_in_text(word)
        if found:
            return found
        name, equals, value = word.lstrip("-").partition("=")
        flag = word.startswith("-")
        if equals and value and (secret_flag(name) if flag else name.isidentifier() and secret_name(name)) and \
                not is_reference(value):
            return f"{word.split('=', 1)[0]}=*** on the command line"
        following = words[index + 1] if index + 1 < len(words) else ""
        if word.startswith("--") and not equals and secret_flag(name) and following and \
                not following.startswith("-") and not is_reference(following):
            return f"{word} *** on the command line"
    return None


COMMAND_KEYS = ("command", "entrypoint", "migrate_command", "healthcheck_command", "tests")  # lists read as argv
DOCKER_FORMS = ("CMD", "CMD-SHELL")


def secrets_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, what) for each secret written out in a value of any shape (settings, resource inputs):
    strings as text, a list under a command key (command, healthcheck tests...) as a command line."""
    key = path.rsplit(".", 1)[-1]
    found = None
    if isinstance(value, str):
        found = secret_in_text(value)
    elif isinstance(value, Mapping):
        for name in list(value.keys()):
            yield from secrets_in(value[name], f"{path}.{name}" if path else str(name))
    elif isinstance(value, Sequence) and key in COMMAND_KEYS:
        words = [str(word) for word in value]
        found = secret_in_command(words[1:] if words[:1] and words[0] in DOCKER_FORMS else words)
    elif isinstance(value, Sequence):
        for index, item in enumerate(value):
            yield from secrets_in(item, f"{path}[{index}]")
    if found:
        yield path, found


def _shell_words(script: str) -> list[str]:
    try:
        return shlex.split(script)
    except ValueError:
        return script.split()
