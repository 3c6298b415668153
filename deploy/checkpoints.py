"""Checkpoint files of a file backend that a killed CLI left half-written.

The file backend (gocloud's fileblob) writes each blob atomically (a temp file, then a rename), but
not the `<blob>.attrs` file beside it (content type and MD5, JSON): a CLI killed at that moment
leaves it empty, and every later command on the stack fails with `failed to load checkpoint: EOF`
although the checkpoint itself is whole. Such a sidecar is rewritten from the blob it describes,
with a line saying so. Nothing else is touched: a blob that is itself damaged is left to the
operator (its `.bak` is beside it).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from .locks import backend_root

DEFAULT_ATTRS = {"user.cache_control": "", "user.content_disposition": "", "user.content_encoding": "",
                 "user.content_language": "", "user.content_type": "text/plain; charset=utf-8", "user.metadata": None}


def damaged(attrs: Path) -> bool:
    try:
        json.loads(attrs.read_text() or "null")["md5"]
    except (OSError, ValueError, TypeError, KeyError):
        return True
    return False


def rewritten(blob: Path) -> str:
    md5 = base64.b64encode(hashlib.md5(blob.read_bytes()).digest()).decode()  # noqa: S324 - what fileblob records
    return json.dumps({**DEFAULT_ATTRS, "md5": md5}, separators=(",", ":"))


def repair(backend_url: str, project: str, stack: str, report: Callable[[str], None]) -> list[Path]:
    """Rewrites the stack's damaged attribute files (file backends only); returns the ones repaired."""
    root = backend_root(backend_url)
    if root is None:
        return []
    directory = root / ".pulumi" / "stacks" / project
    repaired = []
    for attrs in sorted(directory.glob(f"{stack}.*.attrs")) if directory.is_dir() else []:
        blob = attrs.with_name(attrs.name.removesuffix(".attrs"))
        if blob.is_file() and damaged(attrs):
            attrs.write_text(rewritten(blob))
            repaired.append(attrs)
            report(f"rewrote {attrs.name}, left empty by an interrupted update (the checkpoint {blob.name} itself "
                   f"is whole)")
    return repaired
