"""Print Cloudflare's current edge ranges next to the ones recorded in components/cloudflare_ips.py.

    python scripts/compare_cloudflare_ranges.py     # exit 1 when the recorded lists differ from the source

Needs the network that serves www.cloudflare.com (not the build machines)."""

from __future__ import annotations

import sys
import urllib.request

from components import cloudflare_ips


def fetch(url: str) -> tuple[str, ...]:
    with urllib.request.urlopen(url, timeout=20) as response:
        return tuple(line.strip() for line in response.read().decode().splitlines() if line.strip())


def main() -> int:
    current = {"IPV4": fetch("https://www.cloudflare.com/ips-v4"), "IPV6": fetch("https://www.cloudflare.com/ips-v6")}
    differs = False
    for name, ranges in current.items():
        recorded = getattr(cloudflare_ips, name)
        if set(ranges) != set(recorded):
            differs = True
            print(f"{name} differs: add {sorted(set(ranges) - set(recorded))}, drop {sorted(set(recorded) - set(ranges))}")
        print(f"{name} = {ranges!r}")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
