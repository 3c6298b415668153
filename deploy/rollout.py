"""A release, start to end: apply -> health gate -> record the release, or roll back to the newest
recorded release that differs. The stack is reached through three small callables and its tags,
so the decisions are tested on a fake (tests/unit/test_rollout.py) and run for real by `deploy up`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import releases
from .exit_codes import Exit


class ApplyFailed(Exception):
    """An update failed; `lines` say what failed, in the engine's words."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass
class Outcome:
    exit: Exit
    release: int | None = None  # recorded, when the gate passed
    rolled_back_to: int | None = None

    def summary(self, stack: str) -> dict[str, Any]:
        if self.release is not None:
            return {"stack": stack, "release": self.release, "gate": "passed"}
        return {"stack": stack, "gate": "failed", "rolled_back_to": self.rolled_back_to}


@dataclass
class Rollout:
    """target: the stack (its tags hold the releases); release: the update with the stack file as it
    is; restore: an update with another config file; gate: True once every public health URL answers."""

    target: Any
    stack_file: Path
    release: Callable[[], None]
    restore: Callable[[Path], None]
    gate: Callable[[], bool]
    progress: Callable[[str], None]

    def run(self, images: dict[str, str]) -> Outcome:
        try:
            self.release()
            healthy = self.gate()
        except ApplyFailed as failed:
            self.progress("up failed:")
            for line in failed.lines:
                self.progress(f"  {line}")
            healthy = False
        if healthy:
            recorded = releases.record(self.target, images)
            self.progress(f"release {recorded.number} passed the health gate")
            return Outcome(Exit.DONE, release=recorded.number)
        previous = releases.previous(self.target, images)
        if previous is None:
            self.progress("no earlier release recorded to roll back to")
            return Outcome(Exit.GATE)
        self.progress(f"rolling back to release {previous.number}")
        try:
            self.roll_back_to(previous)
        except ApplyFailed as failed:
            self.progress(f"the rollback to release {previous.number} failed too; the stack is as the rollback left it:")
            for line in failed.lines:
                self.progress(f"  {line}")
            return Outcome(Exit.FAILED)
        return Outcome(Exit.GATE, rolled_back_to=previous.number)

    def roll_back_to(self, release: releases.Release) -> None:
        """Applies `release`'s images from a copy of the stack file (the file itself is not changed)."""
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as scratch:
            self.restore(releases.config_with_images(self.stack_file, release.images, Path(scratch) / self.stack_file.name))
        self.progress(f"release {release.number} serving again after {time.monotonic() - started:.1f}s; fix the images "
                      f"in {self.stack_file.name} before the next up")
