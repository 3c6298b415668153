"""The preview report of `python -m deploy`, rendered from engine event streams recorded from real
runs (tests/unit/fixtures/record_events.py made them): an image bump on the deployed local stack,
and the misconfigured production copy the policy pack refuses."""

from __future__ import annotations

import json
from pathlib import Path

from pulumi import automation as auto

from deploy.report import Report

FIXTURES = Path(__file__).parent / "fixtures"


def replayed(name: str) -> Report:
    report = Report("local")
    for event in json.loads((FIXTURES / name).read_text()):
        report.on_event(auto.EngineEvent.from_json(event))
    return report


def test_an_image_bump_replaces_exactly_the_app_and_its_migration_with_reasons():
    report = replayed("image-bump-events.json")
    steps = {s.name: s for s in report.steps}
    assert set(steps) == {"preflight-api-image", "preflight-api-migrate", "preflight-api"}
    assert steps["preflight-api"].op == "replace" and "image" in steps["preflight-api"].replace_reasons
    assert steps["preflight-api-migrate"].replace_reasons == ["image"]
    assert report.dangerous == [] and report.violations == []
    markdown = report.markdown()
    assert "Stateful resources" not in markdown
    assert "| preflight-api | docker:index/container:Container | replace | envs, image |" in markdown


def test_policy_violations_are_reported_by_rule_resource_and_level():
    report = replayed("refused-events.json")
    found = {(v.rule, v.resource, v.level) for v in report.violations}
    assert {("PF-DATA-001", "preflight-postgres", "mandatory"), ("PF-CTR-002", "preflight-redis", "mandatory"),
            ("PF-CTR-006", "preflight-api-image", "mandatory"), ("PF-SEC-004", "preflight-api", "mandatory")} <= found
    assert len(report.mandatory) == len(report.violations)
    markdown = report.markdown()
    assert "| PF-DATA-001 | preflight-postgres | mandatory | remove the published ports" in markdown
    data = json.loads(report.json())
    assert {v["rule"] for v in data["violations"]} >= {"PF-DATA-001", "PF-SEC-004"}


def test_a_stateful_replacement_is_flagged_before_everything_else():
    report = replayed("image-bump-events.json")
    report.on_event(auto.EngineEvent.from_json({"sequence": 99, "timestamp": 0, "resourcePreEvent": {"metadata": {
        "op": "replace", "urn": "urn:pulumi:local::preflight::docker:index/volume:Volume::preflight-postgres-data",
        "type": "docker:index/volume:Volume", "provider": "", "keys": ["driver"], "diffs": ["driver"]}}}))
    markdown = report.markdown()
    assert [s.name for s in report.dangerous] == ["preflight-postgres-data"]
    assert markdown.index("**replace** `preflight-postgres-data`") < markdown.index("### Changes")
    assert "because of: driver" in markdown


def container_replaced(name: str, role: str) -> auto.EngineEvent:
    labels = [{"label": "preflight.role", "value": role}, {"label": "preflight.stack", "value": "local"}]
    state = {"type": "docker:index/container:Container", "urn": f"urn:pulumi:local::preflight::x::{name}",
             "inputs": {"labels": labels}, "outputs": {}, "custom": True, "id": "", "parent": "", "provider": ""}
    return auto.EngineEvent.from_json({"sequence": 98, "timestamp": 0, "resourcePreEvent": {"metadata": {
        "op": "replace", "urn": f"urn:pulumi:local::preflight::docker:index/container:Container::{name}",
        "type": "docker:index/container:Container", "provider": "", "keys": ["image"], "diffs": ["image"],
        "old": state, "new": state}}})


def test_stateful_containers_are_known_by_their_role_label_not_their_name():
    report = Report("local")
    report.on_event(container_replaced("main-db", "database"))
    report.on_event(container_replaced("preflight-postgres-exporter", "service"))
    assert [s.name for s in report.dangerous] == ["main-db"]
