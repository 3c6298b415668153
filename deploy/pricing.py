"""What a stack costs a month on Hetzner Cloud, and what a preview changes of it.

Priced: servers (by type and location), their backups (a surcharge on the server's price),
volumes (by size), primary IPs, load balancers (by type). Not priced: traffic (each server and
load balancer includes a quota; what goes past it is billed by use), and everything outside
Hetzner (Cloudflare, the Docker containers themselves).

Prices come from Hetzner's pricing API (`GET /pricing` through hcloud-python's client) when a token
is at hand (HCLOUD_TOKEN), else from the table recorded here, whose source and date are stated with
every report. `scripts/compare_hetzner_prices.py` compares the table with the API where it answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SERVER = "hcloud:index/server:Server"
VOLUME = "hcloud:index/volume:Volume"
PRIMARY_IP = "hcloud:index/primaryIp:PrimaryIp"
LOAD_BALANCER = "hcloud:index/loadBalancer:LoadBalancer"
PRICED = (SERVER, VOLUME, PRIMARY_IP, LOAD_BALANCER)
EU = ("fsn1", "nbg1", "hel1")
VAT = 0.19  # German VAT, what Hetzner's gross prices carry; a business customer elsewhere pays net


@dataclass(frozen=True)
class PriceTable:
    """Monthly prices in EUR, net of VAT (a month is the cap of the hourly price)."""

    source: str
    server: Mapping[str, Mapping[str, float]]  # server type -> location -> price
    load_balancer: Mapping[str, Mapping[str, float]]  # load balancer type -> location -> price
    volume_per_gb: float
    primary_ip: Mapping[str, float]  # ipv4 / ipv6
    backup_surcharge: float  # a fraction of the server's price


def _everywhere_in_eu(prices: Mapping[str, float]) -> dict[str, dict[str, float]]:
    return {kind: {location: price for location in EU} for kind, price in prices.items()}


# Hetzner Cloud's published price list for its EU locations (Falkenstein, Nuremberg, Helsinki),
# as recorded here; not checked against the API from the build machines (they reach no Hetzner
# endpoint). US and Singapore prices differ and are not recorded: with HCLOUD_TOKEN set they come
# from the API; without it their lines say that no price is recorded.
RECORDED = PriceTable(
    source="recorded table (Hetzner Cloud price list, EU locations; recorded 2026-11-27, not verified "
           "against the API from this machine: run scripts/compare_hetzner_prices.py with HCLOUD_TOKEN)",
    server=_everywhere_in_eu({
        "cx22": 3.79, "cx32": 6.80, "cx42": 16.40, "cx52": 32.40,
        "cpx11": 4.35, "cpx21": 7.55, "cpx31": 13.60, "cpx41": 25.20, "cpx51": 54.90,
        "cax11": 3.79, "cax21": 6.49, "cax31": 12.49, "cax41": 24.49,
        "ccx13": 12.49, "ccx23": 24.49, "ccx33": 48.49, "ccx43": 96.49, "ccx53": 192.49, "ccx63": 288.49,
    }),
    load_balancer=_everywhere_in_eu({"lb11": 5.39, "lb21": 16.40, "lb31": 32.90}),
    volume_per_gb=0.044,
    primary_ip={"ipv4": 0.50, "ipv6": 0.0},
    backup_surcharge=0.20,
)


@dataclass(frozen=True)
class Line:
    """One priced resource: its monthly net price, or None with why there is none."""

    resource: str
    what: str
    net: float | None
    note: str = ""


def price(resource_type: str, name: str, inputs: Mapping[str, Any], table: PriceTable) -> list[Line]:
    """The lines a resource costs (a server with backups is two); [] for what Hetzner does not bill."""
    location = str(inputs.get("location") or "")

    def by_location(prices: Mapping[str, Mapping[str, float]], kind: str, what: str) -> Line:
        found = (prices.get(kind) or {}).get(location)
        return Line(name, what, found, "" if found is not None else f"no price for {kind} in {location or '?'}")

    if resource_type == SERVER:
        kind = str(inputs.get("serverType") or "")
        server = by_location(table.server, kind, f"server {kind}, {location}")
        lines = [server]
        if inputs.get("backups"):
            surcharge = None if server.net is None else round(server.net * table.backup_surcharge, 4)
            lines.append(Line(name, f"backups (+{table.backup_surcharge:.0%})", surcharge, server.note))
        return lines
    if resource_type == LOAD_BALANCER:
        kind = str(inputs.get("loadBalancerType") or "")
        return [by_location(table.load_balancer, kind, f"load balancer {kind}, {location}")]
    if resource_type == VOLUME:
        size = float(inputs.get("size") or 0)
        return [Line(name, f"volume {size:.0f} GB", round(size * table.volume_per_gb, 4))]
    if resource_type == PRIMARY_IP:
        kind = str(inputs.get("type") or "")
        return [Line(name, f"primary IP ({kind})", table.primary_ip.get(kind),
                     "" if kind in table.primary_ip else f"no price for a primary IP of type {kind}")]
    return []


def total(lines: Iterable[Line]) -> float:
    return round(sum(line.net or 0.0 for line in lines), 2)


def gross(net: float) -> float:
    return round(net * (1 + VAT), 2)


@dataclass
class Change:
    """A preview step of a priced resource: what it cost before and what it will cost."""

    resource: str
    op: str
    before: list[Line] = field(default_factory=list)
    after: list[Line] = field(default_factory=list)

    @property
    def difference(self) -> float:
        return round(total(self.after) - total(self.before), 2)


# How a preview step changes the bill: what goes away, what comes (a replacement's create and
# delete halves are counted once, with its `replace` step).
GOES = {"same", "delete", "replace", "update"}
COMES = {"same", "create", "replace", "update"}


def change(op: str, resource_type: str, name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
           table: PriceTable) -> Change | None:
    if resource_type not in PRICED or op not in GOES | COMES:
        return None
    before = price(resource_type, name, old or {}, table) if op in GOES and old else []
    after = price(resource_type, name, new or {}, table) if op in COMES and new else []
    found = Change(name, op, before, after)
    return found if found.before or found.after else None


def stack_lines(resources: Iterable[Mapping[str, Any]], table: PriceTable) -> list[Line]:
    """The priced resources of a stack's state (`pulumi stack export` resources)."""
    return [line for r in resources for line in
            price(str(r.get("type")), str(r.get("urn", "")).split("::")[-1], r.get("inputs") or {}, table)]


