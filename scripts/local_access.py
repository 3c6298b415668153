"""After `make up`: save the local stack's certificate where curl can read it and print how to
reach every public service. Reads the stack's outputs through the Automation API."""

from __future__ import annotations

import sys
from pathlib import Path

from pulumi import automation as auto

ROOT = Path(__file__).resolve().parent.parent
CERTIFICATE = ROOT / ".state" / "local-ca.pem"


def main() -> int:
    outputs = auto.select_stack(stack_name="local", work_dir=str(ROOT)).outputs()
    CERTIFICATE.parent.mkdir(exist_ok=True)
    CERTIFICATE.write_text(outputs["tls_certificate_pem"].value)
    print("\nThe local stack is up:")
    for name, url in sorted(outputs["urls"].value.items()):
        print(f"  {name}: {url}")
    for url in sorted(outputs["health_urls"].value.values()):
        certificate = CERTIFICATE.relative_to(Path.cwd()) if CERTIFICATE.is_relative_to(Path.cwd()) else CERTIFICATE
        print(f"  curl --cacert {certificate} {url}")
    if (outputs["operations"].value or {}).get("monitoring"):
        print("  .venv/bin/python -m deploy alerts local    # what the stack's monitoring fires now")
    return 0


if __name__ == "__main__":
    sys.exit(main())
