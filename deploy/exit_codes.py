"""What `python -m deploy` exits with, in one place (the README lists them)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    DONE = 0
    FAILED = 1
    USAGE = 2  # bad arguments, a refusal without confirmation, no backend chosen
    WRONG_PASSWORD = 3  # the backup repository's password is wrong (restic's own exit code)
    CHECKS_FAILED = 4  # the restore drill's checks failed
    REFUSED = 5  # refused by the policy pack, or the stack is locked by a live update
    GATE = 6  # the health gate failed (rolled back)
    DRIFT = 7  # the running stack differs from the program
    ALERTING = 8  # `alerts`: a critical alert is firing, or a receiver did not answer the test
