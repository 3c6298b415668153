"""What a stack costs a month on Hetzner, and what a preview's difference costs: the recorded price
table, the production stack at 1 and 3 application servers (built under mocks from the shipped
stack file), a preview's steps through the report, and the API path against a fake client."""

from __future__ import annotations

import copy
import json

import pytest
from pulumi import automation as auto

from deploy import pricing
from deploy.report import Report
from tests.mocks import build_stack
from tests.stack_config import CLOUD_SECRETS as SECRETS
from tests.stack_config import stack_config

# production's stack file: a cx32 with backups, a 100 GB volume, IPv4 + IPv6 in fsn1
ONE_SERVER = 6.80 + 6.80 * 0.20 + 100 * 0.044 + 0.50
# three application servers (cx32, no backups: they keep nothing) and an lb11 in front
THREE_SERVERS = ONE_SERVER + 3 * 6.80 + 5.39


def production(app_servers: int) -> list[dict]:
    raw = copy.deepcopy(stack_config("production"))
    raw["host"]["app_servers"] = app_servers
    built = build_stack("production", {**raw, **SECRETS}, secret_keys=frozenset(SECRETS))
    return [{"type": r.type, "urn": f"urn:pulumi:production::preflight::{r.type}::{r.name}", "inputs": r.inputs}
            for r in built.mocks.resources]


@pytest.fixture(scope="module")
def stacks() -> dict[int, list[dict]]:
    return {n: production(n) for n in (1, 3)}


def test_the_recorded_table_prices_every_type_it_names_in_every_eu_location_and_says_where_it_is_from():
    table = pricing.RECORDED
    for prices in (*table.server.values(), *table.load_balancer.values()):
        assert set(prices) == set(pricing.EU) and all(p > 0 for p in prices.values())
    assert table.volume_per_gb > 0 and table.primary_ip["ipv4"] > 0 and table.primary_ip["ipv6"] == 0
    assert 0 < table.backup_surcharge < 1
    assert "recorded 2026-11-27" in table.source and "compare_hetzner_prices.py" in table.source


def test_production_costs_its_server_backups_volume_and_address(stacks):
    lines = pricing.stack_lines(stacks[1], pricing.RECORDED)
    assert pricing.total(lines) == pytest.approx(ONE_SERVER)
    assert sorted(line.what for line in lines) == ["backups (+20%)", "primary IP (ipv4)", "primary IP (ipv6)",
                                                   "server cx32, fsn1", "volume 100 GB"]


def test_three_application_servers_add_their_servers_and_the_load_balancer(stacks):
    lines = pricing.stack_lines(stacks[3], pricing.RECORDED)
    assert pricing.total(lines) == pytest.approx(THREE_SERVERS)
    assert sum(1 for line in lines if line.what == "server cx32, fsn1") == 4
    assert [line.what for line in lines if line.what.startswith("load balancer")] == ["load balancer lb11, fsn1"]


def step(op: str, resource: dict | None, old: dict | None = None) -> auto.EngineEvent:
    subject = resource or old

    def state(r: dict | None) -> dict | None:
        return None if r is None else {"type": r["type"], "urn": r["urn"], "inputs": r["inputs"], "outputs": {},
                                       "custom": True, "id": "", "parent": "", "provider": ""}
    return auto.EngineEvent.from_json({"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": {
        "op": op, "urn": subject["urn"], "type": subject["type"], "provider": "", "old": state(old),
        "new": state(resource)}}})