def euros(amount: float | None, signed: bool = False) -> str:
    if amount is None:
        return "?"
    return f"{amount:+.2f} €" if signed else f"{amount:.2f} €"


def from_api(client: Any) -> PriceTable:
    """The current prices from Hetzner's pricing API (`GET /pricing`, through an hcloud.Client)."""
    pricing = client.request("GET", "/pricing")["pricing"]

    def monthly(entries: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
        return {e["name"]: {p["location"]: float(p["price_monthly"]["net"]) for p in e["prices"]} for e in entries}

    return PriceTable(
        source="Hetzner's pricing API (asked now)",
        server=monthly(pricing["server_types"]),
        load_balancer=monthly(pricing["load_balancer_types"]),
        volume_per_gb=float(pricing["volume"]["price_per_gb_month"]["net"]),
        primary_ip={"ipv6": 0.0} | {e["type"]: max(float(p["price_monthly"]["net"]) for p in e["prices"])
                                    for e in pricing["primary_ips"]},
        backup_surcharge=float(pricing["server_backup"]["percentage"]) / 100,
    )


def current_table(token: str | None, client: Any = None) -> PriceTable:
    """The API's prices when a token is given and the API answers, else the recorded table.
    client: an hcloud.Client (made from the token when not given)."""
    if not token:
        return RECORDED
    try:
        if client is None:
            from hcloud import Client

            client = Client(token=token, timeout=15)
        return from_api(client)
    except Exception as error:  # noqa: BLE001 - any failure of the API leaves the recorded table
        reason = type(error).__name__
        return PriceTable(**{**RECORDED.__dict__, "source": f"{RECORDED.source}; the API did not answer ({reason})"})
