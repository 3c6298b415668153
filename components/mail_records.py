"""Mail sent from the stack's domain is authenticated: SPF, DKIM and DMARC (p=quarantine or reject).
What the records are, and how a sender and a record are recognised: shared by the settings, the edge
and the pack. Dependency-free."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAIL_WORDS = ("MAIL", "EMAIL", "SMTP", "SENDER")
ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
ENFORCING = ("quarantine", "reject")


def sender_domains(env: Iterable[tuple[str, str]]) -> set[str]:
    """Domains a service sends mail from: addresses in env whose names speak of mail (MAIL_FROM,
    EMAIL_SENDER, SMTP_FROM, DEFAULT_FROM_EMAIL)."""
    found = set()
    for key, value in env:
        words = re.sub(r"[^A-Za-z0-9]+", " ", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)).upper().split()
        if any(word.endswith(MAIL_WORDS) for word in words):
            found |= {domain.lower() for domain in ADDRESS.findall(value)}
    return found


def dmarc_record(policy: str, report_to: str | None) -> str:
    return f"v=DMARC1; p={policy}" + (f"; rua={report_to}" if report_to else "")


def records(domain: str, spf: str, dkim: dict[str, str], dmarc: str) -> list[tuple[str, str]]:
    """(name, TXT content) the zone carries for mail from `domain`."""
    return [(domain, spf), *((f"{selector}._domainkey.{domain}", key) for selector, key in sorted(dkim.items())),
            (f"_dmarc.{domain}", dmarc)]


def record_problems(domain: str, txt: dict[str, list[str]], sends: bool = True) -> list[str]:
    """What the TXT records (name -> contents) lack for mail from `domain`: the fix for each. A domain
    that sends nothing is judged only on what it declares (`v=spf1 -all` alone is right for it)."""
    problems = []
    spf = [c for c in txt.get(domain, []) if c.strip('"').startswith("v=spf1")]
    if not spf and sends:
        problems.append(f"add an SPF record for {domain} (TXT v=spf1 ... -all)")
    elif spf and not any(re.search(r"[-~]all\"?$", c.strip()) for c in spf):
        problems.append(f"the SPF record of {domain} admits any sender; end it with -all (or ~all)")
    if sends and not any("v=DKIM1" in c for name, contents in txt.items() if name.endswith(f"._domainkey.{domain}")
                         for c in contents):
        problems.append(f"add a DKIM key for {domain} (TXT <selector>._domainkey.{domain}: v=DKIM1; k=rsa; p=...)")
    dmarc = [c for c in txt.get(f"_dmarc.{domain}", []) if "v=DMARC1" in c]
    policies = [m.group(1).lower() for c in dmarc for m in [re.search(r"\bp=(\w+)", c)] if m]
    if not dmarc and sends:
        problems.append(f"add a DMARC record for {domain} (TXT _dmarc.{domain}: v=DMARC1; p=reject)")
    elif dmarc and not set(policies) & set(ENFORCING):
        problems.append(f"the DMARC policy of {domain} is p={policies[0] if policies else 'none'}; set p=quarantine "
                        "or p=reject")
    return problems
