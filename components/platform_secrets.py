"""The secret names the platform owns, in one place: what it generates, and what it wires into
services itself. A user's `preflight:secrets` entry may not take one of these names (settings refuse
it, naming the fix), so nothing the user declares silently replaces what the platform made."""

from __future__ import annotations

GENERATED_LENGTHS = {"postgres_password": 48, "redis_password": 48}
# Generated unless `backup.password_secret` names a secret of the user's.
GENERATED_BACKUP_PASSWORD = "backup_password"
BACKUP_PASSWORD_LENGTH = 48
# Built from the generated passwords and handed to services that use the database or the cache.
WIRED = ("database_url", "redis_url")
ALWAYS_RESERVED = (*GENERATED_LENGTHS, *WIRED)
