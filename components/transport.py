"""Transport security, judged the same way by the settings and the pack: a backup repository reached
in plain HTTP, a CORS origin that is not https://, a Content-Security-Policy with a wildcard source.
Dependency-free."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

RESTIC_HTTP_BACKENDS = ("s3:", "rest:", "swift:")  # a restic repository whose URL says how it is reached
PRIVATE_NETWORKS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
WILDCARD_SOURCES = ("*", "http:", "https:", "data:", "blob:", "filesystem:", "ws:", "wss:")  # any host at all


def plain_http_repository(repository: str) -> str | None:
    """The host a restic repository is reached at over plain HTTP, or None (HTTPS, SFTP, a local path).
    An address of a private network or loopback is not the internet: reached in plain HTTP, it passes
    (the rehearsal's S3 server sits on the servers' private network)."""
    url = repository
    for prefix in RESTIC_HTTP_BACKENDS:
        if url.startswith(prefix):
            url = url[len(prefix):]
    if not url.lower().startswith("http://"):
        return None
    host = urlsplit(url).hostname or ""
    return None if _private_or_loopback(host) else host


def _private_or_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: resolved on the internet, for all we know
    return address.is_loopback or any(address in network for network in PRIVATE_NETWORKS)


def plain_origins(value: str) -> list[str]:
    """The origins of a CORS list (comma or space separated) that are not https://; '*' is PF-SEC-004's."""
    return [o for o in re.split(r"[,\s]+", value) if o and o != "*" and not o.lower().startswith("https://")]


def csp_wildcards(policy: str) -> list[str]:
    """`directive source` pairs of a Content-Security-Policy that admit any host: '*', a bare scheme."""
    found = []
    for directive in policy.split(";"):
        words = directive.split()
        found += [f"{words[0]} {source}" for source in words[1:] if source.lower() in WILDCARD_SOURCES
                  and not (source.lower() in ("data:", "blob:") and words[0].lower() in ("img-src", "font-src",
                                                                                          "media-src"))]
    return found
