"""What a reviewer needs from a preview, collected from the engine's events: the change summary,
each step with its operation and the properties that force a replacement, stateful resources
that would be replaced or deleted (at the top), and policy violations. Never a value: only
names of properties, resources and rules."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from pulumi import automation as auto

from . import pricing

# Resources whose replacement or deletion loses data or addresses unless someone planned it.
STATEFUL_TYPES = {"docker:index/volume:Volume", "hcloud:index/server:Server", "hcloud:index/volume:Volume",
                  "hcloud:index/primaryIp:PrimaryIp"}
STATEFUL_ROLES = ("database", "cache")  # containers, by their preflight.role label (as the policy pack finds them)
DESTRUCTIVE = {auto.OpType.REPLACE, auto.OpType.CREATE_REPLACEMENT, auto.OpType.DELETE_REPLACED,
               auto.OpType.DELETE}


@dataclass
class Step:
    name: str
    type: str
    op: str
    replace_reasons: list[str] = field(default_factory=list)  # property names that force the replacement
    changed: list[str] = field(default_factory=list)  # property names that change
    role: str = ""  # a container's preflight.role label

    @property
    def stateful(self) -> bool:
        return self.type in STATEFUL_TYPES or (self.type == "docker:index/container:Container" and
                                               self.role in STATEFUL_ROLES)


def role_of(meta: auto.StepEventMetadata) -> str:
    """The preflight.role label of the resource's new inputs (or old ones, for a deletion)."""
    for state in (meta.new, meta.old):
        for label in ((state.inputs or {}).get("labels") or []) if state else []:
            if isinstance(label, dict) and label.get("label") == "preflight.role":
                return str(label.get("value") or "")
    return ""


@dataclass
class Violation:
    rule: str
    resource: str
    level: str
    message: str


@dataclass
class Report:
    stack: str
    summary: dict[str, int] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    failed: str | None = None
    prices: pricing.PriceTable = pricing.RECORDED
    costs: list[pricing.Change] = field(default_factory=list)  # every priced resource, unchanged ones too

    @property
    def dangerous(self) -> list[Step]:
        return [s for s in self.steps if s.stateful and s.op in {op.value for op in DESTRUCTIVE}]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    def count(self, change_summary) -> None:
        """The engine's change summary, operation names as plain text."""
        self.summary = {getattr(op, "value", str(op)): n for op, n in change_summary.items()}

    def on_event(self, event: auto.EngineEvent) -> None:
        if event.resource_pre_event:
            meta = event.resource_pre_event.metadata
            priced = pricing.change(meta.op.value, meta.type, meta.urn.split("::")[-1],
                                    meta.old.inputs if meta.old else None, meta.new.inputs if meta.new else None,
                                    self.prices)
            if priced:
                self.costs.append(priced)
            if meta.op in (auto.OpType.SAME, auto.OpType.READ) or meta.type.startswith(("pulumi:", "preflight:")):
                return  # the stack, providers and our components hold nothing themselves
            if meta.op == auto.OpType.DELETE_REPLACED or meta.op == auto.OpType.CREATE_REPLACEMENT:
                return  # the REPLACE step of the same resource says it all
            self.steps.append(Step(meta.urn.split("::")[-1], meta.type, meta.op.value,
                                   sorted(meta.keys or []) if meta.op == auto.OpType.REPLACE else [],
                                   sorted(meta.diffs or []), role_of(meta)))
        elif event.policy_event:
            policy = event.policy_event
            resource = (policy.resource_urn or "the stack").split("::")[-1]
            self.violations.append(Violation(policy.policy_name, resource, policy.enforcement_level,
                                             policy.message.strip().splitlines()[-1]))

    def cost(self) -> dict:
        """The stack's monthly Hetzner bill before and after this preview, and what changes it."""
        before = round(sum(pricing.total(c.before) for c in self.costs), 2)
        after = round(sum(pricing.total(c.after) for c in self.costs), 2)
        changed = [c for c in self.costs if c.difference or c.op in ("create", "delete", "replace")]
        return {"source": self.prices.source, "currency": "EUR", "before": before, "after": after,
                "difference": round(after - before, 2), "difference_gross": pricing.gross(after - before),
                "after_gross": pricing.gross(after),
                "changes": [{"resource": c.resource, "op": c.op, "before": pricing.total(c.before),
                             "after": pricing.total(c.after), "difference": c.difference} for c in changed],
                "not_priced": sorted({line.note for c in self.costs for line in c.before + c.after if line.note}),
                "excluded": "traffic beyond the included quota; anything outside Hetzner"}

    def cost_markdown(self) -> list[str]:
        if not self.costs:
            return []
        cost = self.cost()
        lines = ["### Monthly cost (Hetzner, net)", ""]
        if cost["changes"]:
            lines += ["| resource | change | before | after | difference |", "| --- | --- | --- | --- | --- |"]
            lines += [f"| {c['resource']} | {c['op']} | {pricing.euros(c['before'])} | {pricing.euros(c['after'])} | "
                      f"{pricing.euros(c['difference'], signed=True)} |" for c in cost["changes"]]
            lines.append("")
        lines += [f"**{pricing.euros(cost['before'])} -> {pricing.euros(cost['after'])} a month "
                  f"({pricing.euros(cost['difference'], signed=True)} net, "
                  f"{pricing.euros(cost['difference_gross'], signed=True)} with {pricing.VAT:.0%} VAT)**; "
                  f"prices: {cost['source']}; not included: {cost['excluded']}."]
        lines += [f"- not priced: {note}" for note in cost["not_priced"]]
        return lines + [""]

    def markdown(self) -> str:
        lines = [f"## Preview of `{self.stack}`", ""]
        if self.failed:
            lines += [f"**The preview failed:** {self.failed}", ""]
        if self.dangerous:
            lines += ["### ⚠ Stateful resources replaced or deleted", ""]
            lines += [f"- **{s.op}** `{s.name}` ({s.type})" + (f", because of: {', '.join(s.replace_reasons)}"
                                                            if s.replace_reasons else "") for s in self.dangerous]
            lines.append("")
        lines += ["### Changes", "", ", ".join(f"{n} {op}" for op, n in sorted(self.summary.items())) or "none", ""]
        if self.steps:
            lines += ["| resource | type | operation | replaced because of | changes |", "| --- | --- | --- | --- | --- |"]
            lines += [f"| {s.name} | {s.type} | {s.op} | {', '.join(s.replace_reasons)} | {', '.join(s.changed)} |"
                      for s in self.steps]
            lines.append("")
        lines += self.cost_markdown()
        lines += ["### Policy violations", ""]
        if self.violations:
            lines += ["| rule | resource | level | what to change |", "| --- | --- | --- | --- |"]
            lines += [f"| {v.rule} | {v.resource} | {v.level} | {v.message} |" for v in self.violations]
        else:
            lines.append("none")
        return "\n".join(lines) + "\n"

    def json(self) -> str:
        data = asdict(self)
        data.pop("prices"), data.pop("costs")
        data["dangerous"] = [s.name for s in self.dangerous]
        if self.costs:
            data["cost"] = self.cost()
        return json.dumps(data, indent=2) + "\n"
