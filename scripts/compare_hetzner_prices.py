"""Compare the price table recorded in deploy/pricing.py with Hetzner's pricing API.

    HCLOUD_TOKEN=... python scripts/compare_hetzner_prices.py   # exit 1 when a recorded price differs

Needs a token (read-only is enough) and the network that reaches api.hetzner.cloud (not the build
machines). Update RECORDED and its date from what this prints."""

from __future__ import annotations

import os
import sys

from hcloud import Client

from deploy.pricing import RECORDED, from_api


def main() -> int:
    token = os.environ.get("HCLOUD_TOKEN")
    if not token:
        print("set HCLOUD_TOKEN (a read-only token of any project is enough)", file=sys.stderr)
        return 2
    live = from_api(Client(token=token, timeout=20))
    differs = []
    for kind, recorded, current in (("server", RECORDED.server, live.server),
                                    ("load balancer", RECORDED.load_balancer, live.load_balancer)):
        for name, by_location in recorded.items():
            for location, price in by_location.items():
                now = (current.get(name) or {}).get(location)
                if now is None or abs(now - price) > 0.005:
                    differs.append(f"{kind} {name} in {location}: recorded {price:.2f}, API {now}")
    for what, recorded_value, current_value in (("volume per GB", RECORDED.volume_per_gb, live.volume_per_gb),
                                                ("primary IPv4", RECORDED.primary_ip["ipv4"], live.primary_ip.get("ipv4")),
                                                ("backup surcharge", RECORDED.backup_surcharge, live.backup_surcharge)):
        if current_value is None or abs(current_value - recorded_value) > 0.0005:
            differs.append(f"{what}: recorded {recorded_value}, API {current_value}")
    print("\n".join(differs) or "the recorded table matches the API")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
