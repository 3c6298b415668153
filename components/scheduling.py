"""Whether a service runs scheduled jobs (a scheduler, cron, Celery beat, a clock process): placed on
every application server, each job would fire once per server. Shared by the settings and the pack."""

from __future__ import annotations

import re
from collections.abc import Iterable

SCHEDULER_PART = "SCHEDUL"  # scheduler, schedules, apscheduler, runapscheduler
CRON_PREFIX, CRON_SUFFIXES = "CRON", ("CRON", "CRONIC")  # cron, crontab, supercronic; not micronaut, acronym
SCHEDULER_WORDS = ("BEAT", "CLOCK", "CLOCKWORK", "PERIODIC", "TIMER", "TIMERS", "TICKER")


def looks_like_scheduler(texts: Iterable[str]) -> bool:
    """True when a service's name or command says it schedules jobs: `scheduler`, `celery -A app beat`,
    `supercronic /etc/crontab`, `clock`."""
    words = [w for text in texts for w in re.sub(r"[^A-Za-z0-9]+", " ", text).upper().split()]
    return any(SCHEDULER_PART in w or w.startswith(CRON_PREFIX) or w.endswith(CRON_SUFFIXES) or w in SCHEDULER_WORDS
               for w in words)
