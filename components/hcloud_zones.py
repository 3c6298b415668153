"""Hetzner Cloud's locations and the network zone each belongs to: a server, load balancer or subnet
outside its network's zone, or a volume or primary IP in another location than its server, is
refused by Hetzner's API at apply. Shared by the settings and the pack."""

from __future__ import annotations

ZONE_OF_LOCATION = {"fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central", "ash": "us-east",
                    "hil": "us-west", "sin": "ap-southeast"}


def location_of(datacenter_or_location: str) -> str:
    """'fsn1-dc14' -> 'fsn1'; a location stays itself."""
    return datacenter_or_location.split("-", 1)[0]
