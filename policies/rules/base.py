"""What every preflight rule is made of, and how a rule becomes a CrossGuard policy.

A rule's check reads resource inputs and yields one message per violation, each saying what to
change. The policy wrapper adds what every rule shares: the resource-type filter, production-only
scope, waivers from the pack config, and unknown-at-preview handling. Violations found before the
first unknown value are real and are reported; if an unknown value stops the check before any
violation was found, the rule is not applicable — never a false pass and never a false failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PRODUCTION = "production"

WAIVER_SCHEMA = PolicyConfigSchema(properties={
    "waivers": {
        "type": "array",
        "description": "Resources this rule does not apply to, each with the reason it is accepted.",
        "items": {
            "type": "object",
            "properties": {
                "resource": {"type": "string", "minLength": 1,
                             "description": "The resource's name or URN."},
                "reason": {"type": "string", "pattern": "\\S", "minLength": 10,
                           "description": "Why the violation is accepted; reviewers read this."},
            },
            "required": ["resource", "reason"],
            "additionalProperties": False,
        },
    },
})

ResourceCheck = Callable[[Mapping[str, Any]], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    id: str
    concern: str
    description: str
    severity: Severity
    checklist: str  # the checklist item the rule comes from, in the checklist's words
    resource_types: tuple[str, ...] = ()  # empty: a stack rule
    production_only: bool = False
    takes_args: bool = False  # the check takes the whole ResourceValidationArgs (type, options), not just props
    check: Callable[..., Iterable[Any]] = field(default=lambda *_: (), compare=False, repr=False)

    @property
    def is_stack_rule(self) -> bool:
        return not self.resource_types

    def to_policy(self):
        tags = [self.concern, "production-only" if self.production_only else "all-stacks"]
        common = dict(name=self.id, description=self.description, severity=self.severity,
                      config_schema=WAIVER_SCHEMA, tags=tags, remediation_steps=self.checklist)
        if self.is_stack_rule:
            return StackValidationPolicy(validate=self._validate_stack, **common)
        return ResourceValidationPolicy(validate=self._validate_resource, **common)

    def _validate_resource(self, args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type not in self.resource_types:
            return
        self._skip_if_out_of_scope(args, stack_of(args.urn))
        waiver = find_waiver(args.get_config(), args.name, args.urn)
        if waiver:
            args.not_applicable(f"waived for {args.name}: {waiver}")
        messages, unknown = collect(lambda: self.check(args if self.takes_args else args.props))
        for message in messages:
            report(message, args.urn)
        if unknown and not messages:
            args.not_applicable(f"unknown at preview: {unknown}")

    def _validate_stack(self, args: StackValidationArgs, report: ReportViolation) -> None:
        if args.resources:
            self._skip_if_out_of_scope(args, stack_of(args.resources[0].urn))
        config = args.get_config()
        findings, unknown = collect(lambda: self.check(args.resources))
        reported = 0
        for message, resource in findings:
            if not find_waiver(config, resource.name, resource.urn):
                report(message, resource.urn)
                reported += 1
        if unknown and not reported:
            args.not_applicable(f"unknown at preview: {unknown}")

    def _skip_if_out_of_scope(self, args, stack: str) -> None:
        if self.production_only and stack != PRODUCTION:
            args.not_applicable(f"applies to the {PRODUCTION} stack only")


def rule_maker(concern: str, default_types: tuple[str, ...] = ()) -> Callable[..., Rule]:
    """A constructor for one concern's rules: positional id, description, severity, checklist, check."""
    def make(id: str, description: str, severity: Severity, checklist: str, check, types=default_types, **kw) -> Rule:
        return Rule(id, concern, description, severity, checklist, tuple(types), check=check, **kw)
    return make


def collect(run: Callable[[], Iterable[Any]]) -> tuple[list[Any], str | None]:
    """Everything `run` yields up to the first unknown value, and that value's description."""
    found: list[Any] = []
    try:
        for item in run():
            found.append(item)
    except UnknownValueError as unknown:
        return found, unknown.message
    return found, None


def find_waiver(config: Mapping[str, Any], name: str, urn: str) -> str | None:
    for waiver in (config or {}).get("waivers", []):
        reason = str(waiver.get("reason", "")).strip()
        if waiver.get("resource") in (name, urn) and reason:
            return reason
    return None


def stack_of(urn: str) -> str:
    """urn:pulumi:<stack>::<project>::<type>::<name>"""
    return urn.split("::", 1)[0].split(":")[-1]


# --- reading docker inputs -------------------------------------------------------------------

CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"

DATA_IMAGES = ("postgres", "postgis", "mysql", "mariadb", "mongo", "redis", "valkey", "memcached",
               "elasticsearch", "rabbitmq")
DATA_ROLES = ("database", "cache")


def number(value: Any) -> Any:
    """Protobuf carries every number as a double: show 5432.0 as 5432."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def env_items(props: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(KEY, value) per env entry, lazily: a check sees the entries before an unknown one."""
    for entry in props.get("envs") or []:
        key, _, value = entry.partition("=")
        yield key, value


def label_map(props: Mapping[str, Any]) -> dict[str, str]:
    return {item["label"]: item.get("value", "") for item in props.get("labels") or []}


def image_repository(reference: str) -> str:
    """'ghcr.io/acme/postgres:16@sha256:..' -> 'postgres' (the last path part, no tag or digest)."""
    without_digest = reference.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def role(props: Mapping[str, Any]) -> str:
    """The container's job: the preflight.role label, else inferred from a known image."""
    labelled = label_map(props).get("preflight.role")
    if labelled:
        return labelled
    repository = image_repository(props.get("image") or "")
    if repository in DATA_IMAGES:
        return "cache" if repository in ("redis", "valkey", "memcached") else "database"
    return "service"


def is_data_container(props: Mapping[str, Any]) -> bool:
    return role(props) in DATA_ROLES


def is_one_shot(props: Mapping[str, Any]) -> bool:
    """A job that runs to completion (a migration, a backup run), not a long-running service."""
    return bool(props.get("attach")) or props.get("restart") == "no" and not props.get("mustRun", True)


def long_running(check: ResourceCheck) -> ResourceCheck:
    def guarded(props: Mapping[str, Any]) -> Iterator[str]:
        if not is_one_shot(props):
            yield from check(props)
    return guarded


def of_type(resources: Sequence[PolicyResource], *types: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type in types]


def referrers(resources: Sequence[PolicyResource], prop: str | None = None) -> dict[str, list[PolicyResource]]:
    """URN -> the resources among `resources` that name it in property `prop` (any property when
    None): a resource that takes another's id or name depends on it through that property."""
    by_urn: dict[str, list[PolicyResource]] = {}
    for resource in resources:
        for name, deps in resource.property_dependencies.items():
            if prop is None or name == prop:
                for dep in deps:
                    by_urn.setdefault(dep.urn, []).append(resource)
    return by_urn