def test_a_preview_from_one_to_three_servers_prices_what_it_creates(stacks):
    report = Report("production")
    before = {r["urn"]: r for r in stacks[1]}
    for resource in stacks[3]:
        old = before.get(resource["urn"])
        report.on_event(step("same" if old else "create", resource, old))
    cost = report.cost()
    assert cost["before"] == pytest.approx(ONE_SERVER) and cost["after"] == pytest.approx(THREE_SERVERS)
    assert cost["difference"] == pytest.approx(THREE_SERVERS - ONE_SERVER)
    assert cost["difference_gross"] == pytest.approx(round((THREE_SERVERS - ONE_SERVER) * 1.19, 2))
    assert {c["resource"] for c in cost["changes"]} == {"preflight-host-app1-server", "preflight-host-app2-server",
                                                        "preflight-host-app3-server", "preflight-lb"}
    markdown = report.markdown()
    assert "### Monthly cost (Hetzner, net)" in markdown and "| preflight-lb | create | 0.00 € | 5.39 € | +5.39 € |" in markdown
    assert "recorded table" in markdown and "traffic" in markdown
    assert json.loads(report.json())["cost"]["after"] == pytest.approx(THREE_SERVERS)


def test_a_server_replaced_with_a_bigger_type_costs_the_difference_with_its_backups(stacks):
    [server] = [r for r in stacks[1] if r["urn"].endswith("::preflight-host-server")]
    bigger = {**server, "inputs": {**server["inputs"], "serverType": "cx42"}}
    report = Report("production")
    report.on_event(step("replace", bigger, server))
    [change] = report.cost()["changes"]
    assert change["difference"] == pytest.approx((16.40 - 6.80) * 1.20)


def test_a_type_without_a_recorded_price_is_said_not_guessed():
    lines = pricing.price(pricing.SERVER, "s", {"serverType": "cpx31", "location": "ash"}, pricing.RECORDED)
    assert lines[0].net is None and lines[0].note == "no price for cpx31 in ash"


class FakeHetzner:
    """What hcloud.Client.request("GET", "/pricing") returns, in the API's own shape."""

    def request(self, method: str, url: str) -> dict:
        assert (method, url) == ("GET", "/pricing")
        def at(location: str, net: str) -> dict:
            return {"location": location, "price_hourly": {"net": "0.01", "gross": "0.0119"},
                    "price_monthly": {"net": net, "gross": str(round(float(net) * 1.19, 4))}}
        return {"pricing": {
            "currency": "EUR", "vat_rate": "19.00",
            "server_types": [{"id": 1, "name": "cx32", "prices": [at("fsn1", "7.1000"), at("ash", "8.0000")]}],
            "load_balancer_types": [{"id": 1, "name": "lb11", "prices": [at("fsn1", "5.8300")]}],
            "volume": {"price_per_gb_month": {"net": "0.0500", "gross": "0.0595"}},
            "primary_ips": [{"type": "ipv4", "prices": [at("fsn1", "0.6000")]}],
            "server_backup": {"percentage": "20.0000"},
        }}


def test_prices_come_from_the_api_when_it_answers():
    table = pricing.from_api(FakeHetzner())
    assert table.source.startswith("Hetzner's pricing API")
    lines = pricing.price(pricing.SERVER, "s", {"serverType": "cx32", "location": "ash", "backups": True}, table)
    assert [line.net for line in lines] == [8.0, 1.6]
    assert table.volume_per_gb == 0.05 and table.primary_ip == {"ipv4": 0.6, "ipv6": 0.0}


def test_without_a_token_or_an_answer_the_recorded_table_is_used_and_the_report_says_so():
    assert pricing.current_table(None) is pricing.RECORDED


def test_an_api_that_does_not_answer_leaves_the_recorded_table_and_says_why():
    class Down:
        def request(self, method: str, url: str) -> dict:
            raise ConnectionError("no route to api.hetzner.cloud")

    table = pricing.current_table("token", client=Down())
    assert table.server == pricing.RECORDED.server and table.source.endswith("the API did not answer (ConnectionError)")


def test_deleting_the_load_balancer_takes_its_price_off_the_bill(stacks):
    [balancer] = [r for r in stacks[3] if r["type"] == pricing.LOAD_BALANCER]
    report = Report("production")
    report.on_event(step("delete", None, balancer))
    assert report.cost()["difference"] == pytest.approx(-5.39)
    assert report.cost()["difference_gross"] == pytest.approx(round(-5.39 * 1.19, 2))
