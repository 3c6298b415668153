"""Whether a service runs scheduled jobs (a scheduler, cron, Celery beat, a clock process): placed on
every application server, each job would fire once per server. Shared by the settings and the pack."""

from __future__ import annotations

import re
from collections.abc import Iterable

SCHEDULER_PARTS = ("SCHEDUL", "CRON")  # scheduler, schedules, apscheduler, cron, crontab, supercronic
SCHEDULER_WORDS = ("BEAT", "CLOCK", "CLOCKWORK", "PERIODIC", "TIMER", "TIMERS", "TICKER")


def looks_like_scheduler(texts: Iterable[str]) -> bool:
    """True when a service's name or command says it schedules jobs: `scheduler`, `celery -A app beat`,
    `supercronic /etc/crontab`, `clock`."""
    words = [w for text in texts for w in re.sub(r"[^A-Za-z0-9]+", " ", text).upper().split()]
    return any(part in word for word in words for part in SCHEDULER_PARTS) or any(w in SCHEDULER_WORDS for w in words)
