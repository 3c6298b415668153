"""Security: secrets never in plain env or labels, strong generated secrets, CORS, debug, proxy headers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from components.secret_names import looks_secret, secret_in_text, secret_name
from components.transport import plain_origins

from . import caddyfile
from .base import CONTAINER, REMOTE_IMAGE, env_items, label_map, number, role, rule_maker
from .data import HCLOUD_SERVER
from .secret_fields import secrets_in_fields

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_STRING = "random:index/randomString:RandomString"
# Preflight's own generated secrets (components/generated.py): dynamic resources with a `length`.
DYNAMIC = "pulumi-python:dynamic:Resource"
# components/proxy_sites.py: the proxy's site blocks, a dynamic resource with this `role`.
PROXY_SITES = "proxy-sites"
MIN_SECRET_LENGTH = 32
HSTS_MIN_AGE = 31536000
DEBUG_PATHS = ("/debug", "/_debug", "/__debug__", "/pprof", "/debug/pprof", "/actuator", "/_profiler", "/phpinfo")
REQUIRED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY or SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "a policy for your app",
}


def plain_secret_env(props: Mapping[str, Any]) -> Iterator[str]:
    for key, value in env_items(props):
        what = "a secret" if secret_name(key) and value else secret_in_text(value)
        if what:
            yield (f"env {key} carries {what} in plain text (visible in `docker inspect` and the state); "
                   f"deliver it as a file: settings secret_env -> /run/secrets/<name> and {key}_FILE")


def plain_secret_labels(props: Mapping[str, Any]) -> Iterator[str]:
    for key, value in label_map(props).items():
        what = secret_in_text(value)
        if looks_secret(key) and value or what:
            yield f"label {key} {'carries ' + what if what else 'looks like a secret'}; labels are public metadata, remove it"


def generated_secret_length(props: Mapping[str, Any]) -> Iterator[str]:
    if "length" not in props:
        return  # a dynamic resource that generates something other than a secret string
    length = props.get("length") or 0
    if length < MIN_SECRET_LENGTH:
        yield f"generate at least {MIN_SECRET_LENGTH} characters (length is {number(length)}); settings: secrets.<name>.length"


def cors_origins(props: Mapping[str, Any]) -> Iterator[str]:
    for key, value in env_items(props):
        if "CORS" in key.upper() and "ORIGIN" in key.upper():
            origins = [o.strip() for o in re.split(r"[,\s]+", value) if o.strip()]
            if not origins or any("*" in o for o in origins):
                yield f"env {key}={value!r}: list the exact origins (https://app.example.com), never '*'"
            elif plain_origins(value):
                yield (f"env {key}: {', '.join(plain_origins(value))} is not https://; production admits its "
                       "origins over HTTPS only (https://app.example.com)")


# Debug and development switches, recognised by the words of their names and by their values, not by
# a list of exact names: DEBUG, APP_DEBUG, DEBUG_MODE, debugMode, ENABLE_DEBUG_ROUTES (the
# checklist's own), XDEBUG_MODE; NODE_ENV, GO_ENV, ASPNETCORE_ENVIRONMENT, APP_MODE.
SWITCHED_ON = ("1", "true", "yes", "on", "y", "t", "enable", "enabled", "all", "*")
DEVELOPMENT = ("development", "develop", "devel", "dev", "debug")
MODE_WORDS = ("ENV", "ENVIRONMENT", "MODE", "PROFILE", "STAGE")


def words(key: str) -> list[str]:
    """DEBUG_MODE, debugMode, Debug-Mode -> ['DEBUG', 'MODE']; XDEBUG -> ['XDEBUG']."""
    return re.sub(r"[^A-Za-z0-9]+", " ", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)).upper().split()


def debug_off(props: Mapping[str, Any]) -> Iterator[str]:
    for key, value in env_items(props):
        named, setting = words(key), value.strip().lower()
        if any("DEBUG" in word for word in named) and (setting in SWITCHED_ON or setting in DEVELOPMENT):
            yield f"env {key}={value!r}: turn debug off in production (remove it or set it to 0/false)"
        elif named and named[-1] in MODE_WORDS and setting in DEVELOPMENT:
            yield f"env {key}={value!r}: production must not run in development mode"


def proxy_config(props: Mapping[str, Any]) -> str:
    """The proxy's own config: the file (Caddyfile or nginx.conf) uploaded into the proxy container,
    or the site blocks a `ProxySites` resource switches in the running proxy at each release."""
    if props.get("role") == PROXY_SITES:
        return props.get("template") or ""
    if role(props) != "proxy":
        return ""
    return "\n".join(u.get("content") or "" for u in props.get("uploads") or []
                     if re.search(r"(Caddyfile|nginx\.conf|\.caddy)$", u.get("file") or ""))


NO_PROXY_CONFIG = "the proxy container carries no Caddyfile or nginx.conf the pack can read; upload its config"


def reads_proxy_config(check: Callable[[str], Iterator[str]]) -> Callable[[Mapping[str, Any]], Iterator[str]]:
    """A rule about the proxy's config: `check` reads the config; a proxy container with none the
    pack can read fails (never passes by having nothing to judge); other resources are not proxies."""
    def rule(props: Mapping[str, Any]) -> Iterator[str]:
        config = proxy_config(props)
        if config:
            yield from check(config)
        elif role(props) == "proxy":
            yield NO_PROXY_CONFIG
    rule.__name__, rule.__doc__ = check.__name__, check.__doc__
    return rule


def is_nginx(config: str) -> bool:
    """nginx.conf (add_header directives) rather than a Caddyfile."""
    return bool(re.search(r"^\s*add_header\s", config, re.M))


@reads_proxy_config
def hsts_at_proxy(config: str) -> Iterator[str]:
    value = next((v for k, v in caddyfile.response_headers(config).items()
                  if k.lower() == "strict-transport-security"), "") if not is_nginx(config) else \
        " ".join(re.findall(r"Strict-Transport-Security\"?\s+\"?(max-age=\d+)", config))  # nginx: add_header
    ages = [int(age) for age in re.findall(r"max-age=(\d+)", value)]
    if not ages or min(ages) < HSTS_MIN_AGE:
        yield f"send Strict-Transport-Security with max-age >= {HSTS_MIN_AGE} (settings: proxy.hsts_max_age_s)"


@reads_proxy_config
def security_headers_at_proxy(config: str) -> Iterator[str]:
    sent = {k.lower() for k in caddyfile.response_headers(config)} if not is_nginx(config) else \
        {h.lower() for h in REQUIRED_HEADERS if h in config}
    for header, expected in REQUIRED_HEADERS.items():
        if header.lower() not in sent:
            yield f"the proxy does not send {header}; add it ({expected})"


@reads_proxy_config
def https_redirect_at_proxy(config: str) -> Iterator[str]:
    redirects = [d for d in caddyfile.directives(config, "redir") if len(d) > 1 and d[1].startswith("https://")]
    if not redirects and not re.search(r"return\s+30[18]\s+https://", config):
        yield "redirect every http:// request to https:// at the proxy (308)"


def no_debug_routes(props: Mapping[str, Any]) -> Iterator[str]:
    config = "\n".join(caddyfile.lines(proxy_config(props)))
    for path in DEBUG_PATHS:
        if re.search(rf"(handle|handle_path|route|location|reverse_proxy)\s+[^\n{{]*{re.escape(path)}(/|\*|\s|$)", config):
            yield f"the proxy routes {path}: do not expose debug endpoints in production"


_rule = rule_maker("security", (CONTAINER,))


RULES = [
    _rule("PF-SEC-001", "No secret-looking environment variable holds a plain value.", Severity.CRITICAL,
          "no secret in plaintext (config, env, labels)", plain_secret_env),
    _rule("PF-SEC-002", "No secret-looking container label.", Severity.HIGH,
          "no secret in plaintext (config, env, labels)", plain_secret_labels),
    _rule("PF-SEC-003", f"Generated secrets are at least {MIN_SECRET_LENGTH} characters.", Severity.HIGH,
          "JWT/app secrets >= 32 random chars", generated_secret_length,
          types=(RANDOM_PASSWORD, RANDOM_STRING, DYNAMIC)),
    _rule("PF-SEC-004", "CORS origins are explicit, never '*'.", Severity.HIGH,
          "CORS origins explicit (no `*`) in production", cors_origins, production_only=True),
    _rule("PF-SEC-005", "DEBUG and development mode are off.", Severity.HIGH,
          "debug routes and DEBUG off in production", debug_off, production_only=True),
    _rule("PF-SEC-006", "The proxy exposes no debug routes.", Severity.HIGH,
          "debug routes and DEBUG off in production", no_debug_routes, production_only=True,
          types=(CONTAINER, DYNAMIC)),
    _rule("PF-SEC-007", f"The proxy sends HSTS with max-age >= {HSTS_MIN_AGE}.", Severity.HIGH,
          "HTTPS forced, HSTS max-age >= 31536000", hsts_at_proxy),
    _rule("PF-SEC-008", "The proxy sends the security headers.", Severity.MEDIUM,
          "security headers at the proxy", security_headers_at_proxy),
    _rule("PF-SEC-009", "The proxy redirects HTTP to HTTPS.", Severity.HIGH, "HTTPS forced", https_redirect_at_proxy),
    _rule("PF-SEC-010", "No secret written out in any other field: command lines, healthchecks, URLs with a password, "
          "server labels and user data.", Severity.CRITICAL, "no secret in plaintext (config, env, labels)",
          secrets_in_fields, types=(CONTAINER, REMOTE_IMAGE, HCLOUD_SERVER, DYNAMIC)),
]
