"""Drive the policy pack through the same gRPC servicer the engine talks to, without the engine.

Resources go in as the engine sends them (protobuf Structs with camelCase inputs, unknown-value
sentinels, options, property dependencies); diagnostics come out as the engine receives them.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

POLICIES = Path(__file__).resolve().parents[2] / "policies"
sys.path.insert(0, str(POLICIES))

from rules import ALL_RULES  # noqa: E402

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's "unknown string at preview" sentinel
LEVELS = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "disabled": proto.DISABLED}
LEVEL_NAMES = {v: k for k, v in LEVELS.items()}


@dataclass
class Res:
    type: str
    name: str
    props: dict[str, Any]
    protect: bool = False
    deps: dict[str, list[str]] = field(default_factory=dict)  # property -> names of resources it depends on

    def urn(self, stack: str) -> str:
        return f"urn:pulumi:{stack}::preflight::{self.type}::{self.name}"


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    resource: str
    level: str


@dataclass
class Outcome:
    violations: list[Violation]
    not_applicable: dict[str, str]

    def rules(self) -> set[str]:
        return {v.rule for v in self.violations}

    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]


def load_config(stack: str) -> dict[str, Any]:
    return json.loads((POLICIES / "config" / f"{stack}.json").read_text())


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(value, message)
    return message


class Pack:
    """The preflight pack configured as `--policy-pack-config policies/config/<config>.json` would."""

    def __init__(self, stack: str, config: dict[str, Any] | None = None):
        self.stack = stack
        self.servicer = _PolicyAnalyzerServicer("preflight", "0.1.0", [r.to_policy() for r in ALL_RULES],
                                                EnforcementLevel.ADVISORY)
        config = load_config(stack) if config is None else config
        request = proto.ConfigureAnalyzerRequest()
        for rule in ALL_RULES:  # the engine expands "all" into one entry per policy
            entry = config.get(rule.id, {})
            level = entry if isinstance(entry, str) else entry.get("enforcementLevel", config.get("all", "advisory"))
            properties = {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, dict) else {}
            request.policyConfig[rule.id].CopyFrom(proto.PolicyConfig(enforcementLevel=LEVELS[level],
                                                                      properties=struct(properties)))
        self.servicer.Configure(request, None)

    def _options(self, res: Res) -> proto.AnalyzerResourceOptions:
        return proto.AnalyzerResourceOptions(protect=res.protect)

    def _outcome(self, response, names: dict[str, str]) -> Outcome:
        violations = [Violation(d.policyName, d.message, names.get(d.urn, d.urn), LEVEL_NAMES[d.enforcementLevel])
                      for d in response.diagnostics]
        return Outcome(violations, {n.policy_name: n.reason for n in response.not_applicable})

    def analyze(self, resources: list[Res]) -> Outcome:
        """Every resource through Analyze, then the whole set through AnalyzeStack, as a preview does."""
        names = {r.urn(self.stack): r.name for r in resources}
        urns = {r.name: r.urn(self.stack) for r in resources}
        combined = Outcome([], {})
        for res in resources:
            response = self.servicer.Analyze(proto.AnalyzeRequest(
                type=res.type, name=res.name, urn=urns[res.name], properties=struct(res.props),
                options=self._options(res)), None)
            self._merge(combined, self._outcome(response, names))
        stack_request = proto.AnalyzeStackRequest(resources=[
            proto.AnalyzerResource(
                type=r.type, name=r.name, urn=urns[r.name], properties=struct(r.props), options=self._options(r),
                dependencies=sorted({urns[d] for deps in r.deps.values() for d in deps}),
                propertyDependencies={k: proto.AnalyzerPropertyDependencies(urns=[urns[d] for d in v])
                                      for k, v in r.deps.items()})
            for r in resources])
        self._merge(combined, self._outcome(self.servicer.AnalyzeStack(stack_request, None), names))
        return combined

    @staticmethod
    def _merge(into: Outcome, outcome: Outcome) -> None:
        into.violations += outcome.violations
        into.not_applicable.update(outcome.not_applicable)


def mutated(resources: list[Res], name: str, change: Callable[[Res], Any]) -> list[Res]:
    """A deep copy of `resources` with `change` applied to the one named `name`."""
    copies = copy.deepcopy(resources)
    [target] = [r for r in copies if r.name == name]
    change(target)
    return copies
