"""Enforcement by stack comes from the config files; waivers need a resource and a written reason;
the shipped local stack passes every rule."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.mocks import build_stack
from tests.stack_config import CLOUD_SECRETS, stack_config

from .fixtures import production
from .harness import ALL_RULES, POLICIES, Pack, Res, load_config, mutated
from .test_rules import env

CONFIG_FILES = sorted((POLICIES / "config").glob("*.json"))
LEVELS = {"advisory", "mandatory", "disabled", "remediate"}
CORS_STAR = env("CORS_ALLOWED_ORIGINS=*")


def config_errors(config: dict) -> list[str]:
    """What the engine would refuse in a `--policy-pack-config` file: unknown rules, bad levels,
    properties that do not match the rule's config schema."""
    schemas = {r.id: r.to_policy().config_schema for r in ALL_RULES}
    errors = []
    for key, value in config.items():
        if key == "all":
            errors += [] if value in LEVELS else [f"all: unknown level {value!r}"]
            continue
        if key not in schemas:
            errors.append(f"{key}: no such rule")
            continue
        entry = {"enforcementLevel": value} if isinstance(value, str) else dict(value)
        if entry.pop("enforcementLevel", "advisory") not in LEVELS:
            errors.append(f"{key}: unknown level")
        schema = {"type": "object", "properties": schemas[key].properties, "additionalProperties": False}
        errors += [f"{key}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(entry)]
    return errors


def test_each_stack_has_a_config_file():
    assert [f.stem for f in CONFIG_FILES] == ["local", "production", "staging"]


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.stem)
def test_shipped_config_files_are_valid(path):
    assert config_errors(json.loads(path.read_text())) == []


def test_production_is_mandatory_and_the_others_advisory():
    for stack, level in [("production", "mandatory"), ("staging", "advisory"), ("local", "advisory")]:
        outcome = Pack(stack).analyze(mutated(production(stack), "postgres", lambda r: r.props.update(
            ports=[{"internal": 5432, "external": 5432}])))
        assert [(v.rule, v.level) for v in outcome.violations] == [("PF-DATA-001", level)]


def test_a_waiver_with_a_reason_lifts_the_rule_for_that_resource_only():
    reason = "the legacy admin UI needs any origin until it moves behind SSO (ticket OPS-142)"
    config = {"all": "mandatory", "PF-SEC-004": {"waivers": [{"resource": "api", "reason": reason}]}}
    assert config_errors(config) == []
    pack = Pack("production", config)
    waived = pack.analyze(mutated(production(), "api", CORS_STAR))
    assert waived.violations == [] and reason in waived.not_applicable["PF-SEC-004"]
    other = mutated(production(), "backup", env("BACKUP_INTERVAL_S=3600", "BACKUP_RETENTION_DAYS=14",
                                                "CORS_ORIGINS=*"))
    assert pack.analyze(other).rules() == {"PF-SEC-004"}


@pytest.mark.parametrize("waiver", [{"resource": "api"}, {"resource": "api", "reason": ""},
                                    {"resource": "api", "reason": "          "}, {"reason": "no resource named"}])
def test_a_waiver_without_a_reason_is_refused_and_not_honoured(waiver):
    config = {"all": "mandatory", "PF-SEC-004": {"waivers": [waiver]}}
    assert config_errors(config), "the engine must refuse this config"
    assert Pack("production", config).analyze(mutated(production(), "api", CORS_STAR)).rules() == {"PF-SEC-004"}


def test_a_config_naming_an_unknown_rule_is_refused():
    assert config_errors({"PF-SEC-999": "mandatory"}) == ["PF-SEC-999: no such rule"]




def stack_resources(stack: str) -> list[Res]:
    """What a shipped stack registers, as the pack would see it at preview."""
    secrets = {} if stack == "local" else CLOUD_SECRETS
    built = build_stack(stack, {**stack_config(stack), **secrets}, secret_keys=frozenset(secrets))
    resources = []
    for r in built.mocks.resources:
        props = dict(r.inputs)
        if r.type == "docker:index/network:Network":
            props.setdefault("name", r.name)  # the engine autonames it; the mocks answer with the resource name
        resources.append(Res(r.type, r.name, props, protect=r.protect))
    return resources


def local_resources() -> list[Res]:
    return stack_resources("local")


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_shipped_cloud_stacks_break_no_mandatory_rule(stack):
    outcome = Pack(stack, load_config(stack)).analyze(stack_resources(stack))
    assert outcome.mandatory() == [], outcome.violations


def test_the_shipped_local_stack_breaks_no_rule():
    outcome = Pack("local", load_config("local")).analyze(local_resources())
    assert outcome.violations == []


def test_the_local_stack_under_production_enforcement_only_lacks_production_safeguards():
    """The same graph judged as production: only the production-only safeguards the local stack
    leaves out on purpose (protection, backups, an error-tracking DSN, a receiver for its alerts) may fail;
    everything else holds
    by construction."""
    resources = [Res(r.type, r.name, r.props, r.protect, r.deps) for r in local_resources()]
    for r in resources:
        r.props = json.loads(json.dumps(r.props).replace('"local"', '"production"'))
    outcome = Pack("production").analyze(resources)
    assert outcome.rules() <= {"PF-DATA-004", "PF-DATA-005", "PF-OBS-001", "PF-OBS-003"}, outcome.violations


def test_the_readme_table_is_generated_from_the_rules():
    import rules_table  # policies/ is on sys.path (harness)

    readme = (POLICIES.parent / "README.md").read_text()
    assert rules_table.table() in readme
    assert len(ALL_RULES) >= 25 and all(f"| {r.id} |" in readme for r in ALL_RULES)


def test_production_without_its_backup_job_is_refused():
    resources = [r for r in stack_resources("production")
                 if not (r.name == "preflight-backup" and r.type == "docker:index/container:Container")]
    outcome = Pack("production", load_config("production")).analyze(resources)
    assert {v.rule for v in outcome.mandatory()} == {"PF-DATA-005"}


def test_production_whose_backup_keeps_nothing_is_refused():
    resources = stack_resources("production")
    [job] = [r for r in resources if r.name == "preflight-backup" and r.type == "docker:index/container:Container"]
    job.props["envs"] = [e if not e.startswith("BACKUP_RETENTION_DAYS=") else "BACKUP_RETENTION_DAYS=0"
                         for e in job.props["envs"]]
    outcome = Pack("production", load_config("production")).analyze(resources)
    assert [(v.rule, v.resource) for v in outcome.mandatory()] == [("PF-DATA-005", "preflight-backup")]
