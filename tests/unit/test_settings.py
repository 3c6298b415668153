"""Bad stack config stops the program with one message per problem, naming the setting and fix."""

from __future__ import annotations

import pytest

from components.settings import ConfigSecret, SettingsError, looks_secret, parse_settings
from tests.stack_config import stack_config


def problems(raw, stack="local", secret_keys=()):
    with pytest.raises(SettingsError) as caught:
        parse_settings(stack, raw, set(secret_keys))
    return caught.value.problems


@pytest.fixture
def local():
    return stack_config("local")


def test_shipped_local_stack_is_valid(local):
    settings, secrets = parse_settings("local", local, set())
    assert settings.environment == "local"
    assert settings.service_order == ["api"]
    assert settings.hostname(settings.services["api"].route) == "api.preflight.localhost"
    assert secrets == {}


def test_wrong_type_names_the_setting(local):
    local["services"]["api"]["port"] = "eighty"
    [problem] = problems(local)
    assert problem.startswith("preflight:services.api.port:")
    assert "'eighty'" in problem and "integer" in problem


def test_out_of_range_port(local):
    local["services"]["api"]["port"] = 70000
    [problem] = problems(local)
    assert problem.startswith("preflight:services.api.port:") and "65535" in problem


def test_missing_required_value(local):
    del local["domain"]
    [problem] = problems(local)
    assert problem == "preflight:domain: it is required; add it to Pulumi.local.yaml"


def test_missing_healthcheck_is_refused(local):
    del local["services"]["api"]["healthcheck"]
    [problem] = problems(local)
    assert problem.startswith("preflight:services.api.healthcheck: it is required")


def test_unknown_service_in_depends_on(local):
    local["services"]["worker"] = {**local["services"]["api"], "route": None, "depends_on": ["apii"]}
    [problem] = problems(local)
    assert problem == "preflight:services.worker.depends_on: unknown service apii; use one of: api"


def test_depends_on_cycle(local):
    local["services"]["api"]["depends_on"] = ["worker"]
    local["services"]["worker"] = {**local["services"]["api"], "route": None, "depends_on": ["api"]}
    [problem] = problems(local)
    assert "depends_on forms a cycle (api -> worker -> api)" in problem


def test_misspelled_setting_inside_a_service(local):
    local["services"]["api"]["helthcheck"] = local["services"]["api"]["healthcheck"]
    [problem] = problems(local)
    assert problem == ("preflight:services.api.helthcheck: it is not a known setting; remove it or fix its spelling")


def test_unknown_top_level_key(local):
    local["databse"] = {"pool_size": 3}
    [problem] = problems(local)
    assert problem.startswith("preflight:databse is not a known setting; remove it or fix its spelling")


def test_secret_looking_env_in_plain_text(local):
    local["services"]["api"]["env"]["STRIPE_API_KEY"] = "sk_live_123"
    [problem] = problems(local)
    assert problem.startswith("preflight:services.api.env: STRIPE_API_KEY looks like a secret but is set in plain text")
    assert "secret_env" in problem and "sk_live_123" not in problem


def test_secret_looking_top_level_key_in_plain_text(local):
    local["smtpPassword"] = "hunter2"
    [problem] = problems(local)
    assert "preflight:smtpPassword looks like a secret but is set in plain text" in problem
    assert "pulumi config set --secret preflight:smtpPassword <value> --stack local" in problem
    assert "hunter2" not in problem


def test_missing_config_secret_gives_the_command(local):
    local["secrets"]["stripe"] = {"source": "config", "key": "stripeApiKey"}
    [problem] = problems(local)
    assert problem == ("preflight:stripeApiKey (secret stripe) is required but not set; run "
                       "`pulumi config set --secret preflight:stripeApiKey <value> --stack local`")


def test_config_secret_set_as_secret_is_returned(local):
    local["secrets"]["stripe"] = {"source": "config", "key": "stripeApiKey"}
    local["stripeApiKey"] = "sk_test_abc"
    settings, values = parse_settings("local", local, {"stripeApiKey"})
    assert isinstance(settings.secrets["stripe"], ConfigSecret)
    assert values == {"stripe": "sk_test_abc"}


