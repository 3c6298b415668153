"""The project's import graph: product code depends on nothing setup-only, and nothing imports in
a circle (read from the source, so a lazy import inside a function counts too; imports only the
type checker sees, under `if TYPE_CHECKING:`, do not)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("components", "deploy", "bench", "scripts")
PRODUCT = ("components", "deploy")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
            if "venv" not in path.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    type_only = {id(child) for node in ast.walk(tree) if isinstance(node, ast.If) and
                 isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" for child in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue  # `if TYPE_CHECKING:` imports are for the type checker; nothing runs them
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {target for target in targets if target in known and target != name}
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_nothing_imports_in_a_circle():
    assert cycles(graph()) == []


def test_the_product_imports_nothing_setup_only():
    leaks = {name: sorted(t for t in targets if t.split(".")[0] not in PRODUCT)
             for name, targets in graph().items() if name.split(".")[0] in PRODUCT}
    assert {name: targets for name, targets in leaks.items() if targets} == {}


def test_no_module_edits_the_import_path():
    edited = [str(path.relative_to(ROOT)) for path in [*modules().values(), *(ROOT / "policies").glob("*.py")]
              if "sys.path" in path.read_text()]
    assert edited == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
