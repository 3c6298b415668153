"""Typed settings of one stack; the only code that reads Pulumi config.

Config -> `parse_settings` / `load_settings` (loading.py: pure, validated once) -> `StackSettings`
(stack.py: one model per section, in its own module, and the checks across sections in checks.py)
-> components. Every problem is reported as one line naming the setting and the fix (errors.py),
raised as a `SettingsError` (a `pulumi.RunError`, so the CLI shows the message without a stack
trace) before any resource is registered.
"""

from ..secret_names import looks_secret
from .backup import BackupSettings, RestoreChecks, Retention, S3Repository, VolumeRepository
from .checks import KNOWN_STACKS
from .common import Healthcheck, Limits
from .data import CacheSettings, DatabaseSettings
from .errors import NAMESPACE, SettingsError
from .host import CLOUD_ENVIRONMENTS, PUBLIC_HOSTS, HostSettings, LocalHost
from .loading import LoadedSettings, load_settings, parse_settings
from .proxy import ProxySettings
from .secrets import PLATFORM_SECRETS, ConfigSecret, GeneratedSecret, SecretSpec
from .separation import SEPARATED_STACKS, copied_secret_problems, stack_separation_problems
from .services import Route, ServiceSettings, service_start_order
from .stack import StackSettings

__all__ = [
    "BackupSettings", "CLOUD_ENVIRONMENTS", "CacheSettings", "ConfigSecret", "DatabaseSettings", "GeneratedSecret",
    "Healthcheck", "HostSettings", "KNOWN_STACKS", "Limits", "LoadedSettings", "LocalHost", "NAMESPACE",
    "PLATFORM_SECRETS", "PUBLIC_HOSTS", "ProxySettings", "RestoreChecks", "Retention", "Route", "S3Repository",
    "SEPARATED_STACKS", "SecretSpec", "ServiceSettings", "SettingsError", "StackSettings", "VolumeRepository",
    "copied_secret_problems", "load_settings", "looks_secret", "parse_settings", "service_start_order",
    "stack_separation_problems",
]