def test_secret_env_must_reference_a_declared_secret(local):
    local["services"]["api"]["secret_env"]["SESSION_KEY"] = "session_key"
    [problem] = problems(local)
    assert problem.startswith("preflight:services.api.secret_env: unknown secret session_key; declare it under "
                              "preflight:secrets (known: jwt_secret)")


def test_generated_secret_shorter_than_32_is_refused(local):
    local["secrets"]["jwt_secret"]["length"] = 16
    [problem] = problems(local)
    assert problem.startswith("preflight:secrets.jwt_secret.length:") and "32" in problem


def test_unknown_secret_source(local):
    local["secrets"]["jwt_secret"]["source"] = "vault"
    [problem] = problems(local)
    assert problem == "preflight:secrets.jwt_secret: set 'source' to one of: 'generated', 'config'"


def test_environment_must_match_stack(local):
    local["environment"] = "production"
    [problem] = problems(local)
    assert problem.startswith("preflight:environment: stack local must have environment local, not production")


def test_unknown_host_kind(local):
    local["host"] = {"kind": "kubernetes"}
    [problem] = problems(local)
    assert problem == "preflight:host: set 'kind' to one of: 'local', 'hetzner', 'ssh'"


def test_route_without_port(local):
    del local["services"]["api"]["port"]
    [problem] = problems(local)
    assert problem.startswith("preflight:services.api: route is set but port is not")


def test_malformed_image_reference(local):
    local["services"]["api"]["image"] = "Preflight App:latest"
    [problem] = problems(local)
    assert problem.startswith("preflight:services.api.image: use a value matching")


def test_redis_maxmemory_must_fit_its_memory_limit(local):
    local["cache"] = {"maxmemory_mb": 512, "limits": {"memory_mb": 256, "cpus": 0.5}}
    [problem] = problems(local)
    assert problem.startswith("preflight:cache: maxmemory_mb (512) must be below limits.memory_mb (256)")


def test_two_services_on_one_route(local):
    local["services"]["web"] = dict(local["services"]["api"])
    [problem] = problems(local)
    assert problem.startswith("preflight:services.web.route: api.preflight.localhost/ is already routed to api")


def test_platform_secret_names_are_reserved(local):
    local["secrets"]["postgres_password"] = {"source": "generated"}
    [problem] = problems(local)
    assert problem.startswith("preflight:secrets.postgres_password: postgres_password is generated by the platform")


def test_a_user_secret_named_like_the_generated_backup_password_is_refused_with_both_fixes(local):
    local["secrets"]["backup_password"] = {"source": "generated"}
    [problem] = problems(local)
    assert problem.startswith("preflight:secrets.backup_password: backup_password is the name of the backup "
                              "repository password the platform generates")
    assert "preflight:backup.password_secret: backup_password" in problem
    local["backup"] = {**local.get("backup", {}), "password_secret": "backup_password"}
    settings, _ = parse_settings("local", local, set())  # named as the repository's password on purpose
    assert settings.backup.password_secret == "backup_password"


def test_all_problems_are_reported_at_once(local):
    local["services"]["api"]["port"] = -1
    local["domain"] = "not a domain"
    local["smtpPassword"] = "x"
    error_problems = problems(local)
    assert len(error_problems) == 3
    message = str(SettingsError("local", error_problems))
    assert message.startswith("stack 'local' has 3 config problems:")


def test_settings_error_is_reported_without_a_stack_trace():
    import pulumi

    # The Python language host prints a RunError's message alone, with no traceback.
    assert issubclass(SettingsError, pulumi.RunError)


@pytest.mark.parametrize("key", ["JWT_SECRET", "DB_PASSWORD", "stripeApiKey", "GITHUB_TOKEN", "SENTRY_DSN",
                                 "privateKey", "AWS_SECRET_ACCESS_KEY"])
def test_secret_looking_names(key):
    assert looks_secret(key)


@pytest.mark.parametrize("key", ["LOG_LEVEL", "PORT", "domain", "services", "KEYBOARD_LAYOUT", "TOKENIZER_MODEL"])
def test_ordinary_names(key):
    assert not looks_secret(key)
