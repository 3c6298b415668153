"""Which names look like they hold a secret. Dependency-free: settings and the policy pack share it."""

from __future__ import annotations

import re

SECRET_WORDS = {"SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "CREDENTIAL", "CREDENTIALS", "DSN",
                "APIKEY"}
SECRET_WORD_PAIRS = {("API", "KEY"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("SIGNING", "KEY"), ("ENCRYPTION", "KEY")}


def looks_secret(key: str) -> bool:
    """True for names like JWT_SECRET, dbPassword, STRIPE_API_KEY; false for TOKENIZER_MODEL."""
    words = re.sub(r"[^A-Za-z0-9]+", " ", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)).upper().split()
    return bool(SECRET_WORDS & set(words)) or any(pair in SECRET_WORD_PAIRS for pair in zip(words, words[1:], strict=False))
